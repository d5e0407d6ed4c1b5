# Option declaration modules transcribed from nixpkgs (names, types, defaults).
[
  ./systemd.nix
  ./nginx.nix
  ./networking.nix
  ./users.nix
  ./services.nix
  ./exporters.nix
  ./system.nix
]
