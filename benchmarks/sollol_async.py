"""Benchmark seed 003's SOLLOL async routing on the local systems cluster: the gateway over both nodes vs one node.

Prints, measured side by side in the same run (rounds alternate the two paths, machines are noisy), for
  async:    POST /api/chat to the SOLLOL gateway (sollol-1 :8090) with X-Hydra-Routing-Mode: async (both nodes)
  one node: the same body directly to sollol-1's Ollama (:11434)
at the same concurrency (default 4 = SOLLOL's parallel requests) and the same requests per round (every request's
content unique, so SOLLOL's cache of identical deterministic requests never answers):
  1. per round: throughput (req/s) of each path, their ratio async/one-node, and which nodes served the async round
     (from each answer's _sollol_routing.node);
  2. per path over all rounds: throughput, p50/p95 latency (ms), errors, and requests served per node;
  3. the throughput ratio async/one-node (median of the rounds).
Needs the systems flavour up (`hydra cluster up --flavour systems`) and a sollol deploy. Addresses come from
devcluster/local/cluster-systems.yaml, ports from the sollol group data as the deploy reads it (options override
them; if it cannot be read the script stops with an error rather than guess). Talks only to the local cluster's
addresses; bounded in count (--rounds x --requests per path) and time (--budget seconds for the rounds, each request
times out after 30 s).
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import common  # noqa: E402
import requests  # noqa: E402

from devcluster.local.spec import HERE, load_spec  # noqa: E402

TIMEOUT = 30.0


def read_group_settings(host: str, model: str) -> dict[str, Any]:
    """The gateway's host and port, the node's Ollama port and the parallelism knobs from the sollol group data,
    read as the deploy reads it (in group_settings' child process)."""
    from hydra_ops.services.ollama.options import OllamaOptions
    from hydra_ops.services.sollol.options import SollolOptions
    from hydra_ops.settings import load

    data = common.systems_host_data(host)
    sollol, ollama = load(SollolOptions, data, host), load(OllamaOptions, data, host)
    placed = [t.nodes for tier in sollol.sollol_model_tiers.values() for t in tier if t.model == model]
    return {"gateway_host": sollol.sollol_gateway_host, "gateway_port": sollol.sollol_port,
            "ollama_port": ollama.ollama_instances[0].port, "max_concurrent": sollol.sollol_max_concurrent_requests,
            "num_parallel": ollama.ollama_num_parallel,
            "token_delay_ms": ollama.ollama_extra_env.get("OLLAMA_DOUBLE_TOKEN_DELAY_MS", "20 (double's default)"),
            "placed_on": placed[0] if placed else None}


@dataclass
class ChatRoute(common.Route):
    """A path for /api/chat: the headers its requests carry and the nodes that served them."""

    headers: dict[str, str] = field(default_factory=dict)
    nodes: Counter[str] = field(default_factory=Counter)


def chat(route: ChatRoute, model: str, content: str) -> tuple[float, str | None, str | None]:
    """POST one non-streamed /api/chat; return (seconds, serving node or None, error or None)."""
    body = {"model": model, "messages": [{"role": "user", "content": content}], "stream": False}
    started = time.perf_counter()
    try:
        resp = common.session().post(route.url, json=body, headers=route.headers, timeout=TIMEOUT)
        elapsed = time.perf_counter() - started
        if resp.status_code != 200:
            return elapsed, None, f"HTTP {resp.status_code}"
        data = resp.json()
        if not data.get("done"):
            return elapsed, None, "answer not done"
        return elapsed, (data.get("_sollol_routing") or {}).get("node"), None
    except (requests.RequestException, ValueError) as exc:
        return time.perf_counter() - started, None, type(exc).__name__


def run_round(route: ChatRoute, model: str, count: int, tag: str) -> tuple[float, Counter[str]]:
    """Send count unique requests through the route's pool; record them; return throughput and nodes that served."""
    contents = [f"{tag} {route.name} request {i} at {time.time_ns()}: say something" for i in range(count)]
    started = time.perf_counter()
    results = list(route.pool.map(lambda c: chat(route, model, c), contents))
    elapsed = time.perf_counter() - started
    ok = [(s, node) for s, node, err in results if err is None]
    nodes = Counter(node or "?" for _, node in ok)
    route.nodes.update(nodes)
    return route.record(elapsed, [s for s, _ in ok], [err for _, _, err in results if err is not None]), nodes


def main() -> None:
    if common.print_group_data(read_group_settings):
        return
    parser = common.rounds_parser(__doc__.splitlines()[0], requests=24, concurrency=4, budget=75.0,
                                  concurrency_note=" = SOLLOL's parallel requests")
    parser.add_argument("--model", default="llama3.2:3b")
    parser.add_argument("--node", default="sollol-1", help="the node the one-node path talks to (default sollol-1)")
    parser.add_argument("--gateway-port", type=int, help="SOLLOL's port (default: sollol_port of the group data)")
    parser.add_argument("--ollama-port", type=int, help="the node's Ollama port (default: from the group data)")
    args = parser.parse_args()

    spec = load_spec(HERE / "cluster-systems.yaml")
    sollols = {h.name: h for h in spec.hosts if h.group == "sollol"}
    if args.node not in sollols:
        raise SystemExit(f"--node {args.node}: not a sollol host of the systems cluster ({', '.join(sollols)})")
    settings = common.group_settings(__file__, args.node, args.model)
    gateway = sollols[settings["gateway_host"]]
    gateway_port = args.gateway_port or settings["gateway_port"]
    ollama_port = args.ollama_port or settings["ollama_port"]
    names = {f"{h.address}:{ollama_port}": name for name, h in sollols.items()}

    node = sollols[args.node]
    headers = {"X-Hydra-Routing-Mode": "async"}
    gw = ChatRoute("async", f"http://{gateway.address}:{gateway_port}/api/chat", ThreadPoolExecutor(args.concurrency),
                   headers=headers)
    one = ChatRoute("one node", f"http://{node.address}:{ollama_port}/api/chat", ThreadPoolExecutor(args.concurrency))
    print(f"async: SOLLOL gateway {gateway.name} {gateway.address}:{gateway_port} "
          f"(nodes {', '.join(f'{n} {h.address}:{ollama_port}' for n, h in sollols.items())}) vs one node: "
          f"{node.name} {node.address}:{ollama_port}; model {args.model} (placed on {settings['placed_on']})")
    print(f"concurrency {args.concurrency}, {args.requests} requests per path per round, {args.rounds} rounds; "
          f"group data: sollol_max_concurrent_requests {settings['max_concurrent']}, OLLAMA_NUM_PARALLEL "
          f"{settings['num_parallel']} per node, double {settings['token_delay_ms']} ms/token")

    for route in (one, gw):  # open every worker's connection (and the gateway's actors) before measuring
        common.warm_up(route, lambda i, r=route: chat(r, args.model, f"warm {r.name} {i} {time.time_ns()}"),
                       args.concurrency)

    def label(nodes: Counter[str]) -> str:
        return ", ".join(f"{names.get(n, n)} {c}" for n, c in sorted(nodes.items()))

    ratios = []
    for n, order in common.alternating_rounds(one, gw, args.rounds, args.budget):  # alternate which path goes first
        rates, split = {}, Counter()
        for route in order:
            rates[route.name], nodes = run_round(route, args.model, args.requests, f"bench r{n}")
            if route is gw:
                split = nodes
        ratios.append(common.ratio(rates["async"], rates["one node"]))
        print(f"round {n + 1} ({order[0].name} first): one node {rates['one node']:6.2f} req/s   "
              f"async {rates['async']:6.2f} req/s   ratio {ratios[-1]:.2f}x   async served by: {label(split)}")

    print()
    print(f"{'path':<10}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'errors':>8}{'ok':>6}  served by")
    for route in (one, gw):
        by = label(route.nodes) if route is gw else f"{node.name} (direct)"
        print(f"{route.name:<10}{route.rate:8.2f}{route.pct(50):9.1f}{route.pct(95):9.1f}"
              f"{len(route.errors):8d}{route.served:6d}  {by}")
        if route.errors:
            print(f"  {route.name} errors: {dict(Counter(route.errors))}")
    print()
    print(f"throughput ratio async({len(sollols)} nodes via SOLLOL)/one node at concurrency {args.concurrency}, "
          f"median of {len(ratios)} rounds: {common.median(ratios):.2f}x")


if __name__ == "__main__":
    main()
