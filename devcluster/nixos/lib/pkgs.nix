# `pkgs` from a JSON file { "<attr path>": { outPath, name, version } }: derivation-like sets plus `lib`.
# Simplified: one output each (`out`); `stdenv.cc.cc.lib` is a set of its own and `stdenv.cc.cc` no derivation.
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
  # pkgs.runCommand name env buildCommand: a derivation the double's build runs (bash, $out, env as variables).
  # Its store hash is a truncated sha256 of the inputs, not Nix's derivation hash.
  runCommand = name: env: buildCommand:
    let
      h = b.replaceStrings [ "e" ] [ "w" ] (b.substring 0 32 (b.hashString "sha256" (b.toJSON [ name env buildCommand ])));
      self = {
        type = "derivation";
        inherit name buildCommand;
        env = b.mapAttrs (_: toString) (removeAttrs env [ "passthru" "meta" ]);
        outPath = "/nix/store/${h}-${name}";
        drvPath = "/nix/store/${h}-${name}.drv";
        outputs = [ "out" ];
        outputName = "out";
        out = self;
      };
    in self;
  # an attribute path such as "stdenv.cc.cc.lib" becomes nested sets, as nixpkgs has them
  nest = acc: attr: lib.recursiveUpdate acc (lib.setAttrByPath (lib.splitString "." attr) (mk attr raw.${attr}));
in b.foldl' nest { } (b.attrNames raw) // { inherit lib runCommand; }
