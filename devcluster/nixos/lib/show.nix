# Rendering helpers for error messages: option paths and definition values as nixos-rebuild prints them.
let
  b = builtins;
  keywords = [ "if" "then" "else" "assert" "with" "let" "in" "rec" "inherit" "or" ];
  special = [ "<name>" "*" "<function body>" ];
  # Quote an attribute name unless it is a plain Nix identifier.
  escapeNixIdentifier = s:
    if b.match "[a-zA-Z_][a-zA-Z0-9_'-]*" s != null && !(b.elem s keywords) then s else b.toJSON s;
  # `a.b."c@d"` from [ "a" "b" "c@d" ].
  showOption = parts:
    b.concatStringsSep "." (map (p: if b.elem p special then p else escapeNixIdentifier p) parts);
  isDrv = v: (v.type or null) == "derivation";
  # A Nix-like rendering of a value, nested at most `maxDepth` levels.
  maxDepth = 10;
  pretty = depth: ind: v:
    let ind' = ind + "  "; in
    if depth > maxDepth then "<elided>"
    else if b.isString v then b.toJSON v
    else if b.isBool v then (if v then "true" else "false")
    else if v == null then "null"
    else if b.isInt v || b.isFloat v then b.toString v
    else if b.isPath v then b.toString v
    else if b.isFunction v then "<function>"
    else if b.isList v then
      (if v == [ ] then "[ ]"
       else "[\n" + b.concatStringsSep "" (map (x: ind' + pretty (depth + 1) ind' x + "\n") v) + ind + "]")
    else if isDrv v then "<derivation ${v.name or "?"}>"
    else if v == { } then "{ }"
    else "{\n" + b.concatStringsSep "" (map (n: ind' + escapeNixIdentifier n + " = "
      + pretty (depth + 1) ind' v.${n} + ";\n") (b.attrNames v)) + ind + "}";
  # "\n- In `file': value" per definition (at most 5 lines of value, like lib.modules.showDefs).
  showDefs = defs: b.concatStringsSep "" (map (def:
    let
      rendered = b.tryEval (pretty 0 "" def.value);
      lines = b.filter (l: !(b.isList l)) (b.split "\n" rendered.value);
      shown = b.concatStringsSep "\n    " ((if b.length lines > 5 then b.genList (b.elemAt lines) 5 else lines)
        ++ (if b.length lines > 5 then [ "..." ] else [ ]));
      suffix = if !rendered.success then "" else if b.length lines > 1 then ":\n    " + shown else ": " + shown;
    in "\n- In `${def.file}'${suffix}") defs);
  # Levenshtein distance between two short strings.
  editDistance = s: t:
    let
      cs = b.genList (i: b.substring i 1 s) (b.stringLength s);
      ct = b.genList (i: b.substring i 1 t) (b.stringLength t);
      n = b.length ct;
      min3 = x: y: z: let m = if x < y then x else y; in if m < z then m else z;
      step = prev: ch: b.foldl' (row: j:
        row ++ [ (min3 (b.elemAt prev j + 1) (b.elemAt row (j - 1) + 1)
          (b.elemAt prev (j - 1) + (if b.elemAt ct (j - 1) == ch then 0 else 1))) ])
        [ (b.head prev + 1) ] (b.genList (j: j + 1) n);
    in b.elemAt (b.foldl' step (b.genList (j: j) (n + 1)) cs) n;
  hasPrefix = p: s: b.substring 0 (b.stringLength p) s == p;
  # The declared sibling closest to a misspelt name, or null.
  closest = name: candidates:
    let
      scored = map (c: { inherit c; d = editDistance name c; }) candidates;
      limit = let l = b.stringLength name / 3; in if l > 2 then l else 2;
      ok = b.filter (x: x.d <= limit || hasPrefix name x.c || hasPrefix x.c name) scored;
    in if ok == [ ] then null else (b.head (b.sort (x: y: x.d < y.d) ok)).c;
in { inherit escapeNixIdentifier showOption pretty showDefs editDistance closest; }
