# networking.* (nixos/modules/tasks/network-interfaces.nix, services/networking/firewall.nix, networkmanager.nix).
{ lib, pkgs, ... }:
let
  inherit (lib) mkOption types;
  opt = type: default: description: mkOption { inherit type default description; };
  bool = default: opt types.bool default;
  ports = opt (types.listOf types.port) [ ];
  portRanges = opt (types.listOf (types.attrsOf types.port)) [ ];
  # Ports opened by the firewall, globally or per interface.
  firewallPorts = {
    allowedTCPPorts = ports "TCP ports open to incoming connections.";
    allowedTCPPortRanges = portRanges "TCP port ranges ({ from, to }) open to incoming connections.";
    allowedUDPPorts = ports "UDP ports open to incoming packets.";
    allowedUDPPortRanges = portRanges "UDP port ranges ({ from, to }) open to incoming packets.";
  };
  address = { ... }: {
    options = {
      address = mkOption { type = types.str; description = "IP address."; };
      prefixLength = mkOption { type = types.addCheck types.int (n: n >= 0 && n <= 128); description = "Prefix length."; };
    };
  };
  route = { ... }: {
    options = {
      address = mkOption { type = types.str; description = "Destination network."; };
      prefixLength = mkOption { type = types.int; description = "Destination prefix length."; };
      via = opt (types.nullOr types.str) null "Gateway.";
      options = opt (types.attrsOf types.str) { } "Extra route options.";
    };
  };
  ipFamily = {
    addresses = opt (types.listOf (types.submodule address)) [ ] "Static addresses of the interface.";
    routes = opt (types.listOf (types.submodule route)) [ ] "Static routes of the interface.";
  };
  interface = { name, ... }: {
    options = {
      name = opt types.str name "Interface name.";
      useDHCP = opt (types.nullOr types.bool) null "Use DHCP on this interface (null: networking.useDHCP).";
      ipv4 = ipFamily;
      ipv6 = ipFamily;
      macAddress = opt (types.nullOr types.str) null "MAC address to set.";
      mtu = opt (types.nullOr types.int) null "MTU to set.";
      virtual = bool false "Create a tun/tap device.";
      wakeOnLan.enable = bool false "Enable wake on LAN.";
    };
  };
  gateway = types.submodule ({ ... }: {
    options = {
      address = mkOption { type = types.str; description = "Gateway address."; };
      interface = opt (types.nullOr types.str) null "Interface of the gateway.";
      metric = opt (types.nullOr types.int) null "Route metric.";
      source = opt (types.nullOr types.str) null "Source address.";
    };
  });
  gatewayOption = opt (types.nullOr (types.coercedTo types.str (address: { inherit address; }) gateway)) null;
in
{
  options.networking = {
    hostName = opt (types.strMatching "^$|^[[:alnum:]]([[:alnum:]_-]{0,61}[[:alnum:]])?$") "nixos" "Host name.";
    domain = opt (types.nullOr types.str) null "Domain name.";
    hostId = opt (types.nullOr types.str) null "32-bit host ID (8 hex digits).";
    enableIPv6 = bool true "Enable IPv6.";
    useDHCP = bool true "Use DHCP on interfaces without static configuration.";
    useNetworkd = bool false "Configure networking with systemd-networkd.";
    nameservers = opt (types.listOf types.str) [ ] "DNS servers.";
    search = opt (types.listOf types.str) [ ] "DNS search domains.";
    defaultGateway = gatewayOption "IPv4 default gateway.";
    defaultGateway6 = gatewayOption "IPv6 default gateway.";
    extraHosts = opt types.lines "" "Extra /etc/hosts lines.";
    hosts = opt (types.attrsOf (types.listOf types.str)) { } "/etc/hosts entries: address to names.";
    interfaces = opt (types.attrsOf (types.submodule interface)) { } "Network interfaces by name.";
    networkmanager.enable = bool false "Manage networking with NetworkManager.";
    wireless.enable = bool false "Enable wpa_supplicant.";
    nftables.enable = bool false "Use nftables instead of iptables for the firewall.";
    firewall = firewallPorts // {
      enable = bool true "Enable the firewall.";
      package = mkOption ({ type = types.package; description = "The iptables package to use."; }
        // lib.optionalAttrs (pkgs ? iptables) { default = pkgs.iptables; });
      logRefusedConnections = bool true "Log refused connections.";
      logRefusedPackets = bool false "Log all refused packets.";
      logRefusedUnicastsOnly = bool true "Log only refused unicast packets.";
      rejectPackets = bool false "Reject refused packets instead of dropping them.";
      trustedInterfaces = opt (types.listOf types.str) [ ] "Interfaces whose traffic is always accepted.";
      allowPing = bool true "Answer ICMP echo requests.";
      pingLimit = opt (types.nullOr types.str) null "iptables limit for ping packets.";
      checkReversePath = opt (types.either types.bool (types.enum [ "strict" "loose" ])) true "Reverse path filtering.";
      logReversePathDrops = bool false "Log packets dropped by the reverse path filter.";
      filterForward = bool false "Filter forwarded packets too.";
      extraCommands = opt types.lines "" "iptables commands run when the firewall starts.";
      extraStopCommands = opt types.lines "" "iptables commands run when the firewall stops.";
      extraPackages = opt (types.listOf types.package) [ ] "Packages available to the firewall scripts.";
      interfaces = opt (types.attrsOf (types.submodule { options = firewallPorts; })) { } "Ports open per interface.";
    };
  };
}
