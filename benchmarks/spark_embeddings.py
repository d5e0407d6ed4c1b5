"""Benchmark seed 004's embeddings stress test on the local systems cluster: Traefik over both spark hosts vs one host.

Prints, measured side by side in the same run (rounds alternate the two paths, machines are noisy), for
  direct: POST /v1/embeddings to spark-1's embeddings service (:8001, one host)
  LB:     the same through Traefik on spark-1 (:8000, balancing the embeddings of spark-1 and spark-2)
at the same concurrency and the same number of requests per round (each request one short unique text):
  1. per round: throughput (req/s) of each path and their ratio LB/direct, and how Traefik split the LB round
     between the hosts (from each host's vllm:request_success_total);
  2. per path over all rounds: throughput, p50/p95/p99 latency (ms), errors, and the client's own CPU use (the
     client shares this machine's cores with the cluster, so a busy client caps both paths alike);
  3. the throughput ratio LB/direct (median of the rounds), with seed 004's figures next to them (640 req/s on one
     node, 1,400 req/s through the balancer = 2.1x, p99 44 ms, embeddings latency ~10 ms).
Needs the systems flavour up (`hydra cluster up --flavour systems`) and a spark deploy. Addresses come from
devcluster/local/cluster-systems.yaml, ports and the model from the spark group data as the deploy reads it
(options override them; if it cannot be read the script stops with an error rather than guess). Talks only to the
local cluster's addresses; bounded in count (--rounds x --requests per path) and time (--budget seconds for the
rounds, each request times out after 10 s).
"""

from __future__ import annotations

import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import common  # noqa: E402
import requests  # noqa: E402

from devcluster.local.spec import HERE, load_spec  # noqa: E402

SEED = {"direct": 640.0, "lb": 1400.0, "ratio": 2.1, "p99_ms": 44.0, "latency_ms": 10.0}
TIMEOUT = 10.0


def read_group_settings(host: str) -> dict[str, Any]:
    """Traefik's port, the embeddings port and model from the spark group data, read as the deploy reads it (in
    group_settings' child process)."""
    from hydra_ops.services.spark.options import SparkOptions
    from hydra_ops.settings import load

    options = load(SparkOptions, common.systems_host_data(host), host)
    embeddings = options.spark_services["embeddings"]
    return {"lb_port": options.traefik_port, "direct_port": embeddings.port, "model": embeddings.model}


@dataclass
class EmbeddingsRoute(common.Route):
    """A path for /v1/embeddings: also the client's CPU time its rounds took and each round's throughput."""

    cpu: float = 0.0
    rates: list[float] = field(default_factory=list)


def embed(url: str, model: str, text: str) -> tuple[float, str | None]:
    """POST one text; return (seconds, error or None)."""
    started = time.perf_counter()
    try:
        resp = common.session().post(url, json={"model": model, "input": [text]}, timeout=TIMEOUT)
        elapsed = time.perf_counter() - started
        if resp.status_code != 200:
            return elapsed, f"HTTP {resp.status_code}"
        if len(resp.json()["data"]) != 1:
            return elapsed, "answer without one embedding"
        return elapsed, None
    except (requests.RequestException, ValueError, KeyError) as exc:
        return time.perf_counter() - started, type(exc).__name__


def run_round(path: EmbeddingsRoute, model: str, count: int, tag: str) -> float:
    """Send count requests through the path's pool; record latencies and errors; return its throughput."""
    started, cpu = time.perf_counter(), time.process_time()
    texts = [f"{tag} {path.name} {i} {time.time_ns()}" for i in range(count)]
    results = list(path.pool.map(lambda t: embed(path.url, model, t), texts))
    elapsed = time.perf_counter() - started
    path.cpu += time.process_time() - cpu
    rate = path.record(elapsed, [s for s, err in results if err is None],
                       [err for _, err in results if err is not None])
    path.rates.append(rate)
    return rate


def successes(address: str, port: int) -> float | None:
    """The host's embeddings vllm:request_success_total (summed over labels), None if /metrics does not answer."""
    try:
        text = requests.get(f"http://{address}:{port}/metrics", timeout=5).text
    except requests.RequestException:
        return None
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("vllm:request_success_total"))


