"""G6 on the local cluster: the storage deploy imports the resource-monitor workflow into the real n8n (installed
from npm), activates it and sets up its owner; a run started through n8n's CLI (not waiting 15 minutes) sends an
alert naming host, GPU and value for a hot GPU to the Activity API and none once it cools; a changed threshold
updates the same workflow; a second run changes nothing; bad G6 data is refused before any change."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from devcluster.local.cluster import Cluster
from hydra_ops.audit import audit
from hydra_ops.runner import DeployResult
from hydra_ops.services.monitoring import n8n
from tests.integration.conftest import converged, wait_for
from tests.integration.test_11_monitoring import ACTIVITY, SET_GPU, prometheus

STORAGE, COMPUTE = "hydra-storage", "hydra-compute"
WORKFLOW = "hydraOpsResourceMon"
N8N = "http://10.213.7.12:5678"
CID = "$(docker ps -q --filter label=com.docker.compose.service=n8n --filter status=running)"


@pytest.fixture(scope="module")
def monitored(local_cluster: Cluster, deploy: Callable[..., DeployResult]) -> DeployResult:
    converged(deploy, "deploys/monitoring.py")
    return converged(deploy, "deploys/site.py")


def cli(cluster: Cluster, *args: str) -> str:
    """n8n's own CLI inside the running n8n container."""
    result = cluster.ssh(STORAGE, f"docker exec {CID} n8n {' '.join(args)}")
    assert result.returncode == 0, result.stderr[-1000:]
    return result.stdout


def exported(cluster: Cluster) -> list[dict[str, Any]]:
    """Every workflow n8n holds, as its CLI exports them."""
    out = cluster.ssh(STORAGE, f"docker exec {CID} sh -c 'n8n export:workflow --all --output=/tmp/all.json "
                               ">/dev/null && cat /tmp/all.json'")
    assert out.returncode == 0, out.stderr[-1000:]
    return json.loads(out.stdout)


def workflow_alerts(host: str, alert: str) -> list[dict[str, Any]]:
    """What the workflow POSTed to the Activity API about host (one body per alert)."""
    received = requests.get(ACTIVITY, timeout=10).json()["received"]
    return [{**e["body"], "received_at": e["received_at"]} for e in received
            if e["body"].get("source") == "n8n resource monitor" and e["body"].get("host") == host
            and e["body"].get("alert") == alert]


def gpu_temperature(cluster: Cluster, host: str, gpu: str) -> float | None:
    answer = prometheus(cluster, "query", f'nvidia_smi_temperature_gpu{{host="{host}",gpu="{gpu}"}}')
    result = answer["data"]["result"]
    return float(result[0]["value"][1]) if result else None


def test_workflow_is_imported_active_and_g6_closed(monitored: DeployResult, local_cluster: Cluster) -> None:
    ours = [w for w in exported(local_cluster) if w["id"] == WORKFLOW]
    assert len(ours) == 1 and ours[0]["active"] is True
    kinds = sorted(n["type"].rsplit(".", 1)[-1] for n in ours[0]["nodes"])
    assert kinds == ["code", "httpRequest", "manualTrigger", "scheduleTrigger"]
    schedule = next(n for n in ours[0]["nodes"] if n["type"].endswith("scheduleTrigger"))
    assert schedule["parameters"]["rule"]["interval"] == [{"field": "minutes", "minutesInterval": 15}]
    cli(local_cluster, "execute", f"--id={WORKFLOW}", "--rawOutput")  # a recent, successful run
    found = {r.gap: r.status for r in audit(local_cluster.inventory, ["G6"])}
    assert found == {"G6": "closed"}


