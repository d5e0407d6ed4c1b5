"""Prometheus and Alertmanager as services of the storage stack: their compose definitions (the official images'
command-line interface) and their configuration files, generated from the inventory."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pyinfra import inventory
from pyinfra.api.operation import OperationMeta
from pyinfra.operations import files

from hydra_ops.operations import backup
from hydra_ops.services.monitoring.options import MonitoringOptions
from hydra_ops.services.monitoring.state import RULES_FILE, alertmanager_yml, prometheus_yml, rules_yml

if TYPE_CHECKING:
    from hydra_ops.services.storage import Storage


def role_spec(role: str, name: str, o: MonitoringOptions | None) -> dict[str, Any]:
    """The compose keys of the prometheus or alertmanager role (config mounted read-only from ./<name>/)."""
    o = o or MonitoringOptions()
    if role == "prometheus":
        return {"command": ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus",
                            f"--storage.tsdb.retention.time={o.prometheus_retention}",
                            f"--web.listen-address=:{o.prometheus_port}"],
                "ports": [f"{o.prometheus_port}:{o.prometheus_port}"],
                "volumes": [f"./{name}/prometheus.yml:/etc/prometheus/prometheus.yml:ro",
                            f"./{name}/{RULES_FILE}:/etc/prometheus/{RULES_FILE}:ro"]}
    return {"command": ["--config.file=/etc/alertmanager/alertmanager.yml", "--storage.path=/alertmanager",
                        f"--web.listen-address=:{o.alertmanager_port}", "--cluster.listen-address="],
            "ports": [f"{o.alertmanager_port}:{o.alertmanager_port}"],
            "volumes": [f"./{name}/alertmanager.yml:/etc/alertmanager/alertmanager.yml:ro"]}


def monitored_hosts() -> dict[str, tuple[str, bool]]:
    """Every inventory host: (address Prometheus scrapes, whether it has GPUs to export)."""
    return {h.name: (str(h.data.get("ssh_hostname") or h.name), bool(h.data.get("expected_gpu_count")))
            for h in inventory}


def config_files(cfg: Storage) -> dict[str, list[OperationMeta]]:
    """prometheus.yml + rules and alertmanager.yml in place (old versions backed up); per service, the ops whose
    change needs its restart."""
    s, o, out = cfg.stack, cfg.monitoring or MonitoringOptions(), {}
    prometheus, alertmanager = s.named("prometheus"), s.named("alertmanager")
    if prometheus:
        files.directory(name=f"Monitoring: {prometheus} config directory", path=f"{s.stack_dir}/{prometheus}",
                        mode="755")
        target = f"{alertmanager}:{o.alertmanager_port}" if alertmanager else "localhost:9"
        out[prometheus] = [
            backup.put("Monitoring: prometheus.yml (targets from the inventory)", s.stack_dir,
                       f"{prometheus}/prometheus.yml", prometheus_yml(o, monitored_hosts(), target), "644"),
            backup.put("Monitoring: alert rules (seed 001 Part 10)", s.stack_dir, f"{prometheus}/{RULES_FILE}",
                       rules_yml(o), "644")]
    if alertmanager:
        files.directory(name=f"Monitoring: {alertmanager} config directory", path=f"{s.stack_dir}/{alertmanager}",
                        mode="755")
        out[alertmanager] = [backup.put("Monitoring: alertmanager.yml (alerts to the Activity API)", s.stack_dir,
                                        f"{alertmanager}/alertmanager.yml", alertmanager_yml(o), "644")]
    return out
