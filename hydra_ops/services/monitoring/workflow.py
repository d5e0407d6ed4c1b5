"""G6's desired state: the resource-monitor workflow n8n runs (seed 000 Gap 6), generated from the inventory and
the thresholds in group data, and how it compares with what n8n exports. Every value reaches the workflow
serialised (JSON), never pasted into code."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from hydra_ops import PROJECT_ROOT
from hydra_ops.services.monitoring.options import MonitoringOptions
from hydra_ops.services.monitoring.state import checks

WORKFLOW_FILE = "resource-monitor.json"
#: where the n8n container sees the project's ./<n8n>/workflows/ (read-only)
CONTAINER_DIR = "/hydra/workflows"
SCHEDULE, MANUAL, QUERY, POST = "Every interval", "Run now", "Query Prometheus", "Post to Activity API"


def code(o: MonitoringOptions, hosts: list[str], prometheus_url: str) -> str:
    """The Code node's JavaScript: the checks and Prometheus' address as JSON literals, then the fixed logic."""
    body = (PROJECT_ROOT / "hydra_ops" / "stack_files" / "resource_monitor.js").read_text()
    return (f"const CHECKS = {json.dumps(checks(o, hosts), indent=1)};\n"
            f"const PROMETHEUS = {json.dumps(prometheus_url)};\n{body}")


def workflow(o: MonitoringOptions, hosts: list[str], prometheus_url: str, activity_url: str) -> dict[str, Any]:
    """The workflow as n8n imports it: a schedule and a manual trigger (`n8n execute` needs one), the query,
    and one POST per alert."""
    def node(key: str, name: str, kind: str, version: float, x: int, y: int, **parameters: Any) -> dict[str, Any]:
        return {"id": f"hydra-ops-g6-{key}", "name": name, "type": f"n8n-nodes-base.{kind}", "typeVersion": version,
                "position": [x, y], "parameters": parameters}

    def to(target: str) -> dict[str, Any]:
        return {"main": [[{"node": target, "type": "main", "index": 0}]]}

    nodes = [
        node("schedule", SCHEDULE, "scheduleTrigger", 1.2, 0, 0,
             rule={"interval": [{"field": "minutes", "minutesInterval": o.resource_monitor_minutes}]}),
        node("manual", MANUAL, "manualTrigger", 1, 0, 200),
        node("query", QUERY, "code", 2, 240, 100, jsCode=code(o, hosts, prometheus_url)),
        node("post", POST, "httpRequest", 4.2, 480, 100, method="POST", url=activity_url, sendBody=True,
             specifyBody="json", jsonBody="={{ JSON.stringify($json) }}", options={"timeout": 10000}),
    ]
    return {"id": o.resource_monitor_id, "name": o.resource_monitor_name, "active": False, "nodes": nodes,
            "connections": {SCHEDULE: to(QUERY), MANUAL: to(QUERY), QUERY: to(POST)},
            "settings": {"executionOrder": "v1", "saveManualExecutions": True,
                         "saveDataSuccessExecution": "all", "saveDataErrorExecution": "all"}}


def differences(have: Mapping[str, Any] | None, want: Mapping[str, Any]) -> list[str]:
    """What differs between n8n's export of the workflow and the wanted one (and whether it is active); [] when
    in step. have None: n8n is not running; {}: n8n has no such workflow."""
    if have is None:
        return ["n8n is not running"]
    if not have:
        return [f"no workflow {want['id']} in n8n"]
    out = [f"{key} differs" for key in ("name", "connections", "settings") if have.get(key) != want[key]]
    nodes = {n.get("name"): n for n in have.get("nodes") or []}
    wanted = {n["name"]: n for n in want["nodes"]}
    out += [f"node {name!r} missing" for name in sorted(set(wanted) - set(nodes))]
    out += [f"node {name!r} not ours" for name in sorted(set(nodes) - set(wanted))]
    out += [f"node {name!r} differs" for name in sorted(set(wanted) & set(nodes))
            if any(nodes[name].get(k) != wanted[name][k] for k in wanted[name])]
    if not have.get("active"):
        out.append("not active")
    return out
