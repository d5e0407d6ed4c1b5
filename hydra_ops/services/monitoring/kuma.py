"""G9: Uptime Kuma's monitors, generated from the inventory (every endpoint this project deploys) plus the
operator's extras, and kept in sync by name through Uptime Kuma's own API (the uptime-kuma-api client): created,
updated in place, and deleted when hydra-ops made them and they are no longer wanted. Monitors an operator made
by hand are never touched (hydra-ops marks its own in their description)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from hydra_ops.services.monitoring.options import MonitoringOptions
from hydra_ops.validation import ValidationError

MARK = "managed by hydra-ops"
#: the fields hydra-ops decides; anything else on a monitor is Uptime Kuma's own
FIELDS = ("type", "url", "hostname", "port", "interval")


def _http(name: str, url: str) -> tuple[str, dict[str, Any]]:
    return name, {"type": "http", "url": url}


def _port(name: str, hostname: str, port: int) -> tuple[str, dict[str, Any]]:
    return name, {"type": "port", "hostname": hostname, "port": port}


def inference_endpoints(name: str, addr: str, groups: set[str], data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(label, health URL) of a host's inference services: the LB and each Ollama instance (through its own port's
    /hydra-ops/instance-health, so a dead instance shows even though the LB hides it), TabbyAPI and its canary."""
    from hydra_ops.services import compute
    from hydra_ops.services.lb.state import INSTANCE_HEALTH

    out = []
    if "compute" in groups:
        ollama, lb = compute(data, name)
        out.append((f"ollama LB :{lb.lb_port}", f"http://{addr}:{lb.lb_port}/api/version"))
        out += [(f"ollama :{i.port}", f"http://{addr}:{i.port}{INSTANCE_HEALTH}") for i in ollama.instances]
    if "ai" in groups:
        out += [(f"{label} :{port}", f"http://{addr}:{port}/health") for label, port in tabby_ports(data, name)]
    return out


def endpoints(hosts: Iterable[tuple[str, str, set[str], Mapping[str, Any]]], stack: Mapping[str, str],
              o: MonitoringOptions) -> list[tuple[str, dict[str, Any]]]:
    """(name, monitor) for every endpoint the deploys make: hosts are (name, address, groups, data); stack maps a
    storage role to the service name Uptime Kuma reaches it by inside the stack."""
    out = []
    for name, addr, groups, data in sorted(hosts, key=lambda h: h[0]):
        out.append(_http(f"{name} node exporter", f"http://{addr}:{o.node_exporter_port}/metrics"))
        if data.get("expected_gpu_count"):
            out.append(_http(f"{name} gpu exporter", f"http://{addr}:{o.gpu_exporter_port}/metrics"))
        out += [_http(f"{name} {label}", url) for label, url in inference_endpoints(name, addr, groups, data)]
    http = {"litellm": ("/health/readiness", 4000), "n8n": ("/healthz", 5678), "prometheus": ("/-/ready", 9090),
            "alertmanager": ("/-/ready", 9093)}
    ports = {"redis": 6379, "postgres": 5432, "qdrant": 6333}
    for role, service in sorted(stack.items()):
        if role in http:
            path, port = http[role]
            out.append(_http(f"storage {role}", f"http://{service}:{port}{path}"))
        elif role in ports:
            out.append(_port(f"storage {role}", service, ports[role]))
    return out


def tabby_ports(data: Mapping[str, Any], host: str) -> list[tuple[str, int]]:
    """TabbyAPI's port and its canary's, checked as ports; only these keys are read (the ai host's other
    settings are its own deploy's to validate: a monitor needs no pinned source)."""
    from pydantic import TypeAdapter
    from pydantic import ValidationError as Invalid

    from hydra_ops.services.tabbyapi.options import TabbyOptions
    from hydra_ops.settings import Port

    port = TypeAdapter(Port)
    canary = data.get("tabby_canary") or {}
    try:
        out = [("tabbyapi", port.validate_python(data.get("tabby_port",
                                                            TabbyOptions.model_fields["tabby_port"].default)))]
        if isinstance(canary, Mapping) and canary.get("port") is not None:
            out.append(("tabbyapi canary", port.validate_python(canary["port"])))
    except Invalid as exc:
        raise ValidationError(host, [f"tabby_port / tabby_canary.port: {e['msg']}" for e in exc.errors()]) from None
    return out


