"""services.nginx: nginx.conf rendered in the layout of nixpkgs' nginx module, and its nginx.service."""

from __future__ import annotations

from typing import Any

CONF_PATH = "/etc/nginx/nginx.conf"
MIME_TYPES = "/etc/nginx/mime.types"  # Debian's copy; nixpkgs includes mailcap's

NGINX_DEFAULTS: dict[str, Any] = {
    "enable": False, "enableReload": False, "user": "nginx", "group": "nginx", "serverTokens": False,
    "clientMaxBodySize": "10m", "logError": "stderr", "eventsConfig": "", "commonHttpConfig": "", "httpConfig": "",
    "appendHttpConfig": "", "appendConfig": "", "config": "", "upstreams": {}, "virtualHosts": {},
    "recommendedProxySettings": False, "recommendedOptimisation": False, "recommendedGzipSettings": False,
    "proxyTimeout": "60s", "defaultListenAddresses": ["0.0.0.0"], "defaultHTTPListenPort": 80, "package": None,
    "preStart": "",
}

RECOMMENDED_PROXY_HEADERS = """proxy_set_header Host $host;
proxy_set_header X-Real-IP $remote_addr;
proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
proxy_set_header X-Forwarded-Proto $scheme;
proxy_set_header X-Forwarded-Host $host;
proxy_set_header X-Forwarded-Server $host;"""


def settings(config: dict[str, Any]) -> dict[str, Any]:
    """services.nginx with nixpkgs' defaults filled in."""
    cfg = dict(NGINX_DEFAULTS)
    cfg.update({k: v for k, v in ((config.get("services") or {}).get("nginx") or {}).items() if v is not None})
    return cfg


def _indent(text: str, prefix: str = "  ") -> list[str]:
    return [prefix + line if line.strip() else "" for line in text.strip("\n").splitlines()] if text.strip() else []


def _upstream(name: str, up: dict[str, Any]) -> list[str]:
    lines = [f"upstream {name} {{"]
    for addr, server in (up.get("servers") or {}).items():
        server = server or {}
        params = " backup" if server.get("backup") else ""
        lines.append(f"  server {addr}{params};")
    lines += _indent(up.get("extraConfig") or "")
    return [*lines, "}"]


def _listen(cfg: dict[str, Any], vhost: dict[str, Any]) -> list[str]:
    listens = vhost.get("listen") or []
    suffix = " default_server" if vhost.get("default") else ""
    if not listens:
        addrs = vhost.get("listenAddresses") or cfg["defaultListenAddresses"]
        return [f"listen {a}:{cfg['defaultHTTPListenPort']}{suffix};" for a in addrs]
    out = []
    for item in listens:
        addr = item.get("addr", "0.0.0.0")
        port = item.get("port") or cfg["defaultHTTPListenPort"]
        extra = "".join(f" {p}" for p in (item.get("extraParameters") or []))
        ssl = " ssl" if item.get("ssl") else ""
        out.append(f"listen {addr}:{port}{ssl}{suffix}{extra};")
    return out


def _location(cfg: dict[str, Any], path: str, loc: dict[str, Any]) -> list[str]:
    body: list[str] = []
    if loc.get("proxyPass"):
        body.append(f"proxy_pass {loc['proxyPass']};")
        if loc.get("proxyWebsockets"):
            body += ["proxy_http_version 1.1;", "proxy_set_header Upgrade $http_upgrade;",
                     "proxy_set_header Connection $connection_upgrade;"]
    if loc.get("root"):
        body.append(f"root {loc['root']};")
    if loc.get("alias"):
        body.append(f"alias {loc['alias']};")
    if loc.get("return") is not None:
        body.append(f"return {loc['return']};")
    if loc.get("index"):
        body.append(f"index {loc['index']};")
    body += (loc.get("extraConfig") or "").strip("\n").splitlines() if (loc.get("extraConfig") or "").strip() else []
    recommended = loc.get("recommendedProxySettings")
    if loc.get("proxyPass") and (cfg["recommendedProxySettings"] if recommended is None else recommended):
        body += RECOMMENDED_PROXY_HEADERS.splitlines()
    return [f"location {path} {{", *_indent("\n".join(body)), "}"]


def _vhost(cfg: dict[str, Any], name: str, vhost: dict[str, Any]) -> list[str]:
    names = [vhost.get("serverName") or name, *(vhost.get("serverAliases") or [])]
    lines = ["server {", *_indent("\n".join(_listen(cfg, vhost))), f"  server_name {' '.join(names)};"]
    if vhost.get("root"):
        lines.append(f"  root {vhost['root']};")
    for path, loc in sorted((vhost.get("locations") or {}).items()):
        lines += _indent("\n".join(_location(cfg, path, loc or {})))
    lines += _indent(vhost.get("extraConfig") or "")
    return [*lines, "}"]


