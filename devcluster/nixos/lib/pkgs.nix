# `pkgs` from a JSON file { "<attr>": { outPath, name, version } }: derivation-like sets plus `lib`.
{ lib, pkgsFile }:
let
  b = builtins;
  raw = b.fromJSON (b.readFile pkgsFile);
  mk = attr: v:
    let
      name = v.name or attr;
      pname = v.pname or (b.parseDrvName name).name;
      self = {
        type = "derivation";
        outPath = if b.isString (v.outPath or null) && lib.hasPrefix "/nix/store/" v.outPath then v.outPath
          else throw "pkgs.json: `${attr}' needs an outPath under /nix/store/";
        inherit name pname;
        version = v.version or (b.parseDrvName name).version;
        meta = { mainProgram = v.mainProgram or pname; };
        outputs = [ "out" ];
        outputName = "out";
        bin = self;
        out = self;
      };
    in self;
in b.mapAttrs mk raw // { inherit lib; }
