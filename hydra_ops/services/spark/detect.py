"""The spark cluster on a live host, read-only: every vLLM service's container runs and answers /health; on
traefik_host, traefik.service runs and its API shows the balanced service with every spark host's server UP."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

from pyinfra.api import Host
from pyinfra.facts.server import Command

from hydra_ops.detectors import CLOSED, OPEN, UNKNOWN, Finding, running
from hydra_ops.facts.docker import ComposeContainers
from hydra_ops.facts.http import HttpJson
from hydra_ops.facts.systemd_units import SystemdUnitState
from hydra_ops.services.spark.options import cluster
from hydra_ops.services.spark.state import health_urls
from hydra_ops.services.spark.traefik import UNIT
from hydra_ops.validation import ValidationError


def status_codes(host: Host, urls: Mapping[str, str]) -> dict[str, str]:
    """service -> the HTTP status its URL answers with, curl run on the host ('000': no answer)."""
    command = "; ".join(f"printf '%s %s\\n' {shlex.quote(name)} \"$(curl -s -o /dev/null --max-time 5 "
                        f"-w '%{{http_code}}' {shlex.quote(url)})\"" for name, url in urls.items())
    out = host.get_fact(Command, command=command + "; true") or ""
    return dict(line.split(" ", 1) for line in out.splitlines() if " " in line)


def servers_up(api: Any, want: list[str]) -> tuple[bool, str]:
    """Whether Traefik's /api/http/services/<name>@file answer shows every wanted server UP, and what it shows."""
    status = (api.get("serverStatus") or {}) if isinstance(api, dict) else {}
    shown = ", ".join(f"{url} {status.get(url, 'absent')}" for url in want) or "no servers"
    return bool(want) and all(status.get(url) == "UP" for url in want), shown


def detect(host: Host) -> Finding:
    """Open, closed or unknown (group data that does not validate), with the evidence for it."""
    try:
        everyone = cluster([(h.name, h.data.dict()) for h in host.inventory.get_group("spark", [])], host.name)
    except ValidationError as exc:
        return Finding(UNKNOWN, [str(exc)])
    me = next(m for m in everyone if m.name == host.name)
    o, evidence = me.options, []
    containers = host.get_fact(ComposeContainers, project=o.spark_compose_project)
    codes = status_codes(host, health_urls(o, me.address))
    closed = True
    for name, svc in o.spark_services.items():
        state = containers.get(name, {}).get("state", "no container")
        ok = state == "running" and codes.get(name) == "200"
        closed &= ok
        evidence.append(f"{name} ({svc.model}, :{svc.port}): {state}, /health {codes.get(name, '?')}")
    if o.traefik_host != host.name:
        return Finding(CLOSED if closed else OPEN, evidence)
    unit = host.get_fact(SystemdUnitState, unit=UNIT)
    evidence.append(f"{UNIT}: {unit.get('ActiveState', '?')}/{unit.get('UnitFileState', '?')}")
    name = o.traefik_balanced_service
    url = f"http://127.0.0.1:{o.traefik_api_port}/api/http/services/{name}@file"
    answer = host.get_fact(HttpJson, url=url)
    api = answer["body"] if answer else None
    want = [f"http://{m.address}:{m.options.balanced.port}" for m in everyone]
    up, shown = servers_up(api, want)
    evidence.append(f"traefik {name}@file: {shown}" if api is not None else f"traefik API {url}: no answer")
    closed &= running(unit) and up
    return Finding(CLOSED if closed else OPEN, evidence)
