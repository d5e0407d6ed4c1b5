"""G2 on a live host, read-only: nginx runs, and the configuration it runs listens on lb_port with the
configured method in front of exactly the instance ports (read with `nginx -T`, on any platform)."""

from __future__ import annotations

from pyinfra.api import Host

from hydra_ops.detectors import CLOSED, OPEN, UNKNOWN, Finding, running
from hydra_ops.facts.nginx import NginxLiveSummary
from hydra_ops.facts.systemd_units import SystemdUnitState
from hydra_ops.services.lb import lb_options
from hydra_ops.validation import ValidationError


def detect(host: Host) -> Finding:
    """Open, closed or unknown (group data that does not validate), with the evidence for it."""
    try:
        lb, ollama = lb_options(host.data.dict(), host.name)
    except ValidationError as exc:
        return Finding(UNKNOWN, [str(exc)])
    nginx = host.get_fact(SystemdUnitState, unit="nginx.service")
    live = host.get_fact(NginxLiveSummary)
    evidence = [f"nginx.service: {nginx.get('ActiveState', '?')}/{nginx.get('UnitFileState', '?')}"]
    if live is None:
        return Finding(OPEN, [*evidence, "nginx -T: no configuration (nginx absent or not configured)"])
    want = sorted(f"127.0.0.1:{internal}" for _, internal in ollama.fronts)
    upstreams = list(live["upstreams"].values())
    match = [u for u in upstreams if sorted(u["servers"]) == want and u["method"] == lb.lb_method]
    evidence.append(f"nginx -T: listen {sorted(set(live['listen']))}, upstreams "
                    + ("; ".join(f"{u['method']} {','.join(u['servers'])}" for u in upstreams) or "none"))
    public = {port for port, _ in ollama.fronts}
    closed = running(nginx) and bool(match) and lb.lb_port in live["listen"] and public <= set(live["listen"])
    return Finding(CLOSED if closed else OPEN, evidence)
