# services.nginx (nixos/modules/services/web-servers/nginx: default.nix, vhost-options.nix, location-options.nix).
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption types;
  cfg = config.services.nginx;
  opt = type: default: description: mkOption { inherit type default description; };
  bool = default: opt types.bool default;
  lines = opt types.lines "";
  nullStr = opt (types.nullOr types.str) null;
  nullPath = opt (types.nullOr types.path) null;
  location = { ... }: {
    options = {
      basicAuth = opt (types.attrsOf types.str) { } "User/password pairs for HTTP basic auth.";
      basicAuthFile = nullPath "htpasswd file for HTTP basic auth.";
      proxyPass = nullStr "proxy_pass target, e.g. http://upstream.";
      proxyWebsockets = bool false "Pass the Upgrade/Connection headers for websockets.";
      index = nullStr "index directive.";
      tryFiles = nullStr "try_files directive.";
      root = nullPath "root directive.";
      alias = nullPath "alias directive.";
      return = opt (types.nullOr (types.oneOf [ types.str types.int ])) null "return directive.";
      fastcgiParams = opt (types.attrsOf (types.either types.str types.path)) { } "fastcgi_param directives.";
      extraConfig = lines "Extra lines inside the location block.";
      priority = opt types.int 1000 "Order of the location block in the server (lower first).";
      recommendedProxySettings = opt types.bool cfg.recommendedProxySettings
        "Add the recommended proxy headers to this location.";
    };
  };
  listenAddress = { ... }: {
    options = {
      addr = mkOption { type = types.str; description = "Address to listen on."; };
      port = opt (types.nullOr types.port) null "Port to listen on (null: 80, or 443 with ssl).";
      ssl = bool false "Enable SSL on this listener.";
      proxyProtocol = bool false "Expect the PROXY protocol.";
      extraParameters = opt (types.listOf types.str) [ ] "Extra listen parameters.";
    };
  };
  vhost = { name, ... }: {
    options = {
      serverName = nullStr "server_name (null: the attribute name).";
      serverAliases = opt (types.listOf types.str) [ ] "Additional server names.";
      listen = opt (types.listOf (types.submodule listenAddress)) [ ] "Listeners (empty: the default ones).";
      listenAddresses = opt (types.listOf types.str) [ ] "Addresses to listen on with the default ports.";
      default = bool false "Make this the default_server.";
      http2 = bool true "Enable HTTP/2.";
      http3 = bool false "Enable HTTP/3.";
      quic = bool false "Enable QUIC.";
      reuseport = bool false "Add reuseport to the listeners.";
      enableACME = bool false "Get a certificate from ACME.";
      useACMEHost = nullStr "Use the ACME certificate of another host.";
      addSSL = bool false "Also listen with SSL.";
      onlySSL = bool false "Listen with SSL only.";
      forceSSL = bool false "Redirect HTTP to HTTPS.";
      rejectSSL = bool false "Reject SSL connections.";
      kTLS = bool false "Enable kernel TLS.";
      sslCertificate = mkOption { type = types.path; description = "Path to the server certificate."; };
      sslCertificateKey = mkOption { type = types.path; description = "Path to the certificate key."; };
      sslTrustedCertificate = nullPath "Path to the trusted CA chain.";
      root = nullPath "Document root.";
      globalRedirect = nullStr "Redirect every request to this host.";
      redirectCode = opt types.int 301 "HTTP status of globalRedirect.";
      basicAuth = opt (types.attrsOf types.str) { } "User/password pairs for HTTP basic auth.";
      basicAuthFile = nullPath "htpasswd file for HTTP basic auth.";
      locations = opt (types.attrsOf (types.submodule location)) { } "Location blocks by path.";
      extraConfig = lines "Extra lines inside the server block.";
    };
  };
  server = { ... }: {
    freeformType = types.attrsOf types.anything;
    options.backup = bool false "Mark the server as a backup server.";
  };
  upstream = { ... }: {
    options = {
      servers = opt (types.attrsOf (types.submodule server)) { } "Servers of the upstream by address.";
      extraConfig = lines "Extra lines inside the upstream block (e.g. least_conn;).";
    };
  };
in
{
  options.services.nginx = {
    enable = lib.mkEnableOption "the nginx web server";
    package = mkOption ({ type = types.package; description = "The nginx package to use."; }
      // lib.optionalAttrs (pkgs ? nginxStable || pkgs ? nginx) { default = pkgs.nginxStable or pkgs.nginx; });
    user = opt types.str "nginx" "User nginx runs as.";
    group = opt types.str "nginx" "Group nginx runs as.";
    enableReload = bool false "Reload nginx on configuration change instead of restarting it.";
    enableQuicBPF = bool false "Route QUIC packets with eBPF.";
    serverTokens = bool false "Show the nginx version in responses and error pages.";
    statusPage = bool false "Serve the stub_status page on localhost.";
    recommendedProxySettings = bool false "Use the recommended proxy headers and timeouts.";
    recommendedOptimisation = bool false "Use the recommended optimisation settings.";
    recommendedGzipSettings = bool false "Use the recommended gzip settings.";
    recommendedBrotliSettings = bool false "Use the recommended brotli settings.";
    recommendedZstdSettings = bool false "Use the recommended zstd settings.";
    recommendedTlsSettings = bool false "Use the recommended TLS settings.";
    clientMaxBodySize = opt types.str "10m" "client_max_body_size.";
    proxyTimeout = opt types.str "60s" "proxy_*_timeout of the recommended proxy settings.";
    proxyResolveWhileRunning = bool false "Resolve upstream names while running.";
    defaultListenAddresses = opt (types.listOf types.str) ([ "0.0.0.0" ] ++ lib.optional config.networking.enableIPv6 "[::0]")
      "Default listen addresses.";
    defaultHTTPListenPort = opt types.port 80 "Default HTTP port.";
    defaultSSLListenPort = opt types.port 443 "Default HTTPS port.";
    logError = opt types.str "stderr" "error_log target and level.";
    preStart = lines "Shell commands run before nginx starts.";
    config = opt types.str "" "Verbatim nginx.conf (replaces the generated one).";
    eventsConfig = lines "Lines inside the events block.";
    commonHttpConfig = lines "Lines at the start of the http block.";
    httpConfig = lines "Verbatim http block contents (replaces the generated one).";
    streamConfig = lines "Lines inside a stream block.";
    appendHttpConfig = lines "Lines appended to the http block.";
    appendConfig = lines "Lines appended to the main context.";
    validateConfigFile = bool true "Validate the generated nginx.conf at build time.";
    upstreams = opt (types.attrsOf (types.submodule upstream)) { } "upstream blocks by name.";
    virtualHosts = opt (types.attrsOf (types.submodule vhost)) { } "server blocks by name.";
  };
}
