"""The SOLLOL cluster on a live host, read-only: each node's Ollama answers and holds the models placed on it;
on the gateway host the gateway unit runs, answers, and routes over exactly the configured nodes."""

from __future__ import annotations

from pyinfra.api import Host

from hydra_ops.detectors import CLOSED, OPEN, UNKNOWN, Finding, running
from hydra_ops.facts.http import HttpJson
from hydra_ops.facts.systemd_units import SystemdUnitState
from hydra_ops.services.ollama.state import canonical
from hydra_ops.services.sollol import inventory_nodes, sollol
from hydra_ops.services.sollol.state import UNIT, node_endpoints
from hydra_ops.validation import ValidationError


def detect(host: Host) -> Finding:
    """Closed when the node serves its placed models and (gateway host) SOLLOL sees every node; else open."""
    try:
        nodes = inventory_nodes(host.inventory)
        o = sollol(host.data.dict(), host.name, nodes)
    except (ValidationError, ValueError) as exc:
        return Finding(UNKNOWN, [str(exc)])
    port = nodes[host.name][1]
    tags = host.get_fact(HttpJson, url=f"http://127.0.0.1:{port}/api/tags")
    have = {canonical(m["name"]) for m in ((tags or {}).get("body") or {}).get("models", [])}
    want = {canonical(m) for m in o.models_on(host.name)}
    missing = sorted(want - have)
    evidence = [f"Ollama :{port}: " + ("not answering" if tags is None else
                                       f"{len(have)} model(s); missing placed: {', '.join(missing) or 'none'}")]
    closed = tags is not None and not missing
    if host.name == o.sollol_gateway_host:
        unit = host.get_fact(SystemdUnitState, unit=UNIT)
        stats = host.get_fact(HttpJson, url=f"http://127.0.0.1:{o.sollol_port}/api/stats")
        seen = sorted((((stats or {}).get("body") or {}).get("ollama_pool") or {}).get("node_performance", {}))
        expected = sorted(node_endpoints(o, nodes).values())
        evidence.append(f"{UNIT}: {unit.get('ActiveState', '?')}/{unit.get('UnitFileState', '?')}; "
                        f"gateway :{o.sollol_port} routes over {', '.join(seen) or 'nothing'} "
                        f"(configured: {', '.join(expected)})")
        closed = closed and running(unit) and seen == expected
    return Finding(CLOSED if closed else OPEN, evidence)
