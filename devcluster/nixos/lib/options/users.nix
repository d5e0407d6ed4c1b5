# users.* (nixos/modules/config/users-groups.nix).
{ lib, pkgs, ... }:
let
  inherit (lib) mkOption types;
  opt = type: default: description: mkOption { inherit type default description; };
  bool = default: opt types.bool default;
  nullStr = opt (types.nullOr types.str) null;
  user = { name, config, ... }: {
    options = {
      name = opt (types.passwdEntry types.str) name "User name (default: the attribute name).";
      uid = opt (types.nullOr types.int) null "User ID (null: allocated).";
      isSystemUser = bool false "A system user (uid below 1000, no home by default).";
      isNormalUser = bool false "A normal user (uid from 1000, home under /home, group users).";
      group = opt types.str "" "Primary group.";
      extraGroups = opt (types.listOf types.str) [ ] "Supplementary groups.";
      description = opt (types.passwdEntry types.str) "" "GECOS field.";
      home = opt (types.passwdEntry types.path) "/var/empty" "Home directory.";
      homeMode = opt (types.strMatching "[0-7]{1,5}") "700" "Mode of a created home directory.";
      createHome = bool false "Create the home directory.";
      shell = mkOption ({ type = types.nullOr (types.either types.str types.package); description = "Login shell."; }
        // { default = pkgs.shadow or null; });
      hashedPassword = nullStr "Hashed password (crypt(3)).";
      password = nullStr "Clear-text password (world-readable in the store).";
      hashedPasswordFile = nullStr "File holding the hashed password.";
      initialPassword = nullStr "Clear-text password set at creation.";
      initialHashedPassword = nullStr "Hashed password set at creation.";
      packages = opt (types.listOf types.package) [ ] "Packages in the user's profile.";
      linger = opt (types.nullOr types.bool) false "Start the user's systemd manager at boot.";
      autoSubUidGidRange = bool false "Allocate subordinate uid/gid ranges.";
      openssh.authorizedKeys.keys = opt (types.listOf types.singleLineStr) [ ] "Authorized SSH public keys.";
      openssh.authorizedKeys.keyFiles = opt (types.listOf types.path) [ ] "Files of authorized SSH public keys.";
    };
    # Normal users get /home/<name>, created, and the group users (as users-groups.nix does).
    config = lib.mkIf config.isNormalUser {
      group = lib.mkDefault "users";
      createHome = lib.mkDefault true;
      home = lib.mkDefault "/home/${config.name}";
      homeMode = lib.mkDefault "700";
    };
  };
  group = { name, ... }: {
    options = {
      name = opt (types.passwdEntry types.str) name "Group name (default: the attribute name).";
      gid = opt (types.nullOr types.int) null "Group ID (null: allocated).";
      members = opt (types.listOf (types.passwdEntry types.str)) [ ] "Users in this group.";
    };
  };
in
{
  options.users = {
    mutableUsers = bool true "Allow users and groups to be changed outside the configuration.";
    users = opt (types.attrsOf (types.submodule user)) { } "User accounts by name.";
    groups = opt (types.attrsOf (types.submodule group)) { } "Groups by name.";
    defaultUserShell = mkOption ({ type = types.either types.path types.package; description = "Default login shell."; }
      // lib.optionalAttrs (pkgs ? bash) { default = pkgs.bash; });
  };
}
