# The module evaluator: collect imports, merge declarations, push definitions down, merge by priority and type.
{ lib }:
let
  b = builtins;
  inherit (lib) showOption showDefs;
  show = import ./show.nix;
  isOption = x: b.isAttrs x && (x._type or null) == "option";
  propType = v: if b.isAttrs v then v._type or null else null;

  # A definition's value flattened through mkMerge/mkIf/mkOverride/mkOrder: [{ file, priority, order, value }].
  discharge = loc: file:
    let
      go = prio: ord: v:
        let t = propType v; in
        if t == "merge" then b.concatMap (go prio ord) v.contents
        else if t == "if" then
          (if !(b.isBool v.condition)
           then throw "The option `${showOption loc}' (in `${file}') uses mkIf with a non-Boolean condition."
           else if v.condition then go prio ord v.content else [ ])
        else if t == "override" then go (if prio == null then v.priority else prio) ord v.content
        else if t == "order" then go prio (if ord == null then v.priority else ord) v.content
        else [{ inherit file; value = v; priority = if prio == null then 100 else prio;
                order = if ord == null then 1000 else ord; }];
    in go null null;

  # Keep the highest-priority definitions, sort by mkOrder, check the type, merge: like lib.mergeDefinitions.
  mergeDefinitions = loc: type: defs:
    let
      flat = b.concatMap (d: discharge loc d.file d.value) defs;
      top = b.foldl' (m: d: if d.priority < m then d.priority else m) 9999 flat;
      kept = b.sort (x: y: x.order < y.order) (b.filter (d: d.priority == top) flat);
      defsFinal = map (d: { inherit (d) file value; }) kept;
      invalid = b.filter (d: !(type.check d.value)) defsFinal;
      isDefined = defsFinal != [ ];
      mergedValue =
        if !isDefined then throw "The option `${showOption loc}' is used but not defined."
        else if invalid != [ ] then throw ("A definition for option `${showOption loc}' is not of type `${type.description}'."
          + " Definition values:${showDefs invalid}")
        else type.merge loc defsFinal;
    in { inherit defsFinal isDefined mergedValue; highestPrio = top;
         optionalValue = if isDefined then { value = mergedValue; } else { }; };

  # Import a path or call a function, then bring the module into { _file, key, imports, options, config }.
  unify = file: key: m:
    let meta = [ "_file" "key" "imports" "disabledModules" "meta" "freeformType" "require" ]; in
    if !(b.isAttrs m) then throw "Module `${key}' is not an attribute set or a function returning one."
    else if m ? config || m ? options then
      let bad = b.attrNames (b.removeAttrs m (meta ++ [ "options" "config" ])); in
      if bad != [ ] then throw ("Module `${key}' has an unsupported attribute `${b.head bad}'. This is caused by"
        + " introducing a top-level `config' or `options' attribute. Add configuration attributes immediately on"
        + " the top level instead, or move all of them (namely: ${toString bad}) into the explicit `config' attribute.")
      else { _file = toString (m._file or file); key = toString (m.key or key); imports = m.imports or [ ];
             options = m.options or { }; config = m.config or { }; freeformType = m.freeformType or null; }
    else { _file = toString (m._file or file); key = toString (m.key or key); imports = m.imports or [ ];
           options = { }; config = b.removeAttrs m meta; freeformType = m.freeformType or null; };
  callModule = args: f:
    if b.isFunction f then let fa = b.functionArgs f; in f (if fa == { } then args else b.intersectAttrs fa args) else f;
  load = args: parentFile: key: m:
    if b.isFunction m || b.isAttrs m then unify parentFile key (callModule args m)
    else let f = toString m; in unify f f (callModule args (import m));

  # Depth-first, each module once (by key): the module list NixOS would merge.
  collect = args: roots:
    let
      go = acc: parentFile: parentKey: mods: b.foldl' (acc: i:
        let mod = load args parentFile "${parentKey}:anon-${toString (i + 1)}" (b.elemAt mods i); in
        if acc.seen ? ${mod.key} then acc
        else go { seen = acc.seen // { ${mod.key} = true; }; list = acc.list ++ [ mod ]; } mod._file mod.key mod.imports)
        acc (b.genList (i: i) (b.length mods));
    in (go { seen = { }; list = [ ]; } "<unknown-file>" "" roots).list;

  # Merge the `options` trees of all modules into { isOption, opt, files } leaves and { children } nodes.
  mergeDecls = loc: decls:
    let opts = b.filter (d: isOption d.tree) decls; in
    if opts != [ ] then
      (if b.length opts != b.length decls
       then throw "The option `${showOption loc}' in `${(b.head opts).file}' is a prefix of options in `${(b.head (b.filter (d: !isOption d.tree) decls)).file}'."
       else { isOption = true; files = map (d: d.file) opts; opt = mergeOptionDecls loc opts; })
    else
      let names = lib.unique (b.concatMap (d: b.attrNames d.tree) decls); in
      { isOption = false; children = lib.genAttrs names (n: mergeDecls (loc ++ [ n ])
          (b.concatMap (d: if d.tree ? ${n} then [{ inherit (d) file; tree = d.tree.${n}; }] else [ ]) decls)); };
  # Two declarations of one option may only both be submodules (their option sets are joined).
  mergeOptionDecls = loc: opts: b.foldl' (acc: d:
    let o = d.tree; in
    if acc == null then o
    else if (acc.type.getSubModules or null) != null && (o.type.getSubModules or null) != null
      && acc.type.name == o.type.name
    then acc // b.removeAttrs o [ "type" ] // { type = acc.type.substSubModules (acc.type.getSubModules ++ o.type.getSubModules); }
    else throw "The option `${showOption loc}' in `${d.file}' is already declared in `${b.head (map (x: x.file) opts)}'.")
    null opts;

  # Distribute mkMerge/mkIf/mkOverride over the attributes of a definition for an option set.
  pushDown = loc: file: v:
    let t = propType v; in
    if t == "merge" then b.concatMap (pushDown loc file) v.contents
    else if t == "if" then map (b.mapAttrs (_: x: lib.mkIf v.condition x)) (pushDown loc file v.content)
    else if t == "override" then map (b.mapAttrs (_: x: lib.mkOverride v.priority x)) (pushDown loc file v.content)
    else if b.isAttrs v && t == null then [ v ]
    else throw ("The option `${showOption loc}' is a set of options, not a value. Definition values:"
      + showDefs [{ inherit file; value = v; }]);

  # Values for the output: packages become store paths, paths strings, submodules their evaluated options.
  toPlain = v:
    if b.isAttrs v then
      (if v ? _module && v._module ? output then v._module.output
       else if (v.type or null) == "derivation" || v ? outPath then toString v
       else b.mapAttrs (_: toPlain) v)
    else if b.isList v then map toPlain v
    else if b.isPath v then toString v
    else if b.isFunction v then "<function>"
    else v;

  evalOption = loc: node: defs:
    let
      opt = node.opt;
      type = opt.type or lib.types.unspecified;
      defaults = if opt ? default then [{ file = b.head node.files; value = lib.mkOptionDefault opt.default; }] else [ ];
      res = mergeDefinitions loc type (defs ++ defaults);
      value = if opt ? apply then opt.apply res.mergedValue else res.mergedValue;
    in { config = value; defined = res.isDefined; output = toPlain value; unmatched = [ ];
         option = opt // { inherit value; inherit (res) isDefined; declarations = node.files;
                           files = map (d: d.file) res.defsFinal; definitions = map (d: d.value) res.defsFinal; }; };

  evalTree = loc: node: defs:
    if node.isOption then evalOption loc node defs
    else
      let
        pushed = b.concatMap (d: map (v: { inherit (d) file; value = v; }) (pushDown loc d.file d.value)) defs;
        kids = b.mapAttrs (n: child: evalTree (loc ++ [ n ]) child
          (b.concatMap (d: if d.value ? ${n} then [{ inherit (d) file; value = d.value.${n}; }] else [ ]) pushed))
          node.children;
        here = b.concatMap (d: map (n: { inherit (d) file; loc = loc ++ [ n ]; value = d.value.${n};
                 suggest = show.closest n (b.attrNames node.children); })
          (b.filter (n: !(node.children ? ${n})) (b.attrNames d.value))) pushed;
      in {
        config = b.mapAttrs (_: k: k.config) kids;
        options = b.mapAttrs (_: k: k.option) kids;
        option = b.mapAttrs (_: k: k.option) kids;
        defined = true;
        output = b.listToAttrs (b.concatMap (n: if kids.${n}.defined then [{ name = n; value = kids.${n}.output; }] else [ ])
          (b.attrNames kids));
        unmatched = here ++ b.concatMap (k: k.unmatched) (b.attrValues kids);
      };

  unknownMessage = u: "The option `${showOption u.loc}' does not exist. Definition values:${showDefs [ u ]}"
    + (if u.suggest == null then "" else "\nDid you mean `${showOption (lib.init u.loc ++ [ u.suggest ])}'?");

  # evalModules { modules, prefix, specialArgs } -> { config, options, output } (config carries _module.output).
  evalModules = { modules, prefix ? [ ], specialArgs ? { } }:
    let
      args = { inherit lib config options; } // specialArgs;
      mods = collect args modules;
      declTree = mergeDecls prefix (map (m: { file = m._file; tree = m.options; }) mods);
      tree = evalTree prefix declTree (map (m: { file = m._file; value = m.config; }) mods);
      options = tree.options;
      # A module's `freeformType` takes definitions without a declared option (top level of the set only).
      freeform = lib.findFirst (t: t != null) null (map (m: m.freeformType) mods);
      freeDefs = map (u: { inherit (u) file; value = lib.setAttrByPath (lib.drop (b.length prefix) u.loc) u.value; })
        tree.unmatched;
      freeConfig = if freeform == null || freeDefs == [ ] then { } else freeform.merge prefix freeDefs;
      config = if freeform == null then tree.config else freeConfig // tree.config;
      check = if freeform != null || tree.unmatched == [ ] then null else throw (unknownMessage (b.head tree.unmatched));
      output = b.seq check (if freeform == null then tree.output else toPlain freeConfig // tree.output);
    in { inherit options output; config = b.seq check (config // { _module = { inherit output; }; }); };
in { inherit evalModules mergeDefinitions isOption toPlain; }
