# Option types (lib.types subset): check, description and merge semantics as in NixOS.
{ lib }:
let
  b = builtins;
  inherit (lib) showOption showDefs;
  mkOptionType = { name, description ? name, check ? (_: true), merge ? mergeEqual, ... }@attrs:
    attrs // { _type = "option-type"; inherit name description check merge; };
  # Equal definitions are one value; different ones conflict (lib.options.mergeEqualOption).
  mergeEqual = loc: defs:
    let first = b.head defs; in
    if b.all (d: d.value == first.value) defs then first.value
    else throw ("The option `${showOption loc}' has conflicting definition values:${showDefs defs}\n"
      + "Use `lib.mkForce value` or `lib.mkDefault value` to change the priority on any of these definitions.");
  # Exactly one definition (lib.options.mergeOneOption), even when several agree.
  mergeOne = loc: defs:
    if b.length defs == 1 then (b.head defs).value
    else throw ("The option `${showOption loc}' is defined multiple times while it's expected to be unique.\n"
      + "\nDefinition values:${showDefs defs}\n"
      + "Use `lib.mkForce value` or `lib.mkDefault value` to change the priority on any of these definitions.");
  isDrv = x: b.isAttrs x && (x.type or null) == "derivation";
  isStringLike = x: b.isString x || b.isPath x || (b.isAttrs x && (x ? outPath || x ? __toString));
  # One element of a container, merged with its own type (priorities apply per element).
  mergeElem = loc: type: defs: (lib.mergeDefinitions loc type defs).optionalValue;
  ints = rec {
    between = lo: hi: mkOptionType { name = "intBetween";
      description = "integer between ${toString lo} and ${toString hi} (both inclusive)";
      check = x: b.isInt x && x >= lo && x <= hi; };
    unsigned = mkOptionType { name = "unsignedInt"; description = "unsigned integer, meaning >=0";
      check = x: b.isInt x && x >= 0; };
    positive = mkOptionType { name = "positiveInt"; description = "positive integer, meaning >0";
      check = x: b.isInt x && x > 0; };
    u8 = between 0 255;
    u16 = between 0 65535;
    u32 = between 0 4294967295;
  };
  separatedString = sep: mkOptionType { name = "separatedString";
    description = if sep == "" then "Concatenated string" else "strings concatenated with ${b.toJSON sep}";
    check = b.isString;
    merge = _: defs: b.concatStringsSep sep (map (d: d.value) defs); };
  types = rec {
    inherit mkOptionType ints separatedString;
    isType = name: t: (t._type or null) == "option-type" && t.name == name;
    unspecified = mkOptionType { name = "unspecified"; description = "unspecified value"; merge = mergeAnything; };
    anything = mkOptionType { name = "anything"; merge = mergeAnything; };
    raw = mkOptionType { name = "raw"; description = "raw value"; merge = mergeOne; };
    bool = mkOptionType { name = "bool"; description = "boolean"; check = b.isBool; };
    int = mkOptionType { name = "int"; description = "signed integer"; check = b.isInt; };
    port = ints.u16 // { name = "port"; description = "16 bit unsigned integer; between 0 and 65535 (both inclusive)"; };
    float = mkOptionType { name = "float"; description = "floating point number"; check = b.isFloat; };
    number = either int float;
    str = mkOptionType { name = "str"; description = "string"; check = b.isString; };
    nonEmptyStr = mkOptionType { name = "nonEmptyStr"; description = "non-empty string";
      check = x: b.isString x && b.match "[ \t\n]*" x == null; };
    singleLineStr = mkOptionType { name = "singleLineStr"; description = "(optionally newline-terminated) single-line string";
      check = x: b.isString x && b.match "[^\n]*\n?" x != null; };
    lines = separatedString "\n";
    commas = separatedString ",";
    envVar = separatedString ":";
    strMatching = re: mkOptionType { name = "strMatching ${b.toJSON re}";
      description = "string matching the pattern ${re}"; check = x: b.isString x && b.match re x != null; };
    path = mkOptionType { name = "path"; description = "path";
      check = x: isStringLike x && lib.hasPrefix "/" (toString x); };
    package = mkOptionType { name = "package"; description = "package";
      check = x: isDrv x || (b.isString x && lib.hasPrefix "/nix/store/" x); merge = mergeOne; };
    attrs = mkOptionType { name = "attrs"; description = "attribute set"; check = b.isAttrs;
      merge = _: defs: b.foldl' (acc: d: acc // d.value) { } defs; };
    functionTo = t: mkOptionType { name = "functionTo"; description = "function that evaluates to a(n) ${t.description}";
      check = b.isFunction; merge = loc: defs: x: (lib.mergeDefinitions loc t (map (d: d // { value = d.value x; }) defs)).mergedValue; };
    enum = values: mkOptionType { name = "enum";
      description = "one of ${b.concatStringsSep ", " (map (v: if b.isString v then b.toJSON v else if b.isBool v then lib.boolToString v else toString v) values)}";
      check = x: b.elem x values; };
    listOf = t: mkOptionType { name = "listOf"; description = "list of ${t.description}"; check = b.isList;
      merge = loc: defs: map (x: x.value) (b.filter (x: x ? value) (b.concatLists (lib.imap1 (n: d:
        lib.imap1 (m: v: mergeElem (loc ++ [ "[definition ${toString n}-entry ${toString m}]" ]) t
          [{ inherit (d) file; value = v; }]) d.value) defs)));
      nestedTypes.elemType = t; getSubModules = t.getSubModules or null; substSubModules = m: listOf (t.substSubModules m); };
    nonEmptyListOf = t: listOf t // { description = "non-empty list of ${t.description}"; check = x: b.isList x && x != [ ]; };
    attrsOf = t: mkOptionType { name = "attrsOf"; description = "attribute set of ${t.description}"; check = b.isAttrs;
      merge = loc: defs:
        let names = lib.unique (b.concatMap (d: b.attrNames d.value) defs);
            merged = lib.genAttrs names (n: mergeElem (loc ++ [ n ]) t
              (b.concatMap (d: if d.value ? ${n} then [{ inherit (d) file; value = d.value.${n}; }] else [ ]) defs));
        in b.mapAttrs (_: v: v.value) (lib.filterAttrs (_: v: v ? value) merged);
      nestedTypes.elemType = t; getSubModules = t.getSubModules or null; substSubModules = m: attrsOf (t.substSubModules m); };
    lazyAttrsOf = t: attrsOf t // { name = "lazyAttrsOf"; description = "lazy attribute set of ${t.description}";
      substSubModules = m: lazyAttrsOf (t.substSubModules m); };
    addCheck = t: c: t // { check = x: t.check x && c x; };
    passwdEntry = t: addCheck t (x: b.isString x -> b.match ".*[:\n].*" x == null) // {
      description = "${t.description}, not containing newlines or colons"; };
    shellPackage = package // { name = "shellPackage"; description = "shell package";
      check = x: isDrv x && x ? shellPath; };
    uniq = t: t // { merge = mergeOne; };
    unique = { message }: t: t // { merge = mergeOne; };
    nullOr = t: mkOptionType { name = "nullOr"; description = "null or ${t.description}";
      check = x: x == null || t.check x;
      merge = loc: defs:
        let nulls = b.filter (d: d.value == null) defs; in
        if nulls == [ ] then t.merge loc defs
        else if b.length nulls == b.length defs then null
        else throw "The option `${showOption loc}' is defined both null and not null, in ${b.concatStringsSep ", " (map (d: "`${d.file}'") defs)}.";
      nestedTypes.elemType = t; getSubModules = t.getSubModules or null; substSubModules = m: nullOr (t.substSubModules m); };
    either = t1: t2: mkOptionType { name = "either"; description = "${t1.description} or ${t2.description}";
      check = x: t1.check x || t2.check x;
      merge = loc: defs:
        if b.all (d: t1.check d.value) defs then t1.merge loc defs
        else if b.all (d: t2.check d.value) defs then t2.merge loc defs
        else mergeEqual loc defs;
      nestedTypes = { left = t1; right = t2; }; };
    oneOf = ts: b.foldl' either (b.head ts) (b.tail ts);
    coercedTo = from: f: to: mkOptionType { name = "coercedTo"; description = "${to.description} or ${from.description} convertible to it";
      check = x: (from.check x && to.check (f x)) || to.check x;
      merge = loc: defs: to.merge loc (map (d: d // { value = if from.check d.value && !(to.check d.value) then f d.value else d.value; }) defs); };
    submoduleWith = { modules, specialArgs ? { }, shorthandOnlyDefinesConfig ? false, description ? "submodule" }:
      mkOptionType { name = "submodule"; inherit description;
        check = x: b.isAttrs x || b.isFunction x || b.isPath x;
        merge = loc: defs: (lib.evalModules { prefix = loc;
          specialArgs = { name = lib.last loc; } // specialArgs;
          modules = modules ++ map (d: if b.isAttrs d.value && shorthandOnlyDefinesConfig
            then { _file = d.file; config = d.value; } else { _file = d.file; imports = [ d.value ]; }) defs; }).config;
        getSubModules = modules;
        substSubModules = ms: submoduleWith { modules = ms; inherit specialArgs shorthandOnlyDefinesConfig description; }; };
    submodule = m: submoduleWith { modules = lib.toList m; shorthandOnlyDefinesConfig = true; };
  };
  # Sets merge per key, everything else must agree (types.anything).
  mergeAnything = loc: defs:
    let vs = map (d: d.value) defs; in
    if b.all (v: b.isAttrs v && !isDrv v) vs then (types.attrsOf types.anything).merge loc defs
    else if b.all b.isFunction vs
    then x: mergeAnything loc (map (d: d // { value = d.value x; }) defs)
    else mergeEqual loc defs;
in types
