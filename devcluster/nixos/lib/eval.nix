# Entry point: nix-instantiate --eval --strict --json eval.nix --arg configuration PATH --arg pkgsFile PATH
{ configuration, pkgsFile, modulesPath ? ./modulesPath }:
let
  lib = import ./lib.nix;
  pkgs = import ./pkgs.nix { inherit lib pkgsFile; };
  result = lib.evalModules {
    modules = import ./options ++ [ configuration ];
    specialArgs = { inherit pkgs modulesPath; };
  };
in
# Force everything first so a failing evaluation prints no partial JSON.
builtins.deepSeq result.output result.output
