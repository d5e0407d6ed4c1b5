"""The `config` parts of the nixpkgs modules the double implements: services.ollama, services.nginx and
services.prometheus.exporters.node add units, users, firewall ports and packages, merged with what the configuration
declares as NixOS merges definitions; the nvidia driver adds its package to the system path."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from . import exporters, nginx
from .store import add_text
from .units import SERVICE_DEFAULTS

OLLAMA_DEFAULTS: dict[str, Any] = {
    "enable": False, "host": "127.0.0.1", "port": 11434, "home": "/var/lib/ollama", "models": None,
    "environmentVariables": {}, "openFirewall": False, "user": None, "group": None, "package": None,
}


def _merge_lists(a: list, b: list) -> list:
    out = list(a)
    out += [x for x in b if x not in out]
    return out


def _merge_settings(module: dict[str, Any], declared: dict[str, Any]) -> dict[str, Any]:
    """serviceConfig-style sets: a list on either side concatenates (systemd's unitOption), else the config wins."""
    merged = dict(module)
    for key, value in declared.items():
        old = merged.get(key)
        if key in merged and (isinstance(old, list) or isinstance(value, list)):
            merged[key] = [*(old if isinstance(old, list) else [old]), *(value if isinstance(value, list) else [value])]
        else:
            merged[key] = value
    return merged


def merge_service(module: dict[str, Any], declared: dict[str, Any] | None) -> dict[str, Any]:
    """A module's service definition merged with the configuration's own `systemd.services.<same name>`."""
    merged = copy.deepcopy(module)
    for key, value in (declared or {}).items():
        if value is None or value == SERVICE_DEFAULTS.get(key, object()):
            continue
        old = merged.get(key)
        if isinstance(value, list) and isinstance(old, list):
            merged[key] = _merge_lists(old, value)
        elif isinstance(value, dict) and isinstance(old, dict):
            merged[key] = _merge_settings(old, value)
        else:
            merged[key] = value
    return merged


def ollama_settings(config: dict[str, Any]) -> dict[str, Any]:
    cfg = dict(OLLAMA_DEFAULTS)
    cfg.update({k: v for k, v in ((config.get("services") or {}).get("ollama") or {}).items() if v is not None})
    if not cfg["models"]:
        cfg["models"] = f"{cfg['home']}/models"
    return cfg


def ollama_service(cfg: dict[str, Any]) -> dict[str, Any]:
    """systemd.services.ollama as nixpkgs' ollama module builds it."""
    package = cfg["package"] or "/usr/local"
    env = {**(cfg["environmentVariables"] or {}), "HOME": cfg["home"], "OLLAMA_MODELS": cfg["models"],
           "OLLAMA_HOST": f"{cfg['host']}:{cfg['port']}"}
    service_config: dict[str, Any] = {
        "Type": "exec", "ExecStart": f"{package}/bin/ollama serve", "WorkingDirectory": cfg["home"],
        "StateDirectory": ["ollama"], "NoNewPrivileges": True, "PrivateTmp": True, "LockPersonality": True,
        "RestrictAddressFamilies": ["AF_INET", "AF_INET6", "AF_UNIX"], "UMask": "0077",
    }
    if cfg["user"]:
        service_config.update({"User": cfg["user"], "Group": cfg["group"] or cfg["user"]})
    else:
        service_config["DynamicUser"] = True
    return {"description": "Server for local large language models", "wantedBy": ["multi-user.target"],
            "after": ["network.target"], "environment": env, "serviceConfig": service_config}


def nvidia_packages(config: dict[str, Any]) -> list[str]:
    """hardware.nvidia.package when services.xserver.videoDrivers selects nvidia (its bin output joins the path)."""
    drivers = ((config.get("services") or {}).get("xserver") or {}).get("videoDrivers") or []
    package = ((config.get("hardware") or {}).get("nvidia") or {}).get("package")
    return [package] if "nvidia" in drivers and package else []


def expand(root: Path, config: dict[str, Any]) -> dict[str, Any]:
    """What the configuration asks for once the modules' config parts are applied.

    Returns {"services": {name: entry}, "users": {...}, "groups": {...}, "tcp_ports": [...], "packages": [...],
    "nginx_conf": str | None}.
    """
    systemd = config.get("systemd") or {}
    services = {n: s for n, s in (systemd.get("services") or {}).items() if (s or {}).get("enable", True)}
    users_cfg = config.get("users") or {}
    users = copy.deepcopy(users_cfg.get("users") or {})
    groups = copy.deepcopy(users_cfg.get("groups") or {})
    packages = list((config.get("environment") or {}).get("systemPackages") or [])
    tcp_ports: list[int] = []
    nginx_conf = None

    ollama = ollama_settings(config)
    if ollama["enable"]:
        services["ollama"] = merge_service(ollama_service(ollama), services.get("ollama"))
        if ollama["user"]:
            group = ollama["group"] or ollama["user"]
            users.setdefault(ollama["user"], {"isSystemUser": True, "group": group, "home": ollama["home"]})
            groups.setdefault(group, {})
        if ollama["openFirewall"]:
            tcp_ports.append(ollama["port"])
        if ollama["package"] and ollama["package"] not in packages:
            packages.append(ollama["package"])

    node = exporters.node(root, config)
    if node:
        for name, entry in node["services"].items():
            services[name] = merge_service(entry, services.get(name))
        for name, account in node["users"].items():
            users[name] = exporters.merge_account(account, users.get(name))
        for name in node["groups"]:
            groups.setdefault(name, {})
        tcp_ports += node["tcp_ports"]
    packages += [p for p in nvidia_packages(config) if p not in packages]

    ngx = nginx.settings(config)
    if ngx["enable"]:
        nginx_conf = nginx.render_conf(ngx)
        conf_path = add_text(root, "nginx.conf", nginx_conf)
        services["nginx"] = merge_service(nginx.service(ngx, conf_path), services.get("nginx"))
        if ngx["user"] == "nginx":
            users.setdefault("nginx", {"isSystemUser": True, "group": ngx["group"]})
        if ngx["group"] == "nginx":
            groups.setdefault("nginx", {})
    return {"services": services, "users": users, "groups": groups, "tcp_ports": tcp_ports, "packages": packages,
            "nginx_conf": nginx_conf, "nginx": ngx}
