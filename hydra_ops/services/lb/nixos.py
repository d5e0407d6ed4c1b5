"""The LB on NixOS: services.nginx carries the identical upstream + server block (appendHttpConfig), reloads
instead of restarting on a change, and the firewall opens lb_port; applied by a checked switch."""

from __future__ import annotations

from hydra_ops import nix
from hydra_ops.operations import nixos
from hydra_ops.services.lb.options import LbOptions
from hydra_ops.services.lb.state import serving

MODULE = "ollama-lb.nix"


def module(lb: LbOptions, config: str) -> str:
    """/etc/nixos/hydra-ops/ollama-lb.nix for this LB config."""
    return nix.module({
        "services": {"nginx": {"enable": True, "enableReload": True, "appendHttpConfig": config}},
        "networking": {"firewall": {"allowedTCPPorts": [lb.lb_port] if lb.lb_open_firewall else []}},
    }, "Managed by hydra-ops (G2): nginx least_conn LB in front of the Ollama instances. Rendered from group\n"
       "data; change the group data and re-run the deploy instead of editing this file.")


def apply(lb: LbOptions, config: str, config_dir: str) -> None:
    """Write the module and switch; dry-build checks nginx.conf, the new config must be served or it rolls back."""
    nixos.modules(name=f"G2: NixOS module {MODULE} (dry-build checks nginx.conf; health; rollback)",
                  files_wanted={MODULE: module(lb, config)}, config_dir=config_dir,
                  health=[serving(lb, config)], timeout=60, units=["nginx.service"])
