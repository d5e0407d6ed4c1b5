# services.ollama, services.openssh, services.xserver.videoDrivers, virtualisation.docker (nixpkgs modules of those names).
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption types;
  opt = type: default: description: mkOption { inherit type default description; };
  bool = default: opt types.bool default;
  ollama = config.services.ollama;
  sshSettings = { ... }: {
    freeformType = types.attrsOf types.anything;
    options = {
      PermitRootLogin = opt (types.enum [ "yes" "without-password" "prohibit-password" "forced-commands-only" "no" ])
        "prohibit-password" "Whether root may log in over SSH.";
      PasswordAuthentication = bool true "Allow password authentication.";
      KbdInteractiveAuthentication = bool true "Allow keyboard-interactive authentication.";
      X11Forwarding = bool false "Allow X11 forwarding.";
      UseDns = bool false "Look up remote host names.";
      LogLevel = opt (types.nullOr types.str) "INFO" "sshd log level.";
      GatewayPorts = opt types.str "no" "Allow remote forwards to bind non-loopback addresses.";
      AllowUsers = opt (types.nullOr (types.listOf types.str)) null "Only these users may log in.";
      AllowGroups = opt (types.nullOr (types.listOf types.str)) null "Only members of these groups may log in.";
    };
  };
in
{
  options.services = {
    ollama = {
      enable = lib.mkEnableOption "ollama server for local large language models";
      package = lib.mkPackageOption pkgs "ollama" { };
      user = opt (types.nullOr types.str) null "User running ollama (null: DynamicUser).";
      group = opt (types.nullOr types.str) ollama.user "Group running ollama (default: the user).";
      home = opt types.str "/var/lib/ollama" "Working and home directory of the service.";
      models = opt types.str "${ollama.home}/models" "Directory models are read from and pulled into.";
      host = opt types.str "127.0.0.1" "Address the HTTP API listens on.";
      port = opt types.port 11434 "Port the HTTP API listens on.";
      acceleration = opt (types.nullOr (types.enum [ false "rocm" "cuda" "vulkan" ])) null
        "GPU interface (null: from nixpkgs.config, false: CPU only).";
      rocmOverrideGfx = opt (types.nullOr types.str) null "HSA_OVERRIDE_GFX_VERSION for ROCm.";
      environmentVariables = opt (types.attrsOf types.str) { } "Extra environment of the service.";
      loadModels = opt (types.listOf types.str) [ ] "Models pulled after the service started.";
      syncModels = bool false "Remove installed models not listed in loadModels.";
      openFirewall = bool false "Open the port in the firewall.";
    };
    openssh = {
      enable = lib.mkEnableOption "the OpenSSH secure shell daemon";
      openFirewall = bool true "Open the SSH ports in the firewall.";
      ports = opt (types.listOf types.port) [ 22 ] "Ports sshd listens on.";
      listenAddresses = opt (types.listOf (types.attrsOf types.anything)) [ ] "Addresses ({ addr, port }) sshd binds.";
      startWhenNeeded = bool false "Socket-activate sshd per connection.";
      allowSFTP = bool true "Enable the SFTP subsystem.";
      authorizedKeysFiles = opt (types.listOf types.str) [ ] "Extra AuthorizedKeysFile locations.";
      settings = opt (types.submodule sshSettings) { } "sshd_config settings.";
      extraConfig = opt types.lines "" "Verbatim lines appended to sshd_config.";
    };
    xserver = {
      enable = bool false "Enable the X server.";
      videoDrivers = opt (types.listOf types.str) [ "modesetting" "fbdev" ] "X video drivers (also selects nvidia).";
    };
  };
  options.virtualisation.docker = {
    enable = bool false "Enable the Docker daemon.";
    enableOnBoot = bool true "Start dockerd at boot.";
    enableNvidia = bool false "Enable the nvidia runtime (deprecated: hardware.nvidia-container-toolkit).";
    storageDriver = opt (types.nullOr types.str) null "Storage driver.";
    extraOptions = opt (types.separatedString " ") "" "Extra dockerd command-line options.";
    daemon.settings = opt (types.attrsOf types.anything) { } "daemon.json settings.";
  };
}