def wanted(generated: list[tuple[str, dict[str, Any]]], o: MonitoringOptions, host: str) -> dict[str, dict]:
    """name -> monitor fields, generated plus extras; a name used twice is an error naming it."""
    extras = [(m.name, m.model_dump(exclude={"name"}, exclude_none=True)) for m in o.uptime_kuma_extra_monitors]
    names = [n for n, _ in generated + extras]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValidationError(host, [f"uptime_kuma_extra_monitors: {', '.join(twice)} is also a generated "
                                     "monitor's name (names must be unique)"])
    return {n: {**m, "interval": o.uptime_kuma_interval} for n, m in generated + extras}


def plan(current: Iterable[Mapping[str, Any]], want: Mapping[str, Mapping[str, Any]]) -> dict[str, list]:
    """What to create, update (with its id) and delete (ids of hydra-ops' monitors no longer wanted)."""
    ours = {m["name"]: m for m in current if MARK in str(m.get("description") or "")}
    others = {m["name"] for m in current} - set(ours)
    clash = sorted(set(want) & others)
    if clash:
        raise ValidationError("uptime-kuma", [f"monitor {n!r} exists and was not made by hydra-ops; rename it or "
                                              "the extra monitor" for n in clash])
    create = [n for n in want if n not in ours]
    update = [(ours[n]["id"], n) for n in want if n in ours and any(
        _norm(ours[n].get(f)) != _norm(want[n].get(f)) for f in FIELDS)]
    delete = [(m["id"], n) for n, m in ours.items() if n not in want]
    return {"create": create, "update": update, "delete": delete}


def _norm(value: Any) -> Any:
    """Compare as text (the client hands back enums for types and may give ports as either)."""
    value = getattr(value, "value", value)
    return None if value in ("", None) else str(value)


class NotRunning(Exception):
    """Nothing answers at Uptime Kuma's address (yet)."""


class Unclaimed(Exception):
    """Uptime Kuma answers but has no admin yet (its first-run page is open to whoever comes first)."""


#: seconds a call may take: a busy server answers a login only after it sent the monitor and heartbeat lists
TIMEOUT = 60

def needs_setup(url: str) -> bool:
    """Whether the instance at url has no admin yet (asked without logging in); NotRunning when nothing answers."""
    from uptime_kuma_api import UptimeKumaApi, UptimeKumaException

    try:
        api = UptimeKumaApi(url, timeout=TIMEOUT)
    except UptimeKumaException:
        raise NotRunning(url) from None
    try:
        return bool(api.need_setup())
    finally:
        api.disconnect()


def connect(url: str, username: str, password: str, setup: bool = False) -> Any:
    """A logged-in client. An instance without an admin gets one only with `setup` (what the deploy's apply step
    does, as Uptime Kuma's first-run page would); otherwise Unclaimed, so audits and previews create nothing.
    NotRunning when nothing answers; a refused login is a ValidationError with Uptime Kuma's reason."""
    from uptime_kuma_api import UptimeKumaApi, UptimeKumaException

    try:
        api = UptimeKumaApi(url, timeout=TIMEOUT)
    except UptimeKumaException:
        raise NotRunning(url) from None
    try:
        if api.need_setup():
            if not setup:
                api.disconnect()
                raise Unclaimed(url)
            api.setup(username, password)
        api.login(username, password)
    except UptimeKumaException as exc:
        api.disconnect()
        raise ValidationError("uptime-kuma", [f"{url}: login as {username} refused: {exc}"]) from None
    return api


def apply(api: Any, changes: Mapping[str, list], want: Mapping[str, Mapping[str, Any]]) -> None:
    """Carry out a plan through the client."""
    for name in changes["create"]:
        api.add_monitor(name=name, description=MARK, **want[name])
    for monitor_id, name in changes["update"]:
        api.edit_monitor(monitor_id, name=name, description=MARK, **want[name])
    for monitor_id, _ in changes["delete"]:
        api.delete_monitor(monitor_id)


def summary(changes: Mapping[str, list]) -> str:
    return ", ".join(f"{k} {len(v)}" for k, v in changes.items() if v) or "nothing"


def last_status(api: Any, monitor_id: int, hours: int = 1) -> int | None:
    """A monitor's latest heartbeat status (1 up) from the last `hours`, asked of the server (getMonitorBeats), or
    None without a beat. Not from the pushed heartbeat lists: uptime-kuma-api 1.2 nests the login's heartbeatList
    inside the list when a live heartbeat arrived first, a race the real server has as well."""
    beats = api.get_monitor_beats(monitor_id, hours)
    return int(max(beats, key=lambda b: b["id"])["status"]) if beats else None
