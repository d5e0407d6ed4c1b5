"""Ollama on NixOS: the instances as a module (the Debian unit's directives and environment, the user, the
directories, the audit's services.ollama switched off in the same generation), applied by a checked switch."""

from __future__ import annotations

from hydra_ops import nix
from hydra_ops.operations import nixos
from hydra_ops.operations.service import GPU_GROUPS
from hydra_ops.services.ollama.options import OllamaOptions
from hydra_ops.services.ollama.state import STATE_DIR, env_file, unit_file
from hydra_ops.systemd_ini import parse, parse_env, to_nixos

MODULE = "ollama.nix"


def module(o: OllamaOptions) -> str:
    """/etc/nixos/hydra-ops/ollama.nix for these options."""
    template = parse(unit_file(o, nix.package(o.ollama_nix_package) + "/bin/ollama"))
    services: dict = {o.ollama_legacy_unit.removesuffix(".service"): {"enable": nix.Raw("lib.mkForce false")}}
    for inst in o.instances:
        services[inst.unit.removesuffix(".service")] = to_nixos(template, parse_env(env_file(o, inst)))
    user = o.ollama_user
    config = {
        "services": {"ollama": {"enable": nix.Raw("lib.mkForce false")}},
        "systemd": {"services": services, "tmpfiles": {"rules": [
            f"d {STATE_DIR} 0750 {user} {user} -", f"d {o.ollama_models_dir} 0750 {user} {user} -"]}},
        "users": {"users": {user: {"isSystemUser": True, "group": user, "extraGroups": list(GPU_GROUPS),
                                   "description": "Ollama instances (hydra-ops G1)"}},
                  "groups": {user: {}, **{g: {} for g in GPU_GROUPS}}},
        "environment": {"systemPackages": [nix.pkg_ref(o.ollama_nix_package)]},
        "networking": {"firewall": {"allowedTCPPorts": [i.port for i in o.instances] if o.ollama_open_firewall
                                    else []}},
    }
    return nix.module(config, "Managed by hydra-ops (G1): one Ollama instance per GPU. Rendered from group data;\n"
                              "change the group data and re-run the deploy instead of editing this file.")


def apply(o: OllamaOptions, config_dir: str) -> None:
    """Write the module and switch to it; the instances must answer or the previous generation comes back."""
    nixos.modules(name=f"G1: NixOS module {MODULE} (dry-build, switch, health check, rollback on failure)",
                  files_wanted={MODULE: module(o)}, config_dir=config_dir,
                  health=[f"curl -fsS -o /dev/null http://127.0.0.1:{o.internal_port(i)}/api/version"
                          for i in o.instances],
                  timeout=o.ollama_ready_timeout, units=[i.unit for i in o.instances])
