"""Metrics and alerts (seed 001 Part 10) on the local cluster: node exporters everywhere, the nvidia-smi exporter on
the GPU hosts, real Prometheus and Alertmanager in the storage stack, and an alert that reaches the Activity API
when a GPU runs hot (and resolves when it cools down)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from devcluster.local.cluster import Cluster
from hydra_ops.runner import DeployResult
from tests.integration.conftest import converged, wait_for

STORAGE, COMPUTE = "hydra-storage", "hydra-compute"
#: Prometheus is published on the storage host's loopback only: the tests read it there, as the detector does
PROMETHEUS = "http://127.0.0.1:9090"
ACTIVITY = "http://10.213.7.12:8700/activity"
SET_GPU = ("python3 -c 'import json,sys; p=\"/etc/hydra-ops/fake-gpus.json\"; d=json.load(open(p)); "
           "d[\"gpus\"][int(sys.argv[1])][\"temperature_c\"]=float(sys.argv[2]); "
           "json.dump(d, open(p + \".new\", \"w\")); import os; os.replace(p + \".new\", p)' {} {}")


@pytest.fixture(scope="module")
def monitored(local_cluster: Cluster, deploy: Callable[..., DeployResult]) -> DeployResult:
    converged(deploy, "deploys/site.py")
    return converged(deploy, "deploys/monitoring.py")


def prometheus(cluster: Cluster, path: str, query: str | None = None) -> dict[str, Any]:
    """An answer of Prometheus' HTTP API, read with curl on the storage host."""
    import shlex

    data = f" --data-urlencode {shlex.quote('query=' + query)}" if query is not None else ""
    out = cluster.ssh(STORAGE, f"curl -fsS -m 10 -G {shlex.quote(PROMETHEUS + '/api/v1/' + path)}{data}").stdout
    return json.loads(out)


def targets(cluster: Cluster) -> list[dict[str, Any]]:
    return prometheus(cluster, "targets")["data"]["activeTargets"]


def alerts(name: str, host: str) -> list[dict[str, Any]]:
    """Alerts about host that the Activity API received (Alertmanager's webhook batches, flattened)."""
    out = []
    for entry in requests.get(ACTIVITY, timeout=10).json()["received"]:
        for alert in entry["body"].get("alerts", []):
            if alert["labels"].get("alertname") == name and alert["labels"].get("host") == host:
                out.append({**alert, "received_at": entry["received_at"]})
    return out


def probes_up(cluster: Cluster) -> dict[str, float]:
    """service on host -> probe_success of every inference endpoint the blackbox exporter probes."""
    answer = prometheus(cluster, "query", "probe_success")
    return {f'{r["metric"]["service"]} on {r["metric"]["host"]}': float(r["value"][1])
            for r in answer["data"]["result"]}


def test_every_exporter_is_a_target_and_up(monitored: DeployResult, local_cluster: Cluster) -> None:
    def all_up() -> bool:
        found = {(t["labels"]["job"], t["labels"].get("host", ""), t["labels"].get("service", "")): t["health"]
                 for t in targets(local_cluster)}
        return len(found) == 11 and set(found.values()) == {"up"}
    wait_for(all_up, 60, "node x3, gpu x2, probes x5 and prometheus targets all up")
    jobs = sorted((t["labels"]["job"], t["labels"].get("host", "")) for t in targets(local_cluster)
                  if t["labels"]["job"] != "probes")
    assert jobs == [("gpu", "hydra-ai"), ("gpu", "hydra-compute"), ("node", "hydra-ai"), ("node", "hydra-compute"),
                    ("node", "hydra-storage"), ("prometheus", "")]
    wait_for(lambda: set(probes_up(local_cluster).values()) == {1.0}, 60,
             "every inference endpoint probed successfully")
    assert sorted(probes_up(local_cluster)) == [
        "ollama :11434 on hydra-compute", "ollama :11435 on hydra-compute", "ollama LB :11400 on hydra-compute",
        "tabbyapi :5000 on hydra-ai", "tabbyapi canary :5001 on hydra-ai"]


def test_a_hot_gpu_alerts_the_activity_api_and_resolves(monitored: DeployResult, local_cluster: Cluster) -> None:
    seen = len(alerts("GpuTempHigh", COMPUTE))
    local_cluster.ssh(COMPUTE, SET_GPU.format(0, 85))
    started = time.monotonic()
    try:
        wait_for(lambda: any(a["status"] == "firing" for a in alerts("GpuTempHigh", COMPUTE)[seen:]), 120,
                 "the GpuTempHigh alert to reach the Activity API")
        round_trip = time.monotonic() - started
        fired = next(a for a in alerts("GpuTempHigh", COMPUTE)[seen:] if a["status"] == "firing")
        assert fired["labels"]["gpu"] == "0" and "85" in fired["annotations"]["summary"], fired
        assert {a["labels"]["gpu"] for a in alerts("GpuTempHigh", COMPUTE)[seen:]} == {"0"}  # GPU 1 stayed cool
        print(f"\nGPU 0 at 85 C -> alert at the Activity API in {round_trip:.1f}s "
              "(scrape 2s, for 4s, group_wait 5s locally)")
    finally:
        local_cluster.ssh(COMPUTE, SET_GPU.format(0, 60))
    wait_for(lambda: any(a["status"] == "resolved" for a in alerts("GpuTempHigh", COMPUTE)[seen:]), 120,
             "the alert to resolve once GPU 0 is back at 60 C")


def test_second_run_changes_nothing(monitored: DeployResult, deploy: Callable[..., DeployResult]) -> None:
    assert deploy(target="deploys/monitoring.py").no_op


@pytest.mark.parametrize(("overrides", "message"), [
    ("monitoring_thresholds = {'gpu_temp_c': 500}\n", "monitoring_thresholds.gpu_temp_c"),
    ("prometheus_scrape_interval = 'often'\n", "prometheus_scrape_interval"),
    ("prometheus_extra_targets = [{'job': 'pg', 'host': 'hydra-nowhere', 'port': 9187}]\n",
     "host 'hydra-nowhere' is not in the inventory"),
])
def test_bad_monitoring_data_is_refused_before_any_change(
    monitored: DeployResult, deploy: Callable[..., DeployResult], local_cluster: Cluster, tmp_path: Path,
    overrides: str, message: str,
) -> None:
    before = local_cluster.ssh(STORAGE, "sha256sum /opt/hydra-stack/prometheus/*").stdout
    result = deploy(overrides, tmp_path, target="deploys/storage.py", group="storage")
    assert not result.ok and message in result.stderr + result.stdout
    assert local_cluster.ssh(STORAGE, "sha256sum /opt/hydra-stack/prometheus/*").stdout == before
