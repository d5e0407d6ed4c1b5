"""G6's desired state without hosts: the workflow generated from the inventory and thresholds (its code compiles
as n8n's Code node runs it), the comparison with n8n's export, the export fact and n8n's password rule."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from typing import Any

import pytest

from hydra_ops.facts.n8n import ABSENT, NOT_RUNNING, N8nWorkflow
from hydra_ops.services.monitoring import n8n
from hydra_ops.services.monitoring.options import MonitoringOptions
from hydra_ops.services.monitoring.workflow import QUERY, differences, workflow
from hydra_ops.validation import ValidationError

HOSTS = ["hydra-ai", "hydra-compute", "hydra-storage"]


def generated(**data: Any) -> dict[str, Any]:
    o = MonitoringOptions.model_validate(data)
    return workflow(o, HOSTS, "http://prometheus:9090", "http://192.0.2.244:8700/activity")


def checks(doc: dict[str, Any]) -> list[dict[str, Any]]:
    code = next(n for n in doc["nodes"] if n["name"] == QUERY)["parameters"]["jsCode"]
    return json.loads(code.split("const CHECKS = ", 1)[1].split(";\nconst PROMETHEUS", 1)[0])


def test_the_workflow_runs_every_interval_and_checks_each_threshold_and_host() -> None:
    doc = generated(resource_monitor_minutes=10, monitoring_thresholds={"gpu_temp_c": 75})
    schedule = next(n for n in doc["nodes"] if n["type"] == "n8n-nodes-base.scheduleTrigger")
    assert schedule["parameters"]["rule"]["interval"] == [{"field": "minutes", "minutesInterval": 10}]
    found = {(c["alert"], c.get("host")): c.get("above", c.get("below")) for c in checks(doc)}
    assert found == {("VramCritical", None): 95, ("GpuTempHigh", None): 75, ("StorageFull", None): 95,
                     ("ServiceDown", None): 1,
                     **{("ExporterDown", h): 1 for h in HOSTS}}
    post = next(n for n in doc["nodes"] if n["type"] == "n8n-nodes-base.httpRequest")
    assert post["parameters"]["url"] == "http://192.0.2.244:8700/activity"
    assert doc["connections"]["Run now"] == doc["connections"]["Every interval"]  # `n8n execute` starts here


def test_values_reach_the_code_serialised() -> None:
    o = MonitoringOptions()
    doc = workflow(o, ["a'b\"c"], "http://prom\"etheus:9090", "http://x/activity")
    code = next(n for n in doc["nodes"] if n["name"] == QUERY)["parameters"]["jsCode"]
    assert 'const PROMETHEUS = "http://prom\\"etheus:9090";' in code
    assert checks(doc)[-1]["expr"] == 'up{job="node",host="a\'b\\"c"}'


def test_the_code_compiles_as_n8n_runs_it() -> None:
    """n8n wraps a Code node's JavaScript in an async function: it must compile there (top-level await, return)."""
    code = next(n for n in generated()["nodes"] if n["name"] == QUERY)["parameters"]["jsCode"]
    check = "new (Object.getPrototypeOf(async function () {}).constructor)(require('fs').readFileSync(0, 'utf8'))"
    node = shutil.which("node")
    assert node, "scripts/install.sh installs Node.js (the local n8n is built with it)"
    proc = subprocess.run([node, "-e", check], input=code, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr


def test_differences_with_what_n8n_exports() -> None:
    want = generated()
    have = {**copy.deepcopy(want), "active": True, "createdAt": "x", "versionId": None}
    assert differences(have, want) == []
    assert differences(None, want) == ["n8n is not running"]
    assert differences({}, want) == [f"no workflow {want['id']} in n8n"]
    assert differences({**have, "active": False}, want) == ["not active"]
    other = generated(monitoring_thresholds={"gpu_temp_c": 70})
    assert differences(have, other) == [f"node {QUERY!r} differs"]
    extra = {**have, "nodes": [*have["nodes"], {"name": "Slack", "type": "n8n-nodes-base.slack"}]}
    assert differences(extra, want) == ["node 'Slack' not ours"]
    assert differences({**have, "nodes": have["nodes"][1:]}, want) == ["node 'Every interval' missing"]


def test_export_fact_tells_not_running_absent_and_garbage_apart() -> None:
    fact = N8nWorkflow()
    assert fact.process([NOT_RUNNING]) is None and fact.process([ABSENT]) == {}
    assert fact.process(['[{"id": "w1", "active": true}]']) == {"id": "w1", "active": True}
    for bad in (["User settings loaded", "{"], ["[]"]):
        with pytest.raises(ValueError, match="n8n's export"):
            fact.process(bad)


def test_owner_password_follows_n8n_rule_without_showing_it() -> None:
    n8n.check_password("Abcdefg1", "hydra-storage")
    for bad in ("abcdefg1", "ABCDEFGH", "Ab1", "A1" + "b" * 63):
        with pytest.raises(ValidationError, match="n8n_owner_password") as info:
            n8n.check_password(bad, "hydra-storage")
        assert bad not in str(info.value)


@pytest.mark.parametrize(("data", "key"), [({"resource_monitor_minutes": 0}, "resource_monitor_minutes"),
                                           ({"resource_monitor_minutes": 60}, "resource_monitor_minutes"),
                                           ({"resource_monitor_id": "a b"}, "resource_monitor_id"),
                                           ({"n8n_owner_email": "nobody"}, "n8n_owner_email")])
def test_bad_g6_options_are_refused(data: dict[str, Any], key: str) -> None:
    with pytest.raises(Exception, match=key):
        MonitoringOptions.model_validate(data)


def test_generated_secrets_pass_n8n_password_rule() -> None:
    from hydra_ops.secrets import generate

    values = [generate() for _ in range(300)]
    assert all(n8n.PASSWORD.fullmatch(v) for v in values) and len(set(values)) == 300
