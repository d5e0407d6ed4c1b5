"""Exporters on a Debian host: Debian's node exporter on every host, hydra-ops' nvidia-smi exporter on the GPU
hosts, each restarted only when its settings change and waited for until it answers."""

from __future__ import annotations

from io import StringIO

from pyinfra.api import deploy
from pyinfra.operations import files, server, systemd

from hydra_ops import PROJECT_ROOT
from hydra_ops.operations.packages import debian_packages
from hydra_ops.operations.service import GPU_GROUPS, run_and_restart_on_change
from hydra_ops.render import render

EXPORTER = PROJECT_ROOT / "hydra_ops" / "stack_files" / "gpu_exporter.py"
NODE_DEFAULTS = "/etc/default/prometheus-node-exporter"


@deploy("Monitoring: exporters")
def exporters(node_port: int, gpu_port: int | None, lib_dir: str) -> None:
    """node exporter on node_port; the GPU exporter on gpu_port when the host has GPUs (None: it has none)."""
    debian_packages(name="Monitoring: node exporter (Debian package), curl for the readiness checks",
                    packages=["prometheus-node-exporter", "curl"],
                    no_recommends=True)
    args = files.put(name="Monitoring: node exporter listens on its port",
                     src=StringIO(f'# Managed by hydra-ops\nARGS="--web.listen-address=:{int(node_port)}"\n'),
                     dest=NODE_DEFAULTS, mode="644")
    run_and_restart_on_change("Monitoring", "prometheus-node-exporter.service", [args],
                              f"http://127.0.0.1:{int(node_port)}/metrics", 60)
    if gpu_port is None:
        return
    for group in GPU_GROUPS:  # the unit joins them; on a host not yet deployed by G1/G10 they may not exist
        server.group(name=f"Monitoring: GPU device group {group}", group=group, system=True)
    files.directory(name="Monitoring: helper directory", path=lib_dir, mode="755")
    script = files.put(name="Monitoring: nvidia-smi exporter", src=str(EXPORTER), dest=f"{lib_dir}/gpu-exporter.py",
                       mode="755")
    unit = files.put(name="Monitoring: gpu-exporter.service", mode="644",
                     src=StringIO(render("gpu-exporter.service.j2", python="/usr/bin/python3",
                                         exporter=f"{lib_dir}/gpu-exporter.py", listen=f"0.0.0.0:{int(gpu_port)}",
                                         nvidia_smi="/usr/bin/nvidia-smi")),
                     dest="/etc/systemd/system/hydra-gpu-exporter.service")
    systemd.daemon_reload(name="Monitoring: reload systemd units", _if=unit.did_change)
    run_and_restart_on_change("Monitoring", "hydra-gpu-exporter.service", [script, unit],
                              f"http://127.0.0.1:{int(gpu_port)}/metrics", 60)
