# The subset of nixpkgs' lib that configuration modules commonly use (own implementation).
let
  b = builtins;
  show = import ./show.nix;
  lib = rec {
    inherit (b) attrNames attrValues listToAttrs mapAttrs filter elem elemAt head tail length isAttrs isList
      isString isInt isBool isFloat isFunction isPath concatLists concatMap foldl' genList hasAttr getAttr
      removeAttrs intersectAttrs toJSON fromJSON replaceStrings stringLength substring match split typeOf seq
      deepSeq trace tryEval functionArgs sort all any catAttrs groupBy partition;
    inherit (show) showOption escapeNixIdentifier showDefs;
    toString = b.toString;
    id = x: x;
    const = x: _: x;
    flip = f: x: y: f y x;
    boolToString = v: if v then "true" else "false";
    # lists
    optional = c: x: if c then [ x ] else [ ];
    optionals = c: xs: if c then xs else [ ];
    optionalString = c: s: if c then s else "";
    optionalAttrs = c: a: if c then a else { };
    toList = x: if isList x then x else [ x ];
    flatten = x: if isList x then concatMap flatten x else [ x ];
    unique = foldl' (acc: e: if elem e acc then acc else acc ++ [ e ]) [ ];
    last = xs: elemAt xs (length xs - 1);
    init = xs: genList (elemAt xs) (length xs - 1);
    take = n: xs: genList (elemAt xs) (if n < length xs then n else length xs);
    drop = n: xs: if n >= length xs then [ ] else genList (i: elemAt xs (i + n)) (length xs - n);
    range = first: lastN: if first > lastN then [ ] else genList (n: first + n) (lastN - first + 1);
    imap0 = f: xs: genList (i: f i (elemAt xs i)) (length xs);
    imap1 = f: xs: genList (i: f (i + 1) (elemAt xs i)) (length xs);
    reverseList = xs: let l = length xs; in genList (n: elemAt xs (l - n - 1)) l;
    foldr = op: nul: xs: foldl' (acc: x: op x acc) nul (reverseList xs);
    foldl = foldl';
    count = pred: xs: length (filter pred xs);
    findFirst = pred: default: xs: let r = filter pred xs; in if r == [ ] then default else head r;
    remove = e: filter (x: x != e);
    subtractLists = e: filter (x: !(elem x e));
    # attribute sets
    nameValuePair = name: value: { inherit name value; };
    mapAttrs' = f: set: listToAttrs (map (n: f n set.${n}) (attrNames set));
    mapAttrsToList = f: set: map (n: f n set.${n}) (attrNames set);
    genAttrs = names: f: listToAttrs (map (n: nameValuePair n (f n)) names);
    filterAttrs = pred: set:
      listToAttrs (concatMap (n: if pred n set.${n} then [ (nameValuePair n set.${n}) ] else [ ]) (attrNames set));
    attrByPath = path: default: set:
      if path == [ ] then set else if isAttrs set && set ? ${head path}
      then attrByPath (tail path) default set.${head path} else default;
    getAttrFromPath = path: set: attrByPath path (throw "cannot find attribute `${b.concatStringsSep "." path}'") set;
    hasAttrByPath = path: set: path == [ ] || (isAttrs set && set ? ${head path} && hasAttrByPath (tail path) set.${head path});
    setAttrByPath = path: value: if path == [ ] then value else { ${head path} = setAttrByPath (tail path) value; };
    recursiveUpdate = l: r: l // mapAttrs (n: v: if isAttrs v && isAttrs (l.${n} or null) && !isDerivation v
      then recursiveUpdate l.${n} v else v) r;
    foldAttrs = op: nul: sets: foldl' (acc: s: acc // mapAttrs (n: v: op v (acc.${n} or nul)) s) { } (reverseList sets);
    zipAttrsWith = f: sets: genAttrs (unique (concatMap attrNames sets)) (n: f n (catAttrs n sets));
    isDerivation = x: isAttrs x && (x.type or null) == "derivation";
    # strings
    concatStrings = b.concatStringsSep "";
    concatStringsSep = b.concatStringsSep;
    concatMapStrings = f: xs: concatStrings (map f xs);
    concatMapStringsSep = sep: f: xs: b.concatStringsSep sep (map f xs);
    concatLines = xs: concatMapStrings (s: s + "\n") xs;
    stringToCharacters = s: genList (i: substring i 1 s) (stringLength s);
    hasPrefix = p: s: substring 0 (stringLength p) s == p;
    hasSuffix = suf: s: let ls = stringLength s; lf = stringLength suf; in lf <= ls && substring (ls - lf) lf s == suf;
    removePrefix = p: s: if hasPrefix p s then substring (stringLength p) (-1) s else s;
    removeSuffix = suf: s: if hasSuffix suf s then substring 0 (stringLength s - stringLength suf) s else s;
    hasInfix = inf: s: match ".*${b.replaceStrings [ "." "+" "*" "?" "[" "]" "(" ")" "^" "$" "|" "{" "}" "\\" ]
      [ "\\." "\\+" "\\*" "\\?" "\\[" "\\]" "\\(" "\\)" "\\^" "\\$" "\\|" "\\{" "\\}" "\\\\" ] inf}.*" s != null;
    splitString = sep: s: filter isString (split (b.replaceStrings [ "." "+" "*" "?" "[" "]" "(" ")" "|" ]
      [ "\\." "\\+" "\\*" "\\?" "\\[" "\\]" "\\(" "\\)" "\\|" ] sep) s);
    isStringLike = x: isString x || isPath x || (isAttrs x && (x ? outPath || x ? __toString));
    escapeShellArg = arg: let s = b.toString arg; in
      if match "[[:alnum:],._+:@%/-]+" s != null then s else "'${replaceStrings [ "'" ] [ "'\\''" ] s}'";
    escapeShellArgs = concatMapStringsSep " " escapeShellArg;
    versionAtLeast = v1: v2: b.compareVersions v1 v2 >= 0;
    versionOlder = v1: v2: b.compareVersions v2 v1 > 0;
    # packages
    getBin = p: if isAttrs p then p.bin or p.out or p else p;
    getName = p: p.pname or (b.parseDrvName (p.name or "")).name;
    getExe = p: "${getBin p}/bin/${p.meta.mainProgram or (getName p)}";
    getExe' = p: exe: "${getBin p}/bin/${exe}";
    makeBinPath = ps: concatMapStringsSep ":" (p: "${getBin p}/bin") ps;
    makeSearchPath = sub: ps: concatMapStringsSep ":" (p: "${p}/${sub}") ps;
    getOutput = output: p: if !(p.outputSpecified or false) then p.${output} or p.out or p else p;
    makeSearchPathOutput = output: sub: ps: makeSearchPath sub (map (getOutput output) ps);
    makeLibraryPath = makeSearchPathOutput "lib" "lib";
    # options and properties
    mkOption = attrs: attrs // { _type = "option"; };
    mkEnableOption = name: mkOption { type = types.bool; default = false; example = true;
      description = "Whether to enable ${name}."; };
    # `mkPackageOption pkgs "ollama" { }`: no default when the package set lacks the attribute.
    mkPackageOption = pkgs: name: { default ? [ name ], nullable ? false, ... }:
      let path = toList default; in
      mkOption ({ type = if nullable then types.nullOr types.package else types.package;
        description = "The ${b.concatStringsSep "." (toList name)} package to use."; }
        // (if default == null then { default = null; } else if hasAttrByPath path pkgs
            then { default = getAttrFromPath path pkgs; } else { }));
    literalExpression = text: { _type = "literalExpression"; inherit text; };
    literalMD = text: { _type = "literalMD"; inherit text; };
    mdDoc = x: x;
    mkIf = condition: content: { _type = "if"; inherit condition content; };
    mkMerge = contents: { _type = "merge"; inherit contents; };
    mkOverride = priority: content: { _type = "override"; inherit priority content; };
    mkOptionDefault = mkOverride 1500;
    mkDefault = mkOverride 1000;
    mkImageMediaOverride = mkOverride 60;
    mkForce = mkOverride 50;
    mkVMOverride = mkOverride 10;
    mkOrder = priority: content: { _type = "order"; inherit priority content; };
    mkBefore = mkOrder 500;
    mkAfter = mkOrder 1500;
    types = import ./types.nix { inherit lib; };
    inherit (import ./modules.nix { inherit lib; }) evalModules mergeDefinitions isOption;
  };
in lib
