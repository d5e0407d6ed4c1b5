# hydra-ai as the audit found it (seeds 000 and 002): RTX 5090 + RTX 4090, Ollama, and the operator's own TabbyAPI
# unit of seed 002 ("Stability Improvements", Dec 2025) running as the login user typhon from /opt/tabbyapi, models on
# the /mnt/models disk (hardware-configuration.nix). G10 stays open: the unit is not hydra-ops'.
{ config, lib, pkgs, ... }:

{
  # --- imports: the deploy adds ./hydra-ops to this list ---
  imports = [ ./hardware-configuration.nix ];
  # --- end imports ---

  boot.loader.systemd-boot.enable = true;
  boot.loader.efi.canTouchEfiVariables = true;

  networking.hostName = "hydra-ai";
  networking.networkmanager.enable = true;
  time.timeZone = "America/Chicago";
  i18n.defaultLocale = "en_US.UTF-8";

  # NVIDIA driver for the RTX 5090 (GPU 0) and RTX 4090 (GPU 1)
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

  # TabbyAPI as the operator set it up (seed 002, "Systemd Service Configuration")
  systemd.services.tabbyapi = {
    description = "TabbyAPI - OpenAI-compatible LLM API Server";
    after = [ "network.target" "mnt-models.mount" ];
    wantedBy = [ "multi-user.target" ];
    startLimitIntervalSec = 300;  # 5 min window
    startLimitBurst = 5;          # Max 5 restarts in window

    serviceConfig = {
      Type = "simple";
      User = "typhon";
      WorkingDirectory = "/opt/tabbyapi";
      ExecStartPre = "/opt/tabbyapi/prestart.sh";
      ExecStart = "/opt/tabbyapi/venv/bin/python /opt/tabbyapi/main.py";
      Restart = "on-failure";
      RestartSec = 30;            # Wait 30s between restarts
      TimeoutStartSec = 300;      # 5 min for model loading
      Environment = [
        "CUDA_DEVICE_ORDER=PCI_BUS_ID"
        "CUDA_VISIBLE_DEVICES=0,1"
        "PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True"
      ];
    };
  };

  # Ollama: a single instance on the 5090
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

  networking.firewall.allowedTCPPorts = [ 22 5000 11434 ];

  nix.settings.experimental-features = [ "nix-command" "flakes" ];

  system.stateVersion = "24.11";
}