def render_conf(cfg: dict[str, Any]) -> str:
    """nginx.conf for services.nginx (`cfg` from `settings`)."""
    lines = [f"user {cfg['user']} {cfg['group']};", "worker_processes auto;", "pid /run/nginx/nginx.pid;",
             f"error_log {cfg['logError']};", "daemon off;", ""]
    lines += cfg["config"].strip("\n").splitlines() if cfg["config"].strip() else []
    if cfg["eventsConfig"] or not cfg["config"]:
        lines += ["events {", *_indent(cfg["eventsConfig"]), "}", ""]
    if not cfg["httpConfig"] and not cfg["config"]:
        http = [f"include {MIME_TYPES};", "types_hash_max_size 4096;", "default_type application/octet-stream;"]
        if cfg["recommendedOptimisation"]:
            http += ["sendfile on;", "tcp_nopush on;", "tcp_nodelay on;", "keepalive_timeout 65;"]
        if cfg["recommendedGzipSettings"]:
            http += ["gzip on;", "gzip_proxied any;", "gzip_comp_level 5;", "gzip_vary on;"]
        if cfg["recommendedProxySettings"]:
            timeout = cfg["proxyTimeout"]
            http += ["proxy_redirect off;", f"proxy_connect_timeout {timeout};", f"proxy_send_timeout {timeout};",
                     f"proxy_read_timeout {timeout};", "proxy_http_version 1.1;", 'proxy_set_header "Connection" "";',
                     *RECOMMENDED_PROXY_HEADERS.splitlines()]
        http += ["map $http_upgrade $connection_upgrade {", "  default upgrade;", "  '' close;", "}",
                 f"client_max_body_size {cfg['clientMaxBodySize']};",
                 f"server_tokens {'on' if cfg['serverTokens'] else 'off'};", ""]
        http += cfg["commonHttpConfig"].strip("\n").splitlines() if cfg["commonHttpConfig"].strip() else []
        for name, up in sorted((cfg["upstreams"] or {}).items()):
            http += _upstream(name, up or {})
        for name, vhost in sorted((cfg["virtualHosts"] or {}).items()):
            http += _vhost(cfg, name, vhost or {})
        http += cfg["appendHttpConfig"].strip("\n").splitlines() if cfg["appendHttpConfig"].strip() else []
        lines += ["http {", *_indent("\n".join(http)), "}", ""]
    if cfg["httpConfig"]:
        lines += ["http {", f"  include {MIME_TYPES};", *_indent(cfg["httpConfig"]), "}", ""]
    lines += cfg["appendConfig"].strip("\n").splitlines() if cfg["appendConfig"].strip() else []
    return "\n".join(lines).rstrip("\n") + "\n"


def nginx_binary(cfg: dict[str, Any]) -> str:
    return f"{cfg['package']}/bin/nginx" if cfg.get("package") else "/usr/sbin/nginx"


def service(cfg: dict[str, Any], conf_store_path: str) -> dict[str, Any]:
    """systemd.services.nginx as nixpkgs' module defines it (master runs as root here, workers as `user`).

    A changed nginx.conf restarts nginx, or reloads it when enableReload is true (the conf's store path is the
    unit's restart or reload trigger, which is what nixpkgs' nginx-config-reload unit amounts to).
    """
    exec_command = f"{nginx_binary(cfg)} -c {CONF_PATH}"
    entry: dict[str, Any] = {
        "description": "Nginx Web Server", "wantedBy": ["multi-user.target"], "after": ["network.target"],
        "stopIfChanged": False, "startLimitIntervalSec": 60, "preStart": cfg["preStart"],
        "serviceConfig": {
            "ExecStartPre": f"{exec_command} -t", "ExecStart": exec_command,
            "ExecReload": [f"{exec_command} -t", "/bin/kill -HUP $MAINPID"], "Restart": "always",
            "RestartSec": "10s", "RuntimeDirectory": "nginx", "RuntimeDirectoryMode": "0750",
            "CacheDirectory": "nginx", "CacheDirectoryMode": "0750", "LogsDirectory": "nginx",
            "LogsDirectoryMode": "0750",
        },
    }
    entry["reloadTriggers" if cfg["enableReload"] else "restartTriggers"] = [conf_store_path]
    return entry
