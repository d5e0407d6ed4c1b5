"""Exporters on NixOS: nixpkgs' own node exporter module (`services.prometheus.exporters.node`), and hydra-ops'
nvidia-smi exporter as a unit from the same template as on Debian (same metrics and labels on every platform),
in one module applied by a checked switch."""

from __future__ import annotations

import hashlib

from pyinfra.operations import files

from hydra_ops import nix
from hydra_ops.operations import nixos
from hydra_ops.operations.service import GPU_GROUPS
from hydra_ops.render import render
from hydra_ops.services.monitoring.debian import EXPORTER
from hydra_ops.systemd_ini import parse, to_nixos

MODULE = "monitoring.nix"
UNIT = "hydra-gpu-exporter"


def module(node_port: int, gpu_port: int | None, lib_dir: str, open_firewall: bool) -> str:
    """/etc/nixos/hydra-ops/monitoring.nix: the node exporter, and the GPU exporter when gpu_port is set (nvidia-smi
    from the system profile, where NixOS' nvidia driver puts it)."""
    config: dict = {"services": {"prometheus": {"exporters": {"node": {
        "enable": True, "port": node_port, "openFirewall": open_firewall}}}}}
    if gpu_port is not None:
        unit = parse(render("gpu-exporter.service.j2", python=nix.package("python3") + "/bin/python3",
                            exporter=f"{lib_dir}/gpu-exporter.py", listen=f"0.0.0.0:{gpu_port}",
                            nvidia_smi="nvidia-smi"))
        service = to_nixos(unit)
        service["path"] = ["/run/current-system/sw"]
        # the script lives outside the store: its digest in the unit makes a new script restart the service
        digest = hashlib.sha256(EXPORTER.read_bytes()).hexdigest()
        service["environment"] = {**service.get("environment", {}), "HYDRA_GPU_EXPORTER_SHA256": digest}
        config["systemd"] = {"services": {UNIT: service}}
        config["users"] = {"groups": {g: {} for g in GPU_GROUPS}}
        config["networking"] = {"firewall": {"allowedTCPPorts": [gpu_port] if open_firewall else []}}
    return nix.module(config, "Managed by hydra-ops (seed 001 Part 10): the exporters Prometheus scrapes. Rendered "
                              "from group data;\nchange the group data and re-run deploys/monitoring.py instead of "
                              "editing this file.")


def apply(node_port: int, gpu_port: int | None, lib_dir: str, config_dir: str, open_firewall: bool) -> None:
    """The exporter script in place, then the module; both exporters must answer or the previous generation
    comes back."""
    if gpu_port is not None:
        files.directory(name="Monitoring: helper directory", path=lib_dir, mode="755")
        files.put(name="Monitoring: nvidia-smi exporter", src=str(EXPORTER), dest=f"{lib_dir}/gpu-exporter.py",
                  mode="755")
    health = [f"curl -fsS -o /dev/null http://127.0.0.1:{port}/metrics"
              for port in (node_port, gpu_port) if port is not None]
    nixos.modules(name=f"Monitoring: NixOS module {MODULE} (dry-build, switch, health check, rollback on failure)",
                  files_wanted={MODULE: module(node_port, gpu_port, lib_dir, open_firewall)},
                  config_dir=config_dir, health=health, timeout=60,
                  units=["prometheus-node-exporter.service"] + ([f"{UNIT}.service"] if gpu_port is not None else []))
