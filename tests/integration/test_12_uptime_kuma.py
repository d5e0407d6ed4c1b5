"""G9 on the local cluster: the storage deploy makes Uptime Kuma's monitors from the inventory (every endpoint the
project deploys) plus the operator's extras, through Uptime Kuma's API (the real uptime-kuma-api client against the
double): all up, a stopped Ollama instance's monitor goes down, a second run changes nothing, extras are created,
updated in place and deleted, a monitor made by hand is left alone, a duplicate name is refused."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from devcluster.local.cluster import Cluster
from hydra_ops.runner import DeployResult
from hydra_ops.services.monitoring import kuma
from tests.integration.conftest import converged, wait_for
from tests.integration.test_11_monitoring import probes_up

STORAGE, COMPUTE = "hydra-storage", "hydra-compute"
URL = "http://10.213.7.12:3001"
EXPECTED = {
    "hydra-ai node exporter", "hydra-compute node exporter", "hydra-storage node exporter",
    "hydra-ai gpu exporter", "hydra-compute gpu exporter",
    "hydra-compute ollama LB :11400", "hydra-compute ollama :11434", "hydra-compute ollama :11435",
    "hydra-ai tabbyapi :5000", "hydra-ai tabbyapi canary :5001",
    "storage litellm", "storage redis", "storage prometheus", "storage alertmanager", "storage n8n",
}


@contextmanager
def client(cluster: Cluster) -> Iterator[Any]:
    api = kuma.connect(URL, "admin", cluster.secrets.read()["uptime_kuma_password"])
    try:
        yield api
    finally:
        api.disconnect()


def monitors(cluster: Cluster) -> dict[str, dict[str, Any]]:
    with client(cluster) as api:
        return {m["name"]: m for m in api.get_monitors()}


def status(api: Any, name: str) -> int | None:
    """A monitor's last heartbeat, asked of the logged-in server (one login per test: Uptime Kuma refuses more than
    a few logins a minute)."""
    monitor = next(m for m in api.get_monitors() if m["name"] == name)
    return kuma.last_status(api, monitor["id"])


@pytest.fixture(scope="module")
def kuma_up(local_cluster: Cluster, deploy: Callable[..., DeployResult]) -> DeployResult:
    converged(deploy, "deploys/monitoring.py")  # the exporters the monitors check
    return converged(deploy, "deploys/site.py")


def test_monitors_are_generated_from_the_inventory_and_all_up(kuma_up: DeployResult,
                                                             local_cluster: Cluster) -> None:
    ours = {n for n, m in monitors(local_cluster).items() if kuma.MARK in str(m.get("description") or "")}
    assert ours == EXPECTED
    print(f"\nUptime Kuma: {len(ours)} monitors generated for the local inventory")
    with client(local_cluster) as api:
        wait_for(lambda: all(status(api, n) == 1 for n in EXPECTED), 120, "every monitor up")


def test_a_stopped_instance_goes_down_and_comes_back(kuma_up: DeployResult, local_cluster: Cluster) -> None:
    name = "hydra-compute ollama :11434"
    with client(local_cluster) as api:
        local_cluster.ssh(COMPUTE, "systemctl stop ollama@11434")
        try:
            wait_for(lambda: status(api, name) == 0, 60, f"{name} to go down")
            assert status(api, "hydra-compute ollama :11435") == 1
            # Prometheus sees it too: the blackbox probe of that instance fails, the other's and the LB's do not
            wait_for(lambda: probes_up(local_cluster).get("ollama :11434 on hydra-compute") == 0, 60,
                     "its probe to fail")
            up = probes_up(local_cluster)
            assert up["ollama :11435 on hydra-compute"] == up["ollama LB :11400 on hydra-compute"] == 1
        finally:
            local_cluster.ssh(COMPUTE, "systemctl start ollama@11434")
        wait_for(lambda: status(api, name) == 1, 60, f"{name} to come back up")
        wait_for(lambda: probes_up(local_cluster).get("ollama :11434 on hydra-compute") == 1, 60,
                 "its probe to succeed again")


def test_second_run_changes_nothing(kuma_up: DeployResult, deploy: Callable[..., DeployResult]) -> None:
    again = deploy(target="deploys/storage.py")
    assert again.no_op, again.changed


def test_extras_are_created_updated_in_place_deleted_and_hand_made_monitors_stay(
    kuma_up: DeployResult, local_cluster: Cluster, deploy: Callable[..., DeployResult], tmp_path: Path,
) -> None:
    with client(local_cluster) as api:
        api.add_monitor(type="port", name="made by hand", hostname="10.213.7.10", port=22, interval=60)
    extra = {"name": "ai ssh", "type": "port", "hostname": "10.213.7.10", "port": 22}
    added = deploy(f"uptime_kuma_extra_monitors = [{extra!r}]\n", tmp_path, target="deploys/storage.py",
                   group="storage")
    assert added.ok and any("create 1" in n for n in added.changed), added.changed
    first = monitors(local_cluster)["ai ssh"]
    moved = {**extra, "port": 2222}
    changed = deploy(f"uptime_kuma_extra_monitors = [{moved!r}]\n", tmp_path, target="deploys/storage.py",
                     group="storage")
    assert changed.ok and any("update 1" in n for n in changed.changed), changed.changed
    now = monitors(local_cluster)["ai ssh"]
    assert (now["id"], int(now["port"])) == (first["id"], 2222)
    removed = deploy(target="deploys/storage.py")
    assert removed.ok and any("delete 1" in n for n in removed.changed), removed.changed
    left = monitors(local_cluster)
    assert "ai ssh" not in left and "made by hand" in left


def test_a_duplicate_name_is_refused_before_any_change(kuma_up: DeployResult, local_cluster: Cluster,
                                                       deploy: Callable[..., DeployResult], tmp_path: Path) -> None:
    before = {n: m["id"] for n, m in monitors(local_cluster).items()}
    extra = {"name": "hydra-compute ollama :11434", "type": "port", "hostname": "10.213.7.11", "port": 22}
    result = deploy(f"uptime_kuma_extra_monitors = [{extra!r}]\n", tmp_path, target="deploys/storage.py",
                    group="storage")
    assert not result.ok and "is also a generated monitor's name" in result.stderr + result.stdout
    assert {n: m["id"] for n, m in monitors(local_cluster).items()} == before
