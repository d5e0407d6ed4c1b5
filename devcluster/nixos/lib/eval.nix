# Entry point: nix-instantiate --eval --strict --json eval.nix --arg configuration PATH --arg pkgsFile PATH
{ configuration, pkgsFile, modulesPath ? ./modulesPath }:
let
  lib = import ./lib.nix;
  pkgs = import ./pkgs.nix { inherit lib pkgsFile; };
  result = lib.evalModules {
    modules = import ./options ++ [ configuration ];
    specialArgs = { inherit pkgs modulesPath; };
  };
  # pkgs.runCommand derivations among the system packages, for the double's build to run (their recipes would
  # otherwise be lost: the output names a package by its store path only; a set with outPath would too).
  drvs = builtins.filter (p: builtins.isAttrs p && p ? buildCommand) result.config.environment.systemPackages;
  output = result.output // (if drvs == [ ] then { } else {
    _derivations = map (d: { inherit (d) name drvPath buildCommand env; out = d.outPath; }) drvs;
  });
in
# Force everything first so a failing evaluation prints no partial JSON.
builtins.deepSeq output output
