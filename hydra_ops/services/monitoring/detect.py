"""G9 on a live cluster, read-only: every monitor the inventory calls for exists in Uptime Kuma and is up."""

from __future__ import annotations

from datetime import UTC

from pyinfra.api import Host

from hydra_ops.detectors import CLOSED, OPEN, UNKNOWN, Finding
from hydra_ops.validation import ValidationError


def uptime(host: Host) -> Finding:
    """Closed when every wanted monitor is present and its last check was up; the evidence names the others."""
    from hydra_ops.services.monitoring import kuma
    from hydra_ops.services.monitoring.stack import kuma_url, wanted_monitors
    from hydra_ops.services.secrets import host_secrets
    from hydra_ops.services.storage import storage

    try:
        cfg = storage(host.data.dict(), host.name)
        if not cfg.stack.named("uptime-kuma"):
            return Finding(OPEN, ["no uptime-kuma service in stack_services"])
        want = wanted_monitors(cfg, host.name)
        password = host_secrets(["uptime_kuma_password"])["uptime_kuma_password"]
    except ValidationError as exc:
        return Finding(UNKNOWN, [str(exc)])
    try:
        api = kuma.connect(kuma_url(cfg), cfg.monitoring.uptime_kuma_username, password)
    except kuma.NotRunning:
        return Finding(OPEN, [f"Uptime Kuma at {kuma_url(cfg)} does not answer"])
    except kuma.Unclaimed:  # an audit never claims it: that is the deploy's first step
        return Finding(OPEN, [f"Uptime Kuma at {kuma_url(cfg)} has no admin yet (whoever reaches it first can "
                              "claim it)"])
    except ValidationError as exc:  # login refused: cannot decide
        return Finding(UNKNOWN, exc.problems)
    try:
        have = {m["name"]: m for m in api.get_monitors()}
        missing = sorted(set(want) - set(have))
        down = sorted(n for n in want if n in have and not _up(api, have[n]["id"]))
    finally:
        api.disconnect()
    evidence = [f"{len(want)} monitors wanted, {len(want) - len(missing)} present, {len(down)} not up"]
    evidence += [f"missing: {n}" for n in missing] + [f"not up: {n}" for n in down]
    return Finding(CLOSED if not missing and not down else OPEN, evidence)


def _up(api: object, monitor_id: int) -> bool:
    """Whether the monitor's last heartbeat was up (no heartbeat yet is not up)."""
    from hydra_ops.services.monitoring import kuma

    return kuma.last_status(api, monitor_id) == 1


def resource_monitor(host: Host) -> Finding:
    """G6 closed when n8n runs the generated workflow (present, as generated, active) and its last run, within
    two intervals (plus five minutes), succeeded."""
    from datetime import datetime, timedelta

    from hydra_ops.facts.n8n import N8nWorkflow
    from hydra_ops.services.monitoring import n8n
    from hydra_ops.services.monitoring.resource_monitor import n8n_url, wanted_workflow
    from hydra_ops.services.monitoring.workflow import differences
    from hydra_ops.services.secrets import host_secrets
    from hydra_ops.services.storage import storage

    try:
        cfg = storage(host.data.dict(), host.name)
        o, name = cfg.monitoring, cfg.stack.named("n8n")
        if not name or not cfg.stack.named("prometheus") or not o.activity_api_url:
            return Finding(OPEN, ["the stack needs n8n and prometheus, and activity_api_url must be set"])
        want = wanted_workflow(cfg)
        password = host_secrets(["n8n_owner_password"])["n8n_owner_password"]
    except ValidationError as exc:
        return Finding(UNKNOWN, [str(exc)])
    diff = differences(host.get_fact(N8nWorkflow, project=cfg.stack.compose_project, service=name,
                                     workflow_id=want["id"]), want)
    if diff:
        return Finding(OPEN, [f"workflow {want['id']}: {d}" for d in diff])
    try:
        last = n8n.connect(n8n_url(cfg), o.n8n_owner_email, password).last_execution(want["id"])
    except n8n.NotRunning:
        return Finding(OPEN, [f"n8n at {n8n_url(cfg)} does not answer"])
    except n8n.NoOwner as exc:  # never deployed: the deploy sets the owner up
        return Finding(OPEN, [str(exc)])
    except n8n.N8nError as exc:  # login refused: cannot decide
        return Finding(UNKNOWN, [str(exc)])
    if not last:
        return Finding(OPEN, [f"workflow {want['id']} is active but has never run"])
    started = datetime.fromisoformat(str(last["startedAt"]).replace("Z", "+00:00"))
    age = datetime.now(UTC) - started
    evidence = [f"workflow {want['id']} active, as generated; last run {last['status']} ({last['mode']}), "
                f"{int(age.total_seconds())} s ago"]
    fresh = age <= timedelta(minutes=2 * o.resource_monitor_minutes + 5)
    down = targets_down(host, f"http://127.0.0.1:{o.prometheus_port}")
    evidence += ([] if fresh else ["last run is older than two intervals"]) + down
    return Finding(CLOSED if last["status"] == "success" and fresh and not down else OPEN, evidence)


def targets_down(host: Host, prometheus: str) -> list[str]:
    """What the workflow cannot see: Prometheus targets not up and failing probes (one line each). Prometheus
    listens on the storage host's loopback only, so it is read there (curl over the host's connection)."""
    from urllib.parse import urlencode

    from hydra_ops.facts.http import HttpJson

    try:
        targets = host.get_fact(HttpJson, url=f"{prometheus}/api/v1/targets")
        query = host.get_fact(HttpJson, url=f"{prometheus}/api/v1/query?{urlencode({'query': 'probe_success == 0'})}")
        active = targets["body"]["data"]["activeTargets"]  # type: ignore[index]
        failing = query["body"]["data"]["result"]  # type: ignore[index]
    except (TypeError, KeyError):  # nothing answered, or an answer without the data
        return [f"Prometheus at {prometheus} on {host.name} did not answer"]
    return ([f"target down: {t['labels'].get('job')} on {t['labels'].get('host', '?')}" for t in active
             if t["health"] == "down"] +
            [f"probe failing: {r['metric'].get('service')} on {r['metric'].get('host')}" for r in failing])
