# environment, fileSystems, swapDevices, boot, hardware, nixpkgs, nix, time, i18n, system (nixpkgs modules of those names).
{ lib, pkgs, ... }:
let
  inherit (lib) mkOption types;
  opt = type: default: description: mkOption { inherit type default description; };
  bool = default: opt types.bool default;
  strs = opt (types.listOf types.str) [ ];
  etcFile = { name, config, ... }: {
    options = {
      enable = bool true "Whether the file is created.";
      target = opt types.str name "Path relative to /etc.";
      text = opt (types.nullOr types.lines) null "Contents of the file.";
      source = mkOption { type = types.path; description = "File the /etc entry points to (set from text)."; };
      mode = opt types.str "symlink" "symlink, or an octal mode to copy the file with.";
      user = opt types.str "+0" "Owner of a copied file.";
      group = opt types.str "+0" "Group of a copied file.";
      uid = opt types.int 0 "Owner uid of a copied file.";
      gid = opt types.int 0 "Group gid of a copied file.";
    };
  };
  fileSystem = { name, ... }: {
    options = {
      mountPoint = opt types.str name "Mount point (default: the attribute name).";
      device = opt (types.nullOr types.nonEmptyStr) null "Device to mount.";
      fsType = opt types.nonEmptyStr "auto" "File system type.";
      options = opt (types.nonEmptyListOf types.nonEmptyStr) [ "defaults" ] "Mount options.";
      label = opt (types.nullOr types.str) null "Label of the device to mount.";
      neededForBoot = bool false "Mount in the initrd.";
      noCheck = bool false "Skip fsck.";
      depends = strs "Mount points that must be mounted first.";
    };
  };
  swapDevice = { ... }: {
    options = {
      device = mkOption { type = types.str; description = "Swap device or file."; };
      label = opt (types.nullOr types.str) null "Label of the swap device.";
      size = opt (types.nullOr types.int) null "Size in MiB of a swap file to create.";
      priority = opt (types.nullOr types.int) null "Swap priority.";
      discardPolicy = opt (types.nullOr (types.enum [ "once" "pages" "both" ])) null "Discard policy.";
      options = opt (types.nonEmptyListOf types.nonEmptyStr) [ "defaults" ] "Swap options.";
    };
  };
in
{
  options = {
    assertions = opt (types.listOf types.unspecified) [ ] "Conditions ({ assertion, message }) that must hold.";
    warnings = opt (types.listOf types.str) [ ] "Warnings printed when building.";
    environment = {
      systemPackages = opt (types.listOf types.package) [ ] "Packages in the system profile.";
      variables = opt (types.attrsOf (types.either types.str (types.listOf types.str))) { } "Global environment variables.";
      sessionVariables = opt (types.attrsOf (types.either types.str (types.listOf types.str))) { } "PAM session variables.";
      shellAliases = opt (types.attrsOf (types.nullOr (types.either types.str types.path))) { } "Shell aliases.";
      etc = opt (types.attrsOf (types.submodule etcFile)) { } "Files in /etc by path.";
    };
    fileSystems = opt (types.attrsOf (types.submodule fileSystem)) { } "File systems by mount point.";
    swapDevices = opt (types.listOf (types.submodule swapDevice)) [ ] "Swap devices.";
    boot = {
      loader.systemd-boot.enable = bool false "Use systemd-boot.";
      loader.systemd-boot.configurationLimit = opt (types.nullOr types.int) null "Boot entries kept.";
      loader.efi.canTouchEfiVariables = bool false "Let the installer change EFI variables.";
      loader.efi.efiSysMountPoint = opt types.str "/boot" "Mount point of the EFI system partition.";
      loader.grub.enable = bool true "Use GRUB.";
      loader.grub.device = opt types.str "" "Device GRUB is installed on.";
      loader.grub.devices = strs "Devices GRUB is installed on.";
      initrd.availableKernelModules = strs "Kernel modules available in the initrd.";
      initrd.kernelModules = strs "Kernel modules loaded in the initrd.";
      kernelModules = strs "Kernel modules loaded at boot.";
      blacklistedKernelModules = strs "Kernel modules never loaded.";
      extraModulePackages = opt (types.listOf types.package) [ ] "Packages with extra kernel modules.";
      kernelParams = strs "Kernel command line parameters.";
      kernel.sysctl = opt (types.attrsOf types.anything) { } "sysctl settings.";
      tmp.cleanOnBoot = bool false "Clean /tmp at boot.";
    };
    hardware = {
      nvidia = {
        modesetting.enable = bool false "Enable kernel modesetting for the NVIDIA driver.";
        open = opt (types.nullOr types.bool) null "Use the open kernel modules.";
        nvidiaSettings = bool true "Add nvidia-settings.";
        nvidiaPersistenced = bool false "Run nvidia-persistenced.";
        powerManagement.enable = bool false "Save VRAM to /tmp on suspend.";
        powerManagement.finegrained = bool false "Turn off the GPU when idle (PRIME offload).";
        package = mkOption ({ type = types.package; description = "The NVIDIA driver package."; }
          // lib.optionalAttrs (pkgs ? nvidia_x11) { default = pkgs.nvidia_x11; });
      };
      nvidia-container-toolkit.enable = bool false "Make NVIDIA GPUs available to containers (CDI).";
      graphics.enable = bool false "Enable the graphics drivers.";
      graphics.enable32Bit = bool false "Enable 32-bit graphics drivers.";
      cpu.amd.updateMicrocode = bool false "Update the AMD CPU microcode.";
      cpu.intel.updateMicrocode = bool false "Update the Intel CPU microcode.";
      enableRedistributableFirmware = bool false "Install firmware with a redistributable licence.";
      enableAllFirmware = bool false "Install all firmware, unfree included.";
    };
    nixpkgs.config = opt (types.attrsOf types.anything) { } "nixpkgs configuration (allowUnfree, cudaSupport, ...).";
    nixpkgs.hostPlatform = mkOption { type = types.either types.str (types.attrsOf types.anything);
      description = "Platform the system runs on, e.g. x86_64-linux."; };
    nix.settings = opt (types.attrsOf types.anything) { } "nix.conf settings.";
    nix.gc.automatic = bool false "Collect garbage periodically.";
    time.timeZone = opt (types.nullOr types.str) null "Time zone.";
    i18n.defaultLocale = opt types.str "en_US.UTF-8" "Default locale.";
    i18n.extraLocaleSettings = opt (types.attrsOf types.str) { } "Extra LC_* settings.";
    console.keyMap = opt types.str "us" "Console keymap.";
    security.sudo.enable = bool true "Enable sudo.";
    security.sudo.wheelNeedsPassword = bool true "Members of wheel need their password for sudo.";
    programs.zsh.enable = bool false "Enable zsh as a login shell.";
    system.stateVersion = opt types.str "25.05" "NixOS release the stateful data was created with.";
  };
}
