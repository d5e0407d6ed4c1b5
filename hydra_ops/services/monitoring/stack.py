"""The monitoring services of the storage stack: their compose definitions (the official images' command-line
interface), their configuration files generated from the inventory (Prometheus, Alertmanager, the blackbox
exporter, G6's workflow file), and G9's Uptime Kuma monitors. G6's sync with n8n is in resource_monitor.py."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from pyinfra import inventory
from pyinfra.api.operation import OperationMeta
from pyinfra.operations import files

from hydra_ops.operations import backup
from hydra_ops.services.monitoring.options import MonitoringOptions
from hydra_ops.services.monitoring.state import (
    RULES_FILE,
    alertmanager_yml,
    blackbox_yml,
    prometheus_yml,
    rules_yml,
)
from hydra_ops.services.monitoring.workflow import CONTAINER_DIR, WORKFLOW_FILE
from hydra_ops.validation import ValidationError

if TYPE_CHECKING:
    from hydra_ops.services.storage import Storage


#: n8n's settings that would reach outside the cluster (telemetry, version checks, templates) or weaken it
N8N_ENV = {"N8N_DIAGNOSTICS_ENABLED": "false", "N8N_VERSION_NOTIFICATIONS_ENABLED": "false",
           "N8N_TEMPLATES_ENABLED": "false", "N8N_PERSONALIZATION_ENABLED": "false",
           "N8N_HIRING_BANNER_ENABLED": "false", "N8N_ENFORCE_SETTINGS_FILE_PERMISSIONS": "true",
           "N8N_COMMUNITY_PACKAGES_ENABLED": "false", "N8N_PORT": "5678"}


def role_spec(role: str, name: str, o: MonitoringOptions | None, secret_dir: str,
              address: str = "") -> dict[str, Any]:
    """The compose keys of a monitoring role (config mounted read-only from ./<name>/); address: where a service
    on the host's network listens (the publish address)."""
    o = o or MonitoringOptions()
    if role == "n8n":  # its encryption key from the store, in the settings file n8n reads it from (0600, read-only)
        return {"environment": dict(N8N_ENV), "ports": [f"{o.n8n_port}:5678"],
                "volumes": [f"{secret_dir}/n8n-settings.json:/home/node/.n8n/config:ro",
                            f"./{name}/workflows:{CONTAINER_DIR}:ro"]}
    if role == "prometheus":
        return {"command": ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus",
                            f"--storage.tsdb.retention.time={o.prometheus_retention}",
                            f"--web.listen-address=:{o.prometheus_port}"],
                "ports": [f"{o.prometheus_port}:{o.prometheus_port}"],
                "volumes": [f"./{name}/prometheus.yml:/etc/prometheus/prometheus.yml:ro",
                            f"./{name}/{RULES_FILE}:/etc/prometheus/{RULES_FILE}:ro"]}
    if role == "uptime-kuma":
        return {"ports": [f"{o.uptime_kuma_port}:3001"]}
    if role == "blackbox":
        return {"command": ["--config.file=/etc/blackbox/blackbox.yml", f"--web.listen-address=:{o.blackbox_port}"],
                "volumes": [f"./{name}/blackbox.yml:/etc/blackbox/blackbox.yml:ro"]}
    if role == "node-exporter":  # the host's network, processes and filesystems, read-only
        return {"network_mode": "host", "pid": "host", "volumes": ["/:/host:ro"],
                "command": ["--path.rootfs=/host", f"--web.listen-address={address}:{o.node_exporter_port}"]}
    return {"command": ["--config.file=/etc/alertmanager/alertmanager.yml", "--storage.path=/alertmanager",
                        f"--web.listen-address=:{o.alertmanager_port}", "--cluster.listen-address="],
            "ports": [f"{o.alertmanager_port}:{o.alertmanager_port}"],
            "volumes": [f"./{name}/alertmanager.yml:/etc/alertmanager/alertmanager.yml:ro"]}


def monitored_hosts() -> dict[str, tuple[str, bool]]:
    """Every inventory host: (address Prometheus scrapes, whether it has GPUs to export)."""
    return {h.name: (str(h.data.get("ssh_hostname") or h.name), bool(h.data.get("expected_gpu_count")))
            for h in inventory}


