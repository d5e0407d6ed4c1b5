"""hydra-ops' launcher for the SOLLOL gateway (PyPI sollol, run from its own venv by sollol-gateway.service).

It starts SOLLOL's own FastAPI gateway (sollol.gateway.start_api) with what SOLLOL 0.9.66 cannot be told from its
command line, read from one JSON file that hydra-ops renders:
- the Ollama nodes, given explicitly, and an empty RPC backend list: SOLLOL's node discovery (a /24 scan of
  :11434) and RPC discovery (a /24 scan of :50052) are replaced by functions that refuse, so no address outside
  the inventory is ever probed;
- the seed's routing modes (fast, reliable, async: names SOLLOL defines in sollol.routing_modes but never wires
  in) mapped onto SOLLOL's real routing strategies, the default one from group data and per request through the
  X-Hydra-Routing-Mode header;
- the model placement: a request for a model goes only to the nodes it was placed on (a 70B model never to a
  node that cannot hold it), chosen among them by SOLLOL's strategy;
- node health: SOLLOL probes a node only every 100 requests and its Ray path never fails over, so a node is taken
  out of rotation when a request could not reach it, and probed every health_interval seconds to come back;
- SOLLOL's local Ray on loopback only: SOLLOL calls a bare ray.init(), whose GCS, raylet, agents, metrics and
  worker ports listen on every interface (anyone on the LAN running Ray could submit code; Ray's docs keep its
  ports on a trusted network). The launcher starts Ray first on 127.0.0.1 (see ray_on_loopback); SOLLOL's own
  ray.init(ignore_reinit_error=True) then reuses it.
Usage: python sollol_gateway.py CONFIG.json
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import sys
import threading
import time
from typing import Any

#: the seed's modes -> SOLLOL RoutingStrategy values (sollol/routing_strategy.py)
STRATEGIES = {"fast": "latency_first", "reliable": "intelligent", "async": "least_loaded"}
HEADER = b"x-hydra-routing-mode"
LOOPBACK = "127.0.0.1"
#: Ray's single-machine mode (its default on macOS and Windows): the node address is 127.0.0.1 and every Ray
#: server binds it. Ray 2.60 reads this once, when ray is imported, and otherwise turns a loopback
#: _node_ip_address back into the LAN address (services.resolve_ip_for_localhost); its processes inherit it.
RAY_LOOPBACK_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}


def refuse_discovery(*_args: Any, **_kwargs: Any) -> Any:
    """Stands in for SOLLOL's network scans: hydra-ops lists every node, so a scan is a bug, never a fallback."""
    raise RuntimeError("network discovery is disabled by hydra-ops: nodes come from the inventory")


class Request:
    """What one HTTP request asked for (its routing mode) and the nodes it was sent to (in-flight accounting)."""

    def __init__(self, mode: str) -> None:
        self.mode, self.nodes = mode, []


def probe(url: str, timeout: float) -> bool:
    """True when an Ollama node answers its model list."""
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status == 200
    except OSError:
        return False


def unreachable(body: bytes) -> bool:
    """Whether an answer is SOLLOL's report that its Ray worker could not reach the node (a 200 with "error")."""
    if not body.startswith(b"{") or len(body) > 1 << 20:
        return False
    try:
        error = json.loads(body).get("error")
    except ValueError:
        return False  # not SOLLOL's JSON error: nothing to learn about the node
    return isinstance(error, str) and error.startswith("Request to ") and " failed" in error


