"""Smoke checks for the SOLLOL cluster (seed 003): the gateway sees both nodes, answers in every routing mode,
serves an async burst on both nodes at once, and sends a 70B request only to the node that holds it.

Run against the local cluster's systems flavour or the real one: `hydra verify` (with the sollol group present).
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from hydra_ops.services.ollama.state import canonical
from hydra_ops.services.sollol.options import ROUTING_MODES

from ..smoke.conftest import unit_state

TIMEOUT = 60


def chat(gateway: str, model: str, mode: str, text: str = "hello") -> tuple[int, dict[str, Any]]:
    """One non-streaming chat through the gateway in a routing mode: (HTTP status, body)."""
    resp = requests.post(f"{gateway}/api/chat", timeout=TIMEOUT, headers={"X-Hydra-Routing-Mode": mode},
                         json={"model": model, "stream": False, "messages": [{"role": "user", "content": text}]})
    return resp.status_code, resp.json()


def node_of(body: dict[str, Any]) -> str:
    assert "error" not in body, f"the gateway answered an error: {body['error']}"
    return str(body["_sollol_routing"]["node"])


class TestSollol:
    """seed 003: SOLLOL in front of two Ollama nodes of different capacity."""

    def test_gateway_unit_runs_unprivileged(self, sollol_cluster: Any) -> None:
        gw = sollol_cluster.hosts[sollol_cluster.options.sollol_gateway_host]
        state = unit_state(gw, "sollol-gateway.service")
        assert (state["ActiveState"], state["UnitFileState"]) == ("active", "enabled"), state
        user = gw.check_output("ps -o user= -p %s", state["MainPID"]).strip()
        assert user == sollol_cluster.options.sollol_user

    def test_sollol_sees_both_nodes_and_nothing_else(self, sollol_cluster: Any) -> None:
        stats = requests.get(f"{sollol_cluster.gateway}/api/stats", timeout=TIMEOUT).json()
        seen = stats["ollama_pool"]["node_performance"]
        assert sorted(seen) == sorted(sollol_cluster.endpoints.values())
        assert all(perf["available"] for perf in seen.values()), seen

    def test_a_request_in_each_routing_mode_is_answered(self, sollol_cluster: Any) -> None:
        for mode in ROUTING_MODES:
            status, body = chat(sollol_cluster.gateway, "llama3.2:3b", mode)
            assert status == 200 and body["message"]["content"], (mode, body)
            assert node_of(body) in sollol_cluster.endpoints.values(), mode

    def test_a_mode_sollol_does_not_have_is_refused(self, sollol_cluster: Any) -> None:
        status, body = chat(sollol_cluster.gateway, "llama3.2:3b", "turbo")
        assert status == 400 and "unknown routing mode 'turbo'" in body["error"]

    def test_an_async_burst_runs_on_both_nodes_at_once(self, sollol_cluster: Any) -> None:
        gateway, n = sollol_cluster.gateway, 4 * sollol_cluster.options.sollol_max_concurrent_requests
        started = time.monotonic()
        node_of(chat(gateway, "llama3.2:3b", "async", "warm up")[1])
        single = time.monotonic() - started
        started = time.monotonic()
        with ThreadPoolExecutor(n) as pool:
            bodies = list(pool.map(lambda i: chat(gateway, "llama3.2:3b", "async", f"burst {i} {time.time()}")[1],
                                   range(n)))
        wall = time.monotonic() - started
        used = {node_of(b) for b in bodies}
        assert used == set(sollol_cluster.endpoints.values()), f"the burst used only {used}"
        # one at a time it would take n x single; parallel on two nodes it takes a fraction of that
        assert wall < n * single / 2, f"{n} requests took {wall:.2f}s, one takes {single:.2f}s: not parallel"

    def test_a_70b_request_lands_only_on_the_node_that_can_hold_it(self, sollol_cluster: Any) -> None:
        o = sollol_cluster.options
        holders = {sollol_cluster.endpoints[n] for n in o.placement()["llama3.1:70b"]}
        small = [n for n, spec in o.sollol_nodes.items() if spec.capacity_b < 70]
        assert small, "the seed's light node should be too small for a 70B model"
        for mode in ROUTING_MODES:
            for i in range(3):
                status, body = chat(sollol_cluster.gateway, "llama3.1:70b", mode, f"big {i} {time.time()}")
                assert status == 200 and node_of(body) in holders, (mode, body.get("_sollol_routing"))

    def test_each_node_holds_exactly_its_placed_models(self, sollol_cluster: Any) -> None:
        for name, endpoint in sollol_cluster.endpoints.items():
            tags = requests.get(f"http://{endpoint}/api/tags", timeout=TIMEOUT).json()
            held = {canonical(m["name"]) for m in tags["models"]}
            assert held == {canonical(m) for m in sollol_cluster.options.models_on(name)}, name

    def test_seed_settings_sollol_does_not_read_go_to_the_application_file(self, sollol_cluster: Any) -> None:
        o = sollol_cluster.options
        gw = sollol_cluster.hosts[o.sollol_gateway_host]
        sollol_env = gw.file(f"{o.sollol_config_dir}/sollol.env").content_string
        app_env = gw.file(f"{o.sollol_config_dir}/hydra-app.env").content_string
        assert f"SOLLOL_MIN_VRAM_MB={o.sollol_min_vram_mb}" in sollol_env and "HYDRA_" not in sollol_env
        assert f"SOLLOL_DEFAULT_ROUTING_MODE={o.sollol_routing_mode}" in app_env
        assert f"HYDRA_REASONING_MODEL={o.sollol_app_env['HYDRA_REASONING_MODEL']}" in app_env
        config = json.loads(gw.file(f"{o.sollol_config_dir}/gateway.json").content_string)
        assert sorted(f"{n['host']}:{n['port']}" for n in config["nodes"]) == sorted(sollol_cluster.endpoints.values())

    def test_the_gateway_never_ran_a_network_discovery(self, sollol_cluster: Any) -> None:
        gw = sollol_cluster.hosts[sollol_cluster.options.sollol_gateway_host]
        journal = gw.check_output("journalctl -u sollol-gateway.service --no-pager -o cat")
        nodes = ", ".join(f"{n['host']}:{n['port']}" for n in json.loads(
            gw.file(f"{sollol_cluster.options.sollol_config_dir}/gateway.json").content_string)["nodes"])
        assert f"over {nodes}; discovery disabled" in journal
        assert "Auto-discover" not in journal and "network discovery is disabled" not in journal