def probes() -> list[tuple[str, str, str]]:
    """(host, service, health URL) of every inference endpoint in the inventory, for the blackbox probes."""
    from hydra_ops.services.monitoring.kuma import inference_endpoints

    return [(h.name, label, url) for h in inventory for label, url in inference_endpoints(
        h.name, str(h.data.get("ssh_hostname") or h.name), set(h.groups), h.data.dict())]


def config_files(cfg: Storage) -> dict[str, list[OperationMeta]]:
    """prometheus.yml + rules and alertmanager.yml in place (old versions backed up); per service, the ops whose
    change needs its restart."""
    from pyinfra import host
    s, o, out = cfg.stack, cfg.monitoring, {}
    prometheus, alertmanager, blackbox = s.named("prometheus"), s.named("alertmanager"), s.named("blackbox")
    if prometheus:
        files.directory(name=f"Monitoring: {prometheus} config directory", path=f"{s.stack_dir}/{prometheus}",
                        mode="755")
        target = f"{alertmanager}:{o.alertmanager_port}" if alertmanager else "localhost:9"
        try:
            text = prometheus_yml(o, monitored_hosts(), target, probes(),
                                  f"{blackbox}:{o.blackbox_port}" if blackbox else None)
        except ValueError as exc:  # an extra target on a host the inventory lacks: refused before any change
            raise ValidationError(host.name, [str(exc)]) from None
        out[prometheus] = [
            backup.put("Monitoring: prometheus.yml (targets from the inventory)", s.stack_dir,
                       f"{prometheus}/prometheus.yml", text, "644"),
            backup.put("Monitoring: alert rules (seed 001 Part 10)", s.stack_dir, f"{prometheus}/{RULES_FILE}",
                       rules_yml(o), "644")]
    if alertmanager:
        files.directory(name=f"Monitoring: {alertmanager} config directory", path=f"{s.stack_dir}/{alertmanager}",
                        mode="755")
        out[alertmanager] = [backup.put("Monitoring: alertmanager.yml (alerts to the Activity API)", s.stack_dir,
                                        f"{alertmanager}/alertmanager.yml", alertmanager_yml(o), "644")]
    if blackbox:
        files.directory(name=f"Monitoring: {blackbox} config directory", path=f"{s.stack_dir}/{blackbox}", mode="755")
        out[blackbox] = [backup.put("Monitoring: blackbox.yml (HTTP probes)", s.stack_dir, f"{blackbox}/blackbox.yml",
                                    blackbox_yml(), "644")]
    n8n = s.named("n8n")
    if n8n:  # read by the import below, not by the running n8n: a change restarts nothing here
        files.directory(name=f"G6: {n8n} workflows directory", path=f"{s.stack_dir}/{n8n}/workflows", mode="755")
        if o.activity_api_url and prometheus:
            from hydra_ops.services.monitoring.resource_monitor import wanted_workflow

            backup.put("G6: the resource-monitor workflow (checks from the inventory and thresholds)", s.stack_dir,
                       f"{n8n}/workflows/{WORKFLOW_FILE}", json.dumps([wanted_workflow(cfg)], indent=1) + "\n",
                       "644")
    return out


def kuma_url(cfg: Storage) -> str:
    """Where the operator's machine reaches Uptime Kuma (its published port)."""
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
    except (kuma.NotRunning, kuma.Unclaimed):  # first deploy: the admin and every monitor once the stack is up
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

    def sync() -> None:  # on the host's loopback: until it has its admin, Uptime Kuma is published nowhere else
        from hydra_ops.tunnel import forwarded

        with forwarded(host, cfg.monitoring.uptime_kuma_port) as local:
            _sync(kuma.connect(local, user, login, setup=True))

    def _sync(client: Any) -> None:
        try:
            if login != password:
                client.change_password(login, password)
            kuma.apply(client, kuma.plan(client.get_monitors(), want), want)
        finally:
            client.disconnect()

    python.call(name=f"G9: Uptime Kuma monitors ({kuma.summary(changes)} of {len(want)})", function=sync)


def deployed_secret(path: str) -> str | None:
    """A secret file's content on the host, read over SFTP (never through pyinfra's output); None if absent."""
    from pyinfra import host

    from hydra_ops.remote import read_file

    content = read_file(host, path)
    return content.decode().strip() if content is not None else None