def test_a_hot_gpu_is_reported_by_one_workflow_run(monitored: DeployResult, local_cluster: Cluster) -> None:
    seen = len(workflow_alerts(COMPUTE, "GpuTempHigh"))
    local_cluster.ssh(COMPUTE, SET_GPU.format(0, 85))
    started = time.monotonic()
    try:
        wait_for(lambda: gpu_temperature(local_cluster, COMPUTE, "0") == 85, 60, "Prometheus to scrape GPU 0 at 85 C")
        cli(local_cluster, "execute", f"--id={WORKFLOW}", "--rawOutput")
        wait_for(lambda: len(workflow_alerts(COMPUTE, "GpuTempHigh")) > seen, 30, "the workflow's alert")
        round_trip = time.monotonic() - started
        new = workflow_alerts(COMPUTE, "GpuTempHigh")[seen:]
        assert [(a["gpu"], a["value"], a["threshold"], a["metric"]) for a in new] == [("0", 85, 80, "gpu_temp_c")]
        print(f"\nGPU 0 at 85 C -> workflow alert at the Activity API in {round_trip:.1f}s (scrape + one run)")
    finally:
        local_cluster.ssh(COMPUTE, SET_GPU.format(0, 60))
    wait_for(lambda: gpu_temperature(local_cluster, COMPUTE, "0") == 60, 60, "Prometheus to scrape GPU 0 back at 60 C")
    seen = len(workflow_alerts(COMPUTE, "GpuTempHigh"))
    cli(local_cluster, "execute", f"--id={WORKFLOW}", "--rawOutput")
    api = n8n.connect(N8N, "ops@hydra.invalid", local_cluster.secrets.read()["n8n_owner_password"])
    assert api.last_execution(WORKFLOW)["status"] == "success"
    assert len(workflow_alerts(COMPUTE, "GpuTempHigh")) == seen  # the run finished: nothing more will come


def test_second_run_changes_nothing(monitored: DeployResult, deploy: Callable[..., DeployResult]) -> None:
    assert deploy(target="deploys/storage.py").no_op


def test_a_changed_threshold_updates_the_same_workflow(monitored: DeployResult, local_cluster: Cluster,
                                                      deploy: Callable[..., DeployResult], tmp_path: Path) -> None:
    def threshold() -> float:
        ours = [w for w in exported(local_cluster) if w["name"] == "hydra-ops resource monitor (G6)"]
        assert len(ours) == 1 and ours[0]["id"] == WORKFLOW and ours[0]["active"], ours
        code = next(n for n in ours[0]["nodes"] if n["type"].endswith(".code"))["parameters"]["jsCode"]
        checks = json.loads(code.split("const CHECKS = ", 1)[1].split(";\nconst PROMETHEUS", 1)[0])
        return next(c["above"] for c in checks if c["alert"] == "GpuTempHigh")

    assert threshold() == 80
    try:
        changed = deploy("monitoring_thresholds = {'gpu_temp_c': 70}\n", tmp_path, target="deploys/storage.py",
                         group="storage")
        assert changed.ok, changed.errors()
        assert threshold() == 70
    finally:
        assert deploy(target="deploys/storage.py").ok
    assert threshold() == 80


@pytest.mark.parametrize(("overrides", "message"), [
    ("resource_monitor_minutes = 0\n", "resource_monitor_minutes"),
    ("n8n_owner_email = 'not an address'\n", "n8n_owner_email"),
    ("resource_monitor_id = 'x y'\n", "resource_monitor_id"),
])
def test_bad_g6_data_is_refused_before_any_change(monitored: DeployResult, deploy: Callable[..., DeployResult],
                                                 local_cluster: Cluster, tmp_path: Path, overrides: str,
                                                 message: str) -> None:
    before = local_cluster.ssh(STORAGE, "sha256sum /opt/hydra-stack/n8n/workflows/*").stdout
    result = deploy(overrides, tmp_path, target="deploys/storage.py", group="storage")
    assert not result.ok and message in result.stderr + result.stdout
    assert local_cluster.ssh(STORAGE, "sha256sum /opt/hydra-stack/n8n/workflows/*").stdout == before
    assert [w["id"] for w in exported(local_cluster)] == [WORKFLOW]