def ray_on_loopback(ray: Any) -> str:
    """Start the gateway's local Ray before SOLLOL does, every port on loopback: node address 127.0.0.1 (with
    RAY_LOOPBACK_ENV set before ray was imported) and no dashboard (its job API runs code). Refuse to go on when
    Ray took another node address: its ports would then listen beyond loopback."""
    ray.init(_node_ip_address=LOOPBACK, include_dashboard=False, logging_level=logging.WARNING)
    node = ray.util.get_node_ip_address()
    if node != LOOPBACK:
        ray.shutdown()
        raise RuntimeError(f"Ray's node address is {node}, not {LOOPBACK}: its ports would listen beyond loopback")
    return str(node)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    with open(argv[0], encoding="utf-8") as fh:
        cfg = json.load(fh)
    # SOLLOL logs its decisions (nodes, Ray, routing) at INFO through logging; the journal keeps them
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    os.environ.update(RAY_LOOPBACK_ENV)  # before sollol imports ray
    import ray
    from sollol import discovery, gateway, rpc_discovery
    from sollol.routing_strategy import RoutingStrategy

    discovery.discover_ollama_nodes = refuse_discovery
    rpc_discovery.auto_discover_rpc_backends = refuse_discovery
    current: contextvars.ContextVar[Request | None] = contextvars.ContextVar("hydra_request", default=None)
    placement: dict[str, list[str]] = cfg["placement"]
    default = cfg["default_mode"]
    pools: list[Any] = []

    def mode() -> str:
        req = current.get()
        return req.mode if req else default

    class PlacedPool(gateway.OllamaPool):  # type: ignore[misc,name-defined]
        """SOLLOL's pool, choosing by the request's mode among the nodes that hold the requested model, and
        counting the requests in flight on each node (SOLLOL's Ray path does not)."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            # no dashboard registration (a 200 there starts an RPC scan), no second Dask cluster
            kwargs.update(register_with_dashboard=False, enable_dask=False, discover_all_nodes=False)
            super().__init__(*args, **kwargs)
            self._hydra_lock = threading.Lock()
            pools.append(self)

        def _select_node(self, payload: dict[str, Any] | None = None, priority: int = 5) -> Any:
            allowed = placement.get(str((payload or {}).get("model", "")))
            with self._hydra_lock:
                every = self.nodes
                if allowed:
                    self.nodes = [n for n in every if f"{n['host']}:{n['port']}" in allowed] or every
                self.routing_strategy = RoutingStrategy(STRATEGIES[mode()])
                try:
                    node, decision = super()._select_node(payload=payload, priority=priority)
                finally:
                    self.nodes = every
                self.in_flight(f"{node['host']}:{node['port']}", +1)
            req = current.get()
            if req is not None:
                req.nodes.append(f"{node['host']}:{node['port']}")
            return node, decision

        def in_flight(self, key: str, delta: int) -> None:
            perf = self.stats["node_performance"].get(key)
            if perf is not None:
                perf["active_requests"] = max(0, perf.get("active_requests", 0) + delta)

    class Parallelism(gateway.AdaptiveParallelismStrategy):  # type: ignore[misc,name-defined]
        """Async mode runs every request on SOLLOL's Ray actors (its parallel path); the others keep SOLLOL's
        own choice (for single requests: its sequential path, which fails over between nodes)."""

        def should_parallelize(self, batch_size: int, model_name: str | None = None) -> tuple[bool, dict]:
            if mode() == "async":
                return True, {"reason": "hydra_async_mode", "detail": "routing mode async: Ray actors"}
            return super().should_parallelize(batch_size, model_name)

    class RoutingModes:
        """ASGI middleware: the request's routing mode (header, else the default); an unknown mode is refused
        with 400 before SOLLOL sees the request; the nodes it went to leave the in-flight count when it ends."""

        def __init__(self, app: Any) -> None:
            self.app = app

        async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                await self.app(scope, receive, send)
                return
            asked = dict(scope.get("headers") or []).get(HEADER, default.encode()).decode("latin-1").strip()
            if asked not in STRATEGIES:
                body = json.dumps({"error": f"unknown routing mode {asked!r}: use one of {', '.join(STRATEGIES)}"})
                await send({"type": "http.response.start", "status": 400,
                            "headers": [(b"content-type", b"application/json")]})
                await send({"type": "http.response.body", "body": body.encode()})
                return
            req = Request(asked)
            token = current.set(req)
            body: list[bytes] = []

            async def watch(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.body" and len(body) < 64:
                    body.append(message.get("body", b""))
                    if not message.get("more_body") and req.nodes and unreachable(b"".join(body)):
                        for pool in pools:  # passive check: out of rotation now, back when the probe answers
                            perf = pool.stats["node_performance"].get(req.nodes[-1])
                            if perf is not None:
                                perf["available"] = False
                await send(message)

            try:
                await self.app(scope, receive, send=watch)
            finally:
                current.reset(token)
                for pool in pools:
                    with pool._hydra_lock:
                        for key in req.nodes:
                            pool.in_flight(key, -1)

    def health_loop(interval: float) -> None:
        """Mark nodes (un)available every interval (SOLLOL's own check runs only every 100 requests a node)."""
        while True:
            time.sleep(interval)  # the probe period itself, not a wait for a condition
            for pool in pools:
                for node in list(pool.nodes):
                    key = f"{node['host']}:{node['port']}"
                    perf = pool.stats["node_performance"].get(key)
                    if perf is not None:
                        perf["available"] = probe(f"http://{key}/api/tags", timeout=min(interval, 2.0))

    gateway.OllamaPool = PlacedPool
    gateway.AdaptiveParallelismStrategy = Parallelism
    gateway.app.add_middleware(RoutingModes)
    threading.Thread(target=health_loop, args=(float(cfg["health_interval"]),), daemon=True,
                     name="hydra-node-health").start()
    nodes = [{"host": n["host"], "port": str(n["port"])} for n in cfg["nodes"]]
    ray_node = ray_on_loopback(ray)
    logging.getLogger("hydra_ops").info(
        "SOLLOL gateway on :%s over %s; discovery disabled; default routing mode %s; Ray on %s only", cfg["port"],
        ", ".join(f"{n['host']}:{n['port']}" for n in nodes), default, ray_node)
    gateway.start_api(port=int(cfg["port"]), ollama_nodes=nodes, rpc_backends=[],
                      ray_workers=int(cfg["ray_workers"]), enable_batch_processing=False)
    return 0


if __name__ == "__main__":  # Dask and Ray start processes that re-import this file
    sys.exit(main(sys.argv[1:]))
