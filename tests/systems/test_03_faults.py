"""Faults: a stopped SOLLOL node (requests keep being answered by the other once the gateway notices), a stopped
embeddings service on one spark (Traefik routes around it), and a Traefik configuration the real binary refuses
(the running one stays in place)."""

from __future__ import annotations

import json
import shlex
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
import yaml

from devcluster.local.cluster import Cluster
from hydra_ops.services.spark.options import SparkOptions
from hydra_ops.settings import load
from hydra_ops.targets import targets

TIMEOUT = 30


def wait_until(check: Any, timeout: float, what: str) -> None:
    """Poll check() until it is true (a condition wait, bounded)."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        time.sleep(0.2)


def async_chat(gateway: str, i: int) -> str | None:
    """One async-mode chat; the node that served it, or None when it failed (SOLLOL reports a node's failure
    as a 200 carrying "error")."""
    try:
        resp = requests.post(f"{gateway}/api/chat", timeout=TIMEOUT, headers={"X-Hydra-Routing-Mode": "async"},
                             json={"model": "llama3.2:3b", "stream": False,
                                   "messages": [{"role": "user", "content": f"fault {i} {time.time()}"}]})
        body = resp.json()
    except (requests.RequestException, ValueError):
        return None
    return None if resp.status_code != 200 or "error" in body else str(body["_sollol_routing"]["node"])


@pytest.fixture
def sollol_node_stopped(first_runs: Any, systems: Cluster) -> Iterator[tuple[str, str]]:
    """sollol-2's Ollama and its nginx front stopped (the node is gone); started again afterwards."""
    stop = "systemctl stop nginx.service ollama@11434.service"
    systems.ssh("sollol-2", stop)
    yield "10.213.9.10:11434", "10.213.9.11:11434"
    systems.ssh("sollol-2", "systemctl start ollama@11434.service nginx.service")


def test_a_stopped_sollol_node_is_routed_around(sollol_node_stopped: tuple[str, str], systems: Cluster) -> None:
    alive, dead = sollol_node_stopped
    gateway = f"http://{systems.host('sollol-1').address}:8090"
    stopped_at = time.monotonic()

    def one(i: int) -> tuple[float, str | None]:
        node = async_chat(gateway, i)
        return time.monotonic() - stopped_at, node

    with ThreadPoolExecutor(4) as pool:  # bounded: 120 requests, 4 at a time (async mode spreads them)
        results = list(pool.map(one, range(120)))
    failed = [t for t, node in results if node is None]
    window = max(failed, default=0.0)
    after = [node for t, node in results if t > window]
    print(f"\nSOLLOL node stopped: {len(failed)} failed, last failure {window:.2f}s after the stop; "
          f"{len(after)} answered after it")
    assert window < 2 * 2 + 5, f"failures went on for {window:.1f}s (probe interval 2 s)"
    assert len(after) >= 60 and set(after) == {alive}, results
    assert dead not in {node for _, node in results}


def test_the_stopped_node_comes_back_into_rotation(first_runs: Any, systems: Cluster) -> None:
    gateway = f"http://{systems.host('sollol-1').address}:8090"

    def both_available() -> bool:
        perf = requests.get(f"{gateway}/api/stats", timeout=TIMEOUT).json()["ollama_pool"]["node_performance"]
        return len(perf) == 2 and all(p["available"] for p in perf.values())

    wait_until(both_available, 30, "both SOLLOL nodes available again")


@pytest.fixture
def spark_embeddings_stopped(first_runs: Any, systems: Cluster) -> Iterator[SparkOptions]:
    """spark-2's embeddings container stopped; started again (and seen UP by Traefik) afterwards."""
    data = next(t.data for t in targets() if t.name == "spark-2")
    o = load(SparkOptions, data, "spark-2")
    service = f"docker ps -aq --filter label=com.docker.compose.project={o.spark_compose_project} " \
              f"--filter label=com.docker.compose.service={o.traefik_balanced_service}"
    systems.ssh("spark-2", f"docker stop $({service})")
    yield o
    systems.ssh("spark-2", f"docker start $({service})")
    wait_until(lambda: traefik_status(systems, o).get(backend(systems, "spark-2", o)) == "UP", 60,
               "Traefik to see spark-2's embeddings UP again")


def backend(systems: Cluster, name: str, o: SparkOptions) -> str:
    return f"http://{systems.host(name).address}:{o.balanced.port}"


def traefik_status(systems: Cluster, o: SparkOptions) -> dict[str, str]:
    out = systems.ssh("spark-1", f"curl -fsS http://127.0.0.1:{o.traefik_api_port}/api/http/services/"
                                 f"{o.traefik_balanced_service}@file").stdout
    return json.loads(out).get("serverStatus", {})


def test_traefik_routes_around_a_stopped_embeddings_service(spark_embeddings_stopped: SparkOptions,
                                                           systems: Cluster) -> None:
    o = spark_embeddings_stopped
    url = f"http://{systems.host('spark-1').address}:{o.traefik_port}/v1/embeddings"
    stopped_at, results = time.monotonic(), []
    # sequential requests for 5 s after the stop (bounded: at most 2000), well past the 1 s health checks
    while time.monotonic() - stopped_at < 5 and len(results) < 2000:
        try:
            ok = requests.post(url, timeout=TIMEOUT, json={"model": o.balanced.model,
                                                            "input": f"fault {len(results)}"}).status_code == 200
        except requests.RequestException:
            ok = False
        results.append((time.monotonic() - stopped_at, ok))
    failed = [t for t, ok in results if not ok]
    window = max(failed, default=0.0)
    print(f"\nspark-2 embeddings stopped: {len(failed)} of {len(results)} failed, last failure {window:.2f}s "
          "after the stop")
    assert window < 3, f"Traefik sent requests to the stopped service for {window:.1f}s (health check every 1 s)"
    assert sum(ok for t, ok in results if t > window) >= 30, results
    wait_until(lambda: traefik_status(systems, o).get(backend(systems, "spark-2", o)) == "DOWN", 10,
               "Traefik to mark spark-2 DOWN")


def test_a_config_traefik_refuses_never_replaces_the_running_one(first_runs: Any, systems: Cluster) -> None:
    data = next(t.data for t in targets() if t.name == "spark-1")
    o = load(SparkOptions, data, "spark-1")
    root = o.traefik_install_root
    live = systems.ssh("spark-1", f"sha256sum {root}/dynamic.yml").stdout
    static = json.dumps(yaml.safe_load(systems.ssh("spark-1", f"cat {root}/static.yml").stdout))
    bad = yaml.safe_dump({"http": {"services": {o.traefik_balanced_service: {"loadBalancr": {"servers": []}}}}})
    q, broken = shlex.quote, f"{root}/candidate/broken.yml"
    check = systems.ssh("spark-1", f"printf '%s' {q(bad)} > {broken} && chown {o.traefik_user} {broken} && "
                                   f"runuser -u {o.traefik_user} -- python3 {root}/check-config.py --traefik "
                                   f"{root}/venv/bin/traefik --dynamic {broken} --service "
                                   f"{o.traefik_balanced_service} --timeout 20 --static-json {q(static)}",
                        check=False)
    systems.ssh("spark-1", f"rm -f {root}/candidate/broken.yml")
    assert check.returncode != 0, check.stdout + check.stderr
    assert "loadBalancr" in check.stdout + check.stderr
    assert systems.ssh("spark-1", f"sha256sum {root}/dynamic.yml").stdout == live
    status = traefik_status(systems, o)
    assert status and set(status.values()) == {"UP"}, status
