# hydra-compute as the audit found it (seed 000 §2.2): one Ollama instance on GPU 0, port 11434, no load balancer.
{ config, lib, pkgs, ... }:

{
  # --- imports: the deploy adds ./hydra-ops to this list ---
  imports = [ ./hardware-configuration.nix ];
  # --- end imports ---

  boot.loader.systemd-boot.enable = true;
  boot.loader.efi.canTouchEfiVariables = true;

  networking.hostName = "hydra-compute";
  networking.networkmanager.enable = true;
  time.timeZone = "America/Chicago";
  i18n.defaultLocale = "en_US.UTF-8";

  # NVIDIA driver for the two RTX 5070 Ti cards
  nixpkgs.config.allowUnfree = true;
  services.xserver.videoDrivers = [ "nvidia" ];
  hardware.graphics.enable = true;
  hardware.nvidia = {
    modesetting.enable = true;
    open = true;
    nvidiaSettings = false;
    powerManagement.enable = false;
  };

  users.users.typhon = {
    isNormalUser = true;
    description = "typhon";
    extraGroups = [ "wheel" "video" ];
  };

  services.openssh.enable = true;

  # Ollama: a single instance, GPU 0 only (the second GPU idles: gap G1)
  services.ollama = {
    enable = true;
    host = "0.0.0.0";
    port = 11434;
    acceleration = "cuda";
    environmentVariables = {
      CUDA_VISIBLE_DEVICES = "0";
      OLLAMA_FLASH_ATTENTION = "1";
    };
  };

  environment.systemPackages = with pkgs; [ curl python3 ];

  networking.firewall.allowedTCPPorts = [ 22 11434 ];

  nix.settings.experimental-features = [ "nix-command" "flakes" ];

  system.stateVersion = "24.11";
}
