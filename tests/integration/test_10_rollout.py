"""Zero-downtime changes (issue 11, item 4): under a steady load of streaming and non-streaming requests at
concurrency 8, through the LB and each instance's own port, a change to every instance's settings restarts them
one at a time, each drained out of the LB first, and a change to the LB config reloads nginx: 0 failed requests."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from devcluster.local.cluster import Cluster
from hydra_ops.runner import DeployResult
from tests.integration.conftest import converged, wait_for

COMPUTE = "hydra-compute"
ADDRESS = "10.213.7.11"
URLS = [f"http://{ADDRESS}:11400"] * 6 + [f"http://{ADDRESS}:11434", f"http://{ADDRESS}:11435"]
MODEL = "qwen2.5:7b"
MAX_REQUESTS, MAX_SECONDS = 20000, 600  # bounds on the load, whatever happens


class Load:
    """Eight clients, each alternating a streamed /api/generate and a non-streamed /api/chat, until stopped."""

    def __init__(self, concurrency: int = 8) -> None:
        self.sent = self.failed = 0
        self.errors: list[str] = []
        self.lock, self.stop = threading.Lock(), threading.Event()
        self.threads = [threading.Thread(target=self._client, args=(n,), daemon=True) for n in range(concurrency)]
        self.started = time.monotonic()

    def __enter__(self) -> Load:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=120)

    def _client(self, n: int) -> None:
        session, i = requests.Session(), 0
        while not self.stop.is_set() and self.sent < MAX_REQUESTS and time.monotonic() - self.started < MAX_SECONDS:
            url, i = URLS[(n + i) % len(URLS)], i + 1
            try:
                ok = self._stream(session, url) if i % 2 else self._chat(session, url)
                error = "" if ok else f"{url}: incomplete answer"
            except requests.RequestException as exc:
                error = f"{url}: {type(exc).__name__}: {exc}"
            with self.lock:
                self.sent += 1
                if error:
                    self.failed += 1
                    self.errors.append(error)

    @staticmethod
    def _stream(session: requests.Session, url: str) -> bool:
        body = {"model": MODEL, "prompt": "count to five", "stream": True, "options": {"num_predict": 12}}
        with session.post(f"{url}/api/generate", json=body, stream=True, timeout=60) as reply:
            reply.raise_for_status()
            lines = [json.loads(line) for line in reply.iter_lines() if line]
        return bool(lines) and lines[-1].get("done") is True

    @staticmethod
    def _chat(session: requests.Session, url: str) -> bool:
        body = {"model": MODEL, "stream": False, "messages": [{"role": "user", "content": "hi"}],
                "options": {"num_predict": 6}}
        reply = session.post(f"{url}/api/chat", json=body, timeout=60)
        reply.raise_for_status()
        return bool(reply.json().get("message", {}).get("content"))

    def steady(self, count: int = 16) -> None:
        wait_for(lambda: self.sent >= count, 60, f"{count} requests of steady load")


def invocations(cluster: Cluster) -> dict[str, str]:
    out = cluster.ssh(COMPUTE, "for u in ollama@11434 ollama@11435; do echo $u "
                               "$(systemctl show -p InvocationID --value $u); done").stdout
    return dict(line.split() for line in out.splitlines())


def lb_stamp() -> str:
    return requests.get(f"http://{ADDRESS}:11400/", timeout=10).headers["X-Hydra-LB-Config"]


@pytest.fixture(scope="module")
def compute(local_cluster: Cluster, deploy: Callable[..., DeployResult]) -> DeployResult:
    return converged(deploy, "deploys/compute.py")


def rollout(deploy: Callable[..., DeployResult], tmp_path: Path, overrides: str) -> tuple[DeployResult, Load]:
    with Load() as load:
        load.steady()
        result = deploy(overrides, tmp_path, target="deploys/compute.py", group="compute")
        load.steady(load.sent + 16)  # and the cluster keeps serving after the change
    assert result.ok, result.errors()
    return result, load


def test_instance_settings_change_restarts_one_at_a_time_without_a_failed_request(
    compute: DeployResult, local_cluster: Cluster, deploy: Callable[..., DeployResult], tmp_path: Path,
) -> None:
    before = invocations(local_cluster)
    result, load = rollout(deploy, tmp_path, "ollama_num_parallel = 2\n")
    after = invocations(local_cluster)
    assert all(after[u] != before[u] for u in before), "not every instance was restarted"
    assert any("drained out of the LB first" in name for name in result.changed)
    env = local_cluster.ssh(COMPUTE, "cat /etc/ollama/11434.env /etc/ollama/11435.env").stdout
    assert env.count("OLLAMA_NUM_PARALLEL=2") == 2
    print(f"\nrolling restart of both instances: {load.sent} requests, {load.failed} failed")
    assert load.failed == 0, load.errors[:5]
    drains = local_cluster.ssh(COMPUTE, "cat /etc/nginx/hydra-ollama/*.conf").stdout
    assert "down" not in drains  # both back in the LB


def test_lb_config_change_reloads_without_a_failed_request(
    compute: DeployResult, local_cluster: Cluster, deploy: Callable[..., DeployResult], tmp_path: Path,
) -> None:
    before, stamp = invocations(local_cluster), lb_stamp()
    result, load = rollout(deploy, tmp_path, "ollama_num_parallel = 2\nlb_keepalive = 16\n")
    assert any("LB site" in name for name in result.changed)
    assert invocations(local_cluster) == before  # the instances were not touched
    assert lb_stamp() != stamp
    print(f"\nLB config change: {load.sent} requests, {load.failed} failed")
    assert load.failed == 0, load.errors[:5]


def test_back_to_group_data_under_load(compute: DeployResult, local_cluster: Cluster,
                                      deploy: Callable[..., DeployResult]) -> None:
    with Load() as load:
        load.steady()
        result = deploy(target="deploys/compute.py")
        load.steady(load.sent + 16)
    assert result.ok, result.errors()
    print(f"\nboth changed back at once: {load.sent} requests, {load.failed} failed")
    assert load.failed == 0, load.errors[:5]
    assert deploy(target="deploys/compute.py").no_op
