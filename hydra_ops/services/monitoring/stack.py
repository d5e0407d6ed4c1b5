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
from hydra_ops.validation import ValidationError

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
    if role == "uptime-kuma":
        return {"ports": [f"{o.uptime_kuma_port}:3001"]}
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
    s, o, out = cfg.stack, cfg.monitoring, {}
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


def kuma_url(cfg: Storage) -> str:
    return f"http://{cfg.publish_address}:{cfg.monitoring.uptime_kuma_port}"


def wanted_monitors(cfg: Storage, name: str) -> dict[str, dict[str, Any]]:
    """The monitors this inventory and group data call for (G9), by name."""
    from hydra_ops.services.monitoring import kuma

    hosts = [(h.name, str(h.data.get("ssh_hostname") or h.name), set(h.groups), h.data.dict()) for h in inventory]
    roles = ("litellm", "redis", "postgres", "qdrant", "n8n", "prometheus", "alertmanager")
    stack = {role: service for role in roles if (service := cfg.stack.named(role))}
    return kuma.wanted(kuma.endpoints(hosts, stack, cfg.monitoring), cfg.monitoring, name)


def uptime_monitors(cfg: Storage) -> None:
    """G9: Uptime Kuma's monitors in sync with the inventory and the extras. The difference is read before any
    change (none when Uptime Kuma is not up yet: then all are made once it is), so a second run changes nothing."""
    from pyinfra import host
    from pyinfra.operations import python

    from hydra_ops.services.monitoring import kuma
    from hydra_ops.services.secrets import host_secrets

    if not cfg.stack.named("uptime-kuma"):
        return
    want = wanted_monitors(cfg, host.name)
    password = host_secrets(["uptime_kuma_password"])["uptime_kuma_password"]
    url, user = kuma_url(cfg), cfg.monitoring.uptime_kuma_username
    login = password
    try:
        api = kuma.connect(url, user, password)
    except kuma.NotRunning:  # first deploy: everything is made once the stack is up
        api, changes = None, {"create": sorted(want), "update": [], "delete": []}
    except ValidationError:  # refused: rotated since the last deploy? the host still holds the value in use
        login = deployed_secret(f"{cfg.secret_dir}/uptime_kuma_password") or password
        if login == password:
            raise
        api = kuma.connect(url, user, login)
    if api is not None:
        try:
            changes = kuma.plan(api.get_monitors(), want)
        finally:
            api.disconnect()
    if login != password:
        changes["password"] = [user]
    if not any(changes.values()):
        return

    def sync() -> None:
        client = kuma.connect(url, user, login)
        try:
            if login != password:
                client.change_password(login, password)
            kuma.apply(client, kuma.plan(client.get_monitors(), want), want)
        finally:
            client.disconnect()

    python.call(name=f"G9: Uptime Kuma monitors ({kuma.summary(changes)} of {len(want)})", function=sync)


def deployed_secret(path: str) -> str | None:
    """A secret file's content on the host, read over SFTP (never through pyinfra's output); None if absent."""
    from io import BytesIO

    from pyinfra import host
    from pyinfra.facts.files import File

    if not host.get_fact(File, path=path):
        return None
    buf = BytesIO()
    return buf.getvalue().decode().strip() if host.get_file(path, buf) else None
