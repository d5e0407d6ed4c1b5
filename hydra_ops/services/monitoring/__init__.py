"""Metrics and alerts (seed 001 Part 10) and the resource monitor (G6): exporters on every host (debian.py,
nixos.py; on Unraid the node exporter is the stack's `node-exporter` service), Prometheus, Alertmanager, Uptime
Kuma (G9) and n8n in the storage stack (stack.py), configuration and the workflow generated from the inventory
(state.py, workflow.py), their APIs (kuma.py, n8n.py) and detectors (detect.py).

options.py declares the settings.
"""

from __future__ import annotations

from pyinfra import host

from hydra_ops import config
from hydra_ops.validation import ValidationError

PLATFORMS = ("debian", "nixos", "unraid")


def resource_monitor_bundle() -> None:
    """G6 as `hydra fix` runs it: the exporters on every host (what the workflow and Prometheus read), and on the
    storage hosts the stack with Prometheus, Alertmanager and n8n's workflow."""
    deploy_exporters()
    if "storage" in host.groups:
        from hydra_ops.services.stack import deploy_stack

        deploy_stack()


def deploy_exporters() -> None:
    """The exporters this host gets (a GPU exporter only where GPUs are expected)."""
    from hydra_ops.platform import current

    cfg = config.host_config()
    o, p = cfg.monitoring, cfg.platform
    gpu_port = o.gpu_exporter_port if p.expected_gpu_count else None
    platform = current()
    if platform == "nixos":
        from hydra_ops.services.monitoring import nixos

        nixos.apply(o.node_exporter_port, gpu_port, p.hydra_lib_dir, p.nixos_config_dir, o.monitoring_open_firewall)
    elif platform == "unraid":
        unraid_exporters(gpu_port)
    else:
        from hydra_ops.services.monitoring.debian import exporters

        exporters(o.node_exporter_port, gpu_port, p.hydra_lib_dir)


def unraid_exporters(gpu_port: int | None) -> None:
    """Unraid installs nothing on the host: the node exporter is the storage stack's `node-exporter` service
    (deploys/storage.py runs it); refuse what cannot be had there, before any change."""
    problems = []
    if gpu_port is not None:
        problems.append("expected_gpu_count: no GPU exporter for Unraid hosts (the stack has none)")
    stored = config.host_config().storage  # the stack: on the hosts of group storage
    if stored is None or not stored.stack.named("node-exporter"):
        problems.append("stack_services: no node-exporter service (on Unraid the node exporter runs in the "
                        "storage group's stack; add one, e.g. prom/node-exporter)")
    if problems:
        raise ValidationError(host.name, problems)
