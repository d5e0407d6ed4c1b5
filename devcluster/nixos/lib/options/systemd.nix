# systemd.services / timers / tmpfiles (nixos/lib/systemd-unit-options.nix, nixos/modules/system/boot/systemd.nix).
{ lib, ... }:
let
  inherit (lib) mkOption types;
  b = builtins;
  isUnitAtom = x: b.isBool x || b.isInt x || b.isString x || b.isPath x || lib.isDerivation x;
  # A unit setting: atoms must agree, lists concatenate (systemd-unit-options.nix `unitOption`).
  unitOption = types.mkOptionType {
    name = "systemd option";
    check = x: isUnitAtom x || (b.isList x && b.all isUnitAtom x);
    merge = loc: defs:
      if b.any (d: b.isList d.value) defs then b.concatMap (d: lib.toList d.value) defs
      else (types.either types.str types.int).merge loc defs;
  };
  # serviceConfig values systemd would reject (systemd-unit-options.nix `checkService`), traced like nixpkgs does.
  oneOf = field: allowed: attrs:
    let v = attrs.${field} or null; plain = if b.isAttrs v && v ? content then v.content else v; in
    if v == null || b.elem plain allowed then [ ]
    else [ "The systemd Service field `${field}' cannot have value `${toString plain}'." ];
  checkService = attrs:
    let errors = oneOf "Type" [ "exec" "simple" "forking" "oneshot" "dbus" "notify" "notify-reload" "idle" ] attrs
      ++ oneOf "Restart" [ "no" "on-success" "on-failure" "on-abnormal" "on-abort" "always" ] attrs;
    in errors == [ ] || b.trace (b.concatStringsSep "\n" errors) false;
  unitNames = doc: mkOption { type = types.listOf types.str; default = [ ]; description = doc; };
  lines = doc: mkOption { type = types.lines; default = ""; description = doc; };
  bool = default: doc: mkOption { type = types.bool; inherit default; description = doc; };
  # Options every unit kind shares (sharedOptions + commonUnitOptions).
  commonUnitOptions = {
    enable = bool true "Whether the unit is generated at all.";
    overrideStrategy = mkOption { type = types.enum [ "asDropinIfExists" "asDropin" ]; default = "asDropinIfExists";
      description = "How the unit is written when a unit of that name exists upstream."; };
    description = mkOption { type = types.singleLineStr; default = ""; description = "Description= of the unit."; };
    documentation = mkOption { type = types.listOf types.str; default = [ ]; description = "Documentation= URIs."; };
    requires = unitNames "Requires= units.";
    wants = unitNames "Wants= units.";
    upholds = unitNames "Upholds= units.";
    after = unitNames "After= units.";
    before = unitNames "Before= units.";
    bindsTo = unitNames "BindsTo= units.";
    partOf = unitNames "PartOf= units.";
    conflicts = unitNames "Conflicts= units.";
    requisite = unitNames "Requisite= units.";
    onFailure = unitNames "OnFailure= units.";
    onSuccess = unitNames "OnSuccess= units.";
    wantedBy = unitNames "Units that get a Wants= on this unit ([Install] WantedBy=).";
    requiredBy = unitNames "Units that get a Requires= on this unit.";
    upheldBy = unitNames "Units that get an Upholds= on this unit.";
    aliases = unitNames "Alias= names of the unit.";
    unitConfig = mkOption { type = types.attrsOf unitOption; default = { }; description = "Extra [Unit] settings."; };
    startLimitBurst = mkOption { type = types.int; description = "StartLimitBurst= of the unit."; };
    startLimitIntervalSec = mkOption { type = types.int; description = "StartLimitIntervalSec= of the unit."; };
  };
  serviceOptions = commonUnitOptions // {
    environment = mkOption { type = types.attrsOf (types.nullOr (types.oneOf [ types.str types.path types.package ]));
      default = { }; description = "Environment variables of the service processes."; };
    path = mkOption { type = types.listOf (types.oneOf [ types.package types.str ]); default = [ ];
      description = "Packages whose bin/ and sbin/ are put on PATH."; };
    serviceConfig = mkOption { type = types.addCheck (types.attrsOf unitOption) checkService; default = { };
      description = "[Service] settings."; };
    script = lines "Shell commands run as the service's main process.";
    scriptArgs = mkOption { type = types.str; default = ""; description = "Arguments passed to script."; };
    preStart = lines "Shell commands run before the main process (ExecStartPre=).";
    postStart = lines "Shell commands run after the main process started (ExecStartPost=).";
    reload = lines "Shell commands run on reload (ExecReload=).";
    preStop = lines "Shell commands run before stopping (ExecStop=).";
    postStop = lines "Shell commands run after stopping (ExecStopPost=).";
    restartIfChanged = bool true "Restart the service on switch when its unit changed.";
    reloadIfChanged = bool false "Reload instead of restart on switch when its unit changed.";
    stopIfChanged = bool true "Stop the old unit before starting the new one on switch.";
    restartTriggers = mkOption { type = types.listOf types.unspecified; default = [ ];
      description = "Values whose change restarts the service on switch."; };
    reloadTriggers = mkOption { type = types.listOf types.unspecified; default = [ ];
      description = "Values whose change reloads the service on switch."; };
    notSocketActivated = bool false "Do not restart a socket-activated service on switch.";
    startAt = mkOption { type = types.either types.str (types.listOf types.str); default = [ ]; apply = lib.toList;
      description = "OnCalendar= times at which the service is started (creates a timer)."; };
  };
  timerOptions = commonUnitOptions // {
    timerConfig = mkOption { type = types.attrsOf unitOption; default = { }; description = "[Timer] settings."; };
  };
in
{
  options.systemd = {
    services = mkOption { type = types.attrsOf (types.submodule { options = serviceOptions; }); default = { };
      description = "systemd service units."; };
    timers = mkOption { type = types.attrsOf (types.submodule { options = timerOptions; }); default = { };
      description = "systemd timer units."; };
    targets = mkOption { type = types.attrsOf (types.submodule { options = commonUnitOptions; }); default = { };
      description = "systemd target units."; };
    packages = mkOption { type = types.listOf types.package; default = [ ]; description = "Packages providing units."; };
    tmpfiles.rules = mkOption { type = types.listOf types.str; default = [ ]; description = "tmpfiles.d(5) lines."; };
    tmpfiles.settings = mkOption { type = types.attrsOf (types.attrsOf (types.attrsOf types.anything)); default = { };
      description = "tmpfiles.d(5) entries as nested sets: file name, path, type."; };
  };
}
