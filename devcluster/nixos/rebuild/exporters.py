"""services.prometheus.exporters: the `config` part of nixpkgs' exporters module for the node exporter (the only
exporter the evaluator declares): its unit, its static user and group, and the port openFirewall opens."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from .store import PKGS_JSON, host

DOUBLE_CONFIG = "etc/hydra-nixos/double.json"
NODE_PACKAGE = "prometheus-node-exporter"

NODE_DEFAULTS: dict[str, Any] = {
    "enable": False, "port": 9100, "listenAddress": "0.0.0.0", "extraFlags": [], "openFirewall": False,
    "firewallFilter": None, "firewallRules": None, "user": "node-exporter", "group": "node-exporter",
    "enabledCollectors": [], "disabledCollectors": [],
}

# What exporters.nix gives every exporter's unit besides User/Group/DynamicUser (hardening included).
COMMON_SERVICE_CONFIG: dict[str, Any] = {
    "Restart": "always", "PrivateTmp": True, "WorkingDirectory": "/tmp",
    "CapabilityBoundingSet": [""], "DeviceAllow": [""], "LockPersonality": True, "MemoryDenyWriteExecute": True,
    "NoNewPrivileges": True, "PrivateDevices": True, "ProtectClock": True, "ProtectControlGroups": True,
    "ProtectHome": True, "ProtectHostname": True, "ProtectKernelLogs": True, "ProtectKernelModules": True,
    "ProtectKernelTunables": True, "ProtectSystem": "strict", "RemoveIPC": True,
    "RestrictAddressFamilies": ["AF_INET", "AF_INET6"], "RestrictNamespaces": True, "RestrictRealtime": True,
    "RestrictSUIDSGID": True, "SystemCallArchitectures": "native", "UMask": "0077",
}


def node_settings(config: dict[str, Any]) -> dict[str, Any]:
    """services.prometheus.exporters.node with nixpkgs' defaults for whatever the config leaves out."""
    exporters = ((config.get("services") or {}).get("prometheus") or {}).get("exporters") or {}
    cfg = dict(NODE_DEFAULTS)
    cfg.update({k: v for k, v in (exporters.get("node") or {}).items() if v is not None})
    return cfg


def _pkgs_file(root: Path) -> Path:
    """The pkgs.json the evaluator reads (double.json's "pkgs", else the default place), under `root`."""
    try:
        named = json.loads((root / DOUBLE_CONFIG).read_text()).get("pkgs")
    except (OSError, ValueError, AttributeError):
        named = None
    return host(root, named or PKGS_JSON)


def package_path(root: Path, attr: str) -> str:
    """`pkgs.<attr>`'s outPath, for modules that name a package without a `package` option.

    Raises realise.BuildError when the package set lacks it, as evaluating `pkgs.<attr>` would fail on NixOS.
    """
    path = _pkgs_file(root)
    try:
        out = (json.loads(path.read_text()).get(attr) or {}).get("outPath")
    except (OSError, ValueError, AttributeError):
        out = None
    if not out:
        from .realise import BuildError  # realise imports this module (through modules) at load time

        raise BuildError(f"attribute '{attr}' missing from the package set (/{path.relative_to(root)})")
    return str(out)


def node_exec_start(cfg: dict[str, Any], package: str) -> str:
    """node.nix's ExecStart, its continuation lines folded into one line."""
    parts = [f"{package}/bin/node_exporter"]
    parts += [f"--collector.{c}" for c in cfg["enabledCollectors"]]
    parts += [f"--no-collector.{c}" for c in cfg["disabledCollectors"]]
    parts += ["--web.listen-address", f"{cfg['listenAddress']}:{cfg['port']}", *cfg["extraFlags"]]
    return " ".join(parts)


def node_service(cfg: dict[str, Any], package: str) -> dict[str, Any]:
    """systemd.services.prometheus-node-exporter: exporters.nix's common unit merged with node.nix's settings."""
    enabled, disabled = cfg["enabledCollectors"], cfg["disabledCollectors"]
    families = list(COMMON_SERVICE_CONFIG["RestrictAddressFamilies"])
    if "systemd" in enabled or "logind" in enabled:
        families.append("AF_UNIX")
    if "netdev" not in disabled:
        families.append("AF_NETLINK")
    service_config = copy.deepcopy(COMMON_SERVICE_CONFIG)
    service_config.update({
        "DynamicUser": False, "User": cfg["user"], "Group": cfg["group"],
        "RuntimeDirectory": "prometheus-node-exporter", "ExecStart": node_exec_start(cfg, package),
        "RestrictAddressFamilies": families, "ProtectClock": "timex" in disabled, "ProtectHome": True,
    })
    return {"wantedBy": ["multi-user.target"], "after": ["network.target"], "serviceConfig": service_config}


def merge_account(module: dict[str, Any], declared: dict[str, Any] | None) -> dict[str, Any]:
    """A module's account with what the config sets itself on top (unset or empty values keep the module's)."""
    merged = dict(module)
    merged.update({k: v for k, v in (declared or {}).items() if v not in (None, "", False, [], {}) or k not in module})
    return merged


def node(root: Path, config: dict[str, Any]) -> dict[str, Any] | None:
    """What an enabled node exporter adds: {"services": {name: entry}, "users", "groups", "tcp_ports"}; else None."""
    cfg = node_settings(config)
    if not cfg["enable"]:
        return None
    added: dict[str, Any] = {
        "services": {"prometheus-node-exporter": node_service(cfg, package_path(root, NODE_PACKAGE))},
        "users": {}, "groups": {}, "tcp_ports": [cfg["port"]] if cfg["openFirewall"] else [],
    }
    # node turns DynamicUser off, so the module declares the account while user/group keep their defaults
    if cfg["user"] == "node-exporter":
        added["users"]["node-exporter"] = {"isSystemUser": True, "group": cfg["group"],
                                           "description": "prometheus node exporter"}
    if cfg["group"] == "node-exporter":
        added["groups"]["node-exporter"] = {}
    return added
