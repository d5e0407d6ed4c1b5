# services.prometheus.exporters.<name> (nixos/modules/services/monitoring/prometheus/exporters.nix, exporters/*.nix).
# Only the node exporter is transcribed: the options every exporter shares, plus node's collector lists.
{ lib, ... }:
let
  inherit (lib) mkOption types;
  opt = type: default: description: mkOption { inherit type default description; };
  bool = default: opt types.bool default;
  strs = opt (types.listOf types.str) [ ];
  # What exporters.nix gives each exporter; `name` names the default user and group, `port` is the exporter's own.
  common = name: port: {
    enable = lib.mkEnableOption "the prometheus ${name} exporter";
    port = opt types.port port "Port the exporter serves metrics on.";
    listenAddress = opt types.str "0.0.0.0" "Address the exporter binds.";
    extraFlags = strs "Extra command-line arguments of the exporter.";
    openFirewall = bool false "Open the exporter's port in the firewall.";
    firewallFilter = opt (types.nullOr types.str) null
      "iptables match of the rule openFirewall adds (null: TCP to the exporter's port).";
    firewallRules = opt (types.nullOr types.lines) null
      "nftables rules openFirewall adds instead (null: TCP to the exporter's port).";
    user = opt types.str "${name}-exporter" "User the exporter runs as (created when left at its default).";
    group = opt types.str "${name}-exporter" "Group the exporter runs as (created when left at its default).";
  };
in
{
  options.services.prometheus.exporters = {
    node = common "node" 9100 // {
      enabledCollectors = strs "Collectors switched on besides node_exporter's default ones (--collector.<name>).";
      disabledCollectors = strs "Collectors switched off (--no-collector.<name>).";
    };
  };
}
