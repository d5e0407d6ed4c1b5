"""Metrics and alerts (seed 001 Part 10, the metrics half of G6): exporters on every host (debian.py), Prometheus
and Alertmanager in the storage stack (stack.py), configuration generated from the inventory (state.py).

options.py declares the settings. The n8n resource-monitor workflow (G6 proper) and Uptime Kuma (G9) are not
built yet; the registry tracks them.
"""

from __future__ import annotations

from pyinfra import host

from hydra_ops.platform import PlatformOptions
from hydra_ops.services.monitoring.options import MonitoringOptions
from hydra_ops.settings import load

PLATFORMS = ("debian",)


def deploy_exporters() -> None:
    """The exporters this host gets (a GPU exporter only where GPUs are expected)."""
    from hydra_ops.services.monitoring.debian import exporters

    o = load(MonitoringOptions, host.data.dict(), host.name)
    p = load(PlatformOptions, host.data.dict(), host.name)
    exporters(o.node_exporter_port, o.gpu_exporter_port if p.expected_gpu_count else None, p.hydra_lib_dir)
