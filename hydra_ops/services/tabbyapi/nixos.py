"""TabbyAPI on NixOS: a base module (user, python3 and tools) before the imperative install, then the units as
a module (the Debian unit's directives, the tools on PATH, the driver's libraries), applied by a checked switch."""

from __future__ import annotations

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
    the NVIDIA driver's libraries (pip's CUDA wheels look for libcuda there on NixOS)."""
    services, ports = {}, []
    for o, unit in units:
        service = to_nixos(parse(unit_file(o, lib_dir, unit)))
        service["path"] = [nix.pkg_ref(p) for p in o.tabby_nix_packages] + ["/run/current-system/sw"]
        service["environment"] = {**service.get("environment", {}), "LD_LIBRARY_PATH": "/run/opengl-driver/lib"}
        services[unit.removesuffix(".service")] = service
        ports += [o.tabby_port] if o.tabby_open_firewall else []
    return nix.module({"systemd": {"services": services}, "networking": {"firewall": {"allowedTCPPorts": ports}}},
                      "Managed by hydra-ops (G10): TabbyAPI (seed 002) and its canary. Rendered from group data;\n"
                      "edit group_data/ai.py and re-run the deploy instead of this file.")


def base(o: TabbyOptions, config_dir: str) -> None:
    """Switch to the base module first: the install runs as its user with its python3."""
    nixos.modules(name="G10: NixOS module tabbyapi-base.nix (user, python3 and tools)",
                  files_wanted={"tabbyapi-base.nix": nixos_base_module(o)}, config_dir=config_dir, health=[],
                  timeout=30)


def apply(units: list[tuple[TabbyOptions, str]], lib_dir: str, config_dir: str) -> None:
    """Write the units' module and switch; every unit must answer /health or the previous generation comes back."""
    nixos.modules(name="G10: NixOS module tabbyapi.nix (dry-build, switch, health check, rollback on failure)",
                  files_wanted={"tabbyapi.nix": nixos_module(units, lib_dir)}, config_dir=config_dir,
                  timeout=units[0][0].tabby_timeout_start_sec,
                  health=[f"curl -fsS -o /dev/null http://127.0.0.1:{o.tabby_port}/health" for o, _ in units])
