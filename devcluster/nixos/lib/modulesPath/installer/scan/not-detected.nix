# Stub of nixpkgs' installer/scan/not-detected.nix: enables redistributable firmware.
{ lib, ... }:
{
  hardware.enableRedistributableFirmware = lib.mkDefault true;
}