def main() -> None:
    if common.print_group_data(read_group_settings):
        return
    parser = common.rounds_parser(__doc__.splitlines()[0], requests=400, concurrency=16, budget=50.0)
    parser.add_argument("--lb-port", type=int, help="Traefik's port (default: traefik_port of the group data)")
    parser.add_argument("--direct-port", type=int, help="embeddings port (default: from the group data)")
    args = parser.parse_args()

    spec = load_spec(HERE / "cluster-systems.yaml")
    sparks = sorted((h for h in spec.hosts if h.group == "spark"), key=lambda h: h.name)
    front = sparks[0]
    settings = common.group_settings(__file__, front.name)
    lb_port = args.lb_port or settings["lb_port"]
    direct_port = args.direct_port or settings["direct_port"]
    model = settings["model"]

    base = f"http://{front.address}"
    direct = EmbeddingsRoute("direct", f"{base}:{direct_port}/v1/embeddings", ThreadPoolExecutor(args.concurrency))
    lb = EmbeddingsRoute("LB", f"{base}:{lb_port}/v1/embeddings", ThreadPoolExecutor(args.concurrency))
    print(f"direct {front.name} {front.address}:{direct_port} (1 host) vs LB Traefik {front.address}:{lb_port} "
          f"({', '.join(f'{h.name} {h.address}' for h in sparks)}); model {model}; concurrency {args.concurrency}, "
          f"{args.requests} requests per path per round, {args.rounds} rounds")

    for path in (direct, lb):  # open every worker's connection before measuring
        common.warm_up(path, lambda i, p=path: embed(p.url, model, f"warm {p.name} {i} {time.time_ns()}"),
                       args.concurrency * 2)

    ratios = []
    for n, order in common.alternating_rounds(direct, lb, args.rounds, args.budget):  # alternate which path goes first
        rates, split = {}, ""
        for path in order:
            before = [successes(h.address, direct_port) for h in sparks] if path is lb else []
            rates[path.name] = run_round(path, model, args.requests, f"bench r{n}")
            if path is lb:
                after = [successes(h.address, direct_port) for h in sparks]
                split = ", ".join(f"{h.name} {a - b:.0f}" if a is not None and b is not None else f"{h.name} ?"
                                  for h, b, a in zip(sparks, before, after, strict=True))
        ratios.append(common.ratio(rates["LB"], rates["direct"]))
        print(f"round {n + 1} ({order[0].name} first): direct {rates['direct']:7.1f} req/s   "
              f"LB {rates['LB']:7.1f} req/s   ratio {ratios[-1]:.2f}x   LB split by host: {split}")

    print()
    print(f"{'path':<8}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'errors':>8}{'ok':>7}"
          f"{'client CPU':>12}")
    for path in (direct, lb):
        print(f"{path.name:<8}{path.rate:9.1f}{path.pct(50):9.2f}{path.pct(95):9.2f}"
              f"{path.pct(99):9.2f}{len(path.errors):8d}{path.served:7d}"
              f"{path.cpu / path.elapsed * 100 if path.elapsed else float('nan'):11.0f}%")
        if path.errors:
            kinds = {e: path.errors.count(e) for e in sorted(set(path.errors))}
            print(f"  {path.name} errors: {kinds}")
    print()
    print(f"throughput ratio LB({len(sparks)} hosts)/direct(1 host) at concurrency {args.concurrency}, "
          f"median of {len(ratios)} rounds: {common.median(ratios):.2f}x   (seed 004: {SEED['ratio']}x)")
    print(f"seed 004 for comparison: direct {SEED['direct']:.0f} req/s, LB {SEED['lb']:.0f} req/s, "
          f"p99 {SEED['p99_ms']:.0f} ms, embeddings latency ~{SEED['latency_ms']:.0f} ms "
          f"(seed's concurrency and client not stated)")
    print(f"this machine: {os.cpu_count()} CPUs shared by this client, Traefik and both hosts' doubles; client CPU "
          f"is this process's CPU time per wall second (100% = one core)")


if __name__ == "__main__":
    main()
