"""TabbyAPI on NixOS: a base module (user, python3 and tools) before the imperative install, then the units as
a module (the Debian unit's directives, the tools on PATH, the driver's libraries), applied by a checked switch.

The module adopts an existing `systemd.services.tabbyapi` (seed 002 defines one in configuration.nix) through the
module system's merge instead of editing the operator's file: what hydra-ops owns is set with `lib.mkForce`, lists
it adds to concatenate, and the operator's other settings stay as defined.
"""

from __future__ import annotations

import json
from typing import Any

from hydra_ops import nix
from hydra_ops.operations import nixos
from hydra_ops.operations.service import GPU_GROUPS
from hydra_ops.services.tabbyapi.options import TabbyOptions
from hydra_ops.services.tabbyapi.state import unit_file
from hydra_ops.systemd_ini import parse, to_nixos


def nixos_base_module(o: TabbyOptions) -> str:
    """What the imperative install needs first on NixOS: the service user and python3 for the venv."""
    user = o.tabby_user
    return nix.module({
        "users": {"users": {user: {"isSystemUser": True, "group": user, "extraGroups": list(GPU_GROUPS),
                                   "description": "TabbyAPI (hydra-ops G10)"}},
                  "groups": {user: {}, **{g: {} for g in GPU_GROUPS}}},
        "environment": {"systemPackages": [nix.pkg_ref(p) for p in o.tabby_nix_packages]},
    }, "Managed by hydra-ops (G10): the TabbyAPI service user and the tools its install and prestart use.")


def nixos_module(units: list[tuple[TabbyOptions, str]], lib_dir: str) -> str:
    """TabbyAPI's units as NixOS options: the Debian unit's directives, plus the prestart's tools on PATH and
    LIBRARY_PATH (the libraries pip's wheels link, and the NVIDIA driver's)."""
    services, ports = {}, []
    for o, unit in units:
        service = to_nixos(parse(unit_file(o, lib_dir, unit)))
        service["path"] = [nix.pkg_ref(p) for p in o.tabby_nix_packages] + ["/run/current-system/sw"]
        service["environment"] = {**service.get("environment", {}), "LD_LIBRARY_PATH": LIBRARY_PATH}
        services[unit.removesuffix(".service")] = adopting(service)
        ports += [o.tabby_port] if o.tabby_open_firewall else []
    return nix.module({"systemd": {"services": services}, "networking": {"firewall": {"allowedTCPPorts": ports}}},
                      "Managed by hydra-ops (G10): TabbyAPI (seed 002) and its canary. Rendered from group data;\n"
                      "edit group_data/ai.py and re-run the deploy instead of this file.")


#: LD_LIBRARY_PATH of the venv's process: pip's wheels (torch, numpy, exllamav2) link libstdc++.so.6 and libz.so.1,
#: which NixOS has in no default path (a venv from the Nix Python finds neither); the driver's libraries (libcuda)
#: are under /run/opengl-driver/lib.
LIBRARY_PATH = nix.Raw('"${lib.makeLibraryPath [ pkgs.stdenv.cc.cc.lib pkgs.zlib ]}:/run/opengl-driver/lib"')


def _env_item(key: str, value: Any) -> str | nix.Raw:
    """One `Environment=` entry, quoted for systemd; a Nix expression value (LIBRARY_PATH) is spliced in."""
    if isinstance(value, nix.Raw):
        return nix.Raw(f"{nix.expr(chr(34) + key + '=')} + {value} + {nix.expr(chr(34))}")
    return json.dumps(f"{key}={value}")


def _force(value: Any) -> nix.Raw:
    """``lib.mkForce <value>``: hydra-ops' definition replaces any other of the same option."""
    return nix.Raw(f"lib.mkForce ({nix.expr(value)})")


#: Options whose definitions concatenate (lists): hydra-ops' entries join the operator's, nothing to force.
_MERGED = {"after", "before", "wants", "requires", "documentation", "wantedBy", "path"}


def adopting(service: dict[str, Any]) -> dict[str, Any]:
    """A `systemd.services.<name>` definition that wins over an operator's definition of the same unit.

    Every setting hydra-ops sets is forced, per attribute, so the operator's others survive the merge. Its
    variables go to `serviceConfig.Environment` with `lib.mkAfter` rather than `environment`: NixOS writes
    `environment` first and `serviceConfig` after it, and in systemd a later assignment of a variable wins, so
    hydra-ops' values override the operator's `Environment` entries of the same names and keep the others.
    """
    out: dict[str, Any] = {}
    for key, value in service.items():
        if key in _MERGED:
            out[key] = value
        elif key in ("serviceConfig", "unitConfig"):
            out[key] = {k: _force(v) for k, v in value.items()}
        elif key != "environment":
            out[key] = _force(value)
    env = [_env_item(k, v) for k, v in service.get("environment", {}).items()]
    if env:
        out.setdefault("serviceConfig", {})["Environment"] = nix.Raw(f"lib.mkAfter ({nix.expr(env)})")
    return out


def base(o: TabbyOptions, config_dir: str) -> None:
    """Switch to the base module first: the install runs as its user with its python3."""
    nixos.modules(name="G10: NixOS module tabbyapi-base.nix (user, python3 and tools)",
                  files_wanted={"tabbyapi-base.nix": nixos_base_module(o)}, config_dir=config_dir, health=[],
                  timeout=30)


def apply(units: list[tuple[TabbyOptions, str]], lib_dir: str, config_dir: str) -> None:
    """Write the units' module and switch; every unit must answer /health or the previous generation comes back."""
    nixos.modules(name="G10: NixOS module tabbyapi.nix (dry-build, switch, health check, rollback on failure)",
                  files_wanted={"tabbyapi.nix": nixos_module(units, lib_dir)}, config_dir=config_dir,
                  timeout=units[0][0].tabby_timeout_start_sec, units=[unit for _, unit in units],
                  health=[f"curl -fsS -o /dev/null http://127.0.0.1:{o.tabby_port}/health" for o, _ in units])
