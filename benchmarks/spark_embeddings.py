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
(options override them). Talks only to the local cluster's addresses; bounded in count (--rounds x --requests
per path) and time (--budget seconds for the rounds, each request times out after 10 s).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from devcluster.local.spec import FLAVOURS, HERE, load_spec  # noqa: E402

SEED = {"direct": 640.0, "lb": 1400.0, "ratio": 2.1, "p99_ms": 44.0, "latency_ms": 10.0}
DEFAULTS = {"lb_port": 8000, "direct_port": 8001, "model": "answerdotai/ModernBERT-base"}
TIMEOUT = 10.0


def read_group_settings(host: str) -> dict[str, Any]:
    """Traefik's port, the embeddings port and model from the spark group data, read as the deploy reads it.

    Runs in a child process (this script with --print-group-data): loading the inventory imports pyinfra's CLI,
    which monkey-patches the process with gevent, and the benchmark's threads must stay real threads.
    """
    from hydra_ops import PROJECT_ROOT
    from hydra_ops.services.spark.options import SparkOptions
    from hydra_ops.settings import load
    from hydra_ops.targets import load_inventory

    inventory, _ = load_inventory(PROJECT_ROOT / FLAVOURS["systems"][1] / "inventory.py")
    options = load(SparkOptions, inventory.get_host(host).data.dict(), host)
    embeddings = options.spark_services["embeddings"]
    return {"lb_port": options.traefik_port, "direct_port": embeddings.port, "model": embeddings.model}


def group_settings(host: str) -> dict[str, Any]:
    """read_group_settings in a child process; the defaults (the seed's) if that fails."""
    try:
        out = subprocess.run([sys.executable, __file__, "--print-group-data", host], capture_output=True, text=True,
                             timeout=60, check=True, cwd=ROOT)
        return json.loads(out.stdout.strip().splitlines()[-1])
    except (subprocess.SubprocessError, OSError, ValueError, IndexError) as exc:
        detail = exc.stderr.strip().splitlines()[-1] if isinstance(exc, subprocess.CalledProcessError) else exc
        print(f"note: group data not read ({type(exc).__name__}: {detail}); using defaults {DEFAULTS}")
        return dict(DEFAULTS)


@dataclass
class Route:
    name: str
    url: str
    pool: ThreadPoolExecutor
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    elapsed: float = 0.0
    cpu: float = 0.0
    served: int = 0
    rates: list[float] = field(default_factory=list)


_local = threading.local()


def session() -> requests.Session:
    """One Session (one kept-alive connection) per worker thread."""
    if not hasattr(_local, "session"):
        _local.session = requests.Session()
    return _local.session


def embed(url: str, model: str, text: str) -> tuple[float, str | None]:
    """POST one text; return (seconds, error or None)."""
    started = time.perf_counter()
    try:
        resp = session().post(url, json={"model": model, "input": [text]}, timeout=TIMEOUT)
        elapsed = time.perf_counter() - started
        if resp.status_code != 200:
            return elapsed, f"HTTP {resp.status_code}"
        if len(resp.json()["data"]) != 1:
            return elapsed, "answer without one embedding"
        return elapsed, None
    except (requests.RequestException, ValueError, KeyError) as exc:
        return time.perf_counter() - started, type(exc).__name__


def run_round(path: Route, model: str, count: int, tag: str) -> float:
    """Send count requests through the path's pool; record latencies and errors; return its throughput."""
    started, cpu = time.perf_counter(), time.process_time()
    texts = [f"{tag} {path.name} {i} {time.time_ns()}" for i in range(count)]
    results = list(path.pool.map(lambda t: embed(path.url, model, t), texts))
    elapsed = time.perf_counter() - started
    ok = [s for s, err in results if err is None]
    path.latencies += ok
    path.errors += [err for _, err in results if err is not None]
    path.elapsed += elapsed
    path.cpu += time.process_time() - cpu
    path.served += len(ok)
    path.rates.append(len(ok) / elapsed)
    return len(ok) / elapsed


def successes(address: str, port: int) -> float | None:
    """The host's embeddings vllm:request_success_total (summed over labels), None if /metrics does not answer."""
    try:
        text = requests.get(f"http://{address}:{port}/metrics", timeout=5).text
    except requests.RequestException:
        return None
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("vllm:request_success_total"))


def pct(values: list[float], q: int) -> float:
    """q-th percentile in ms (inclusive method); nan without values."""
    if len(values) < 2:
        return values[0] * 1000 if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] * 1000


def main() -> None:
    if sys.argv[1:2] == ["--print-group-data"]:
        print(json.dumps(read_group_settings(sys.argv[2])))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400, help="requests per path per round (default 400)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (default 3)")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight per path (default 16)")
    parser.add_argument("--budget", type=float, default=50.0, help="stop starting rounds after this many s (50)")
    parser.add_argument("--lb-port", type=int, help="Traefik's port (default: traefik_port of the group data)")
    parser.add_argument("--direct-port", type=int, help="embeddings port (default: from the group data)")
    args = parser.parse_args()

    spec = load_spec(HERE / "cluster-systems.yaml")
    sparks = sorted((h for h in spec.hosts if h.group == "spark"), key=lambda h: h.name)
    front = sparks[0]
    settings = group_settings(front.name)
    lb_port = args.lb_port or settings["lb_port"]
    direct_port = args.direct_port or settings["direct_port"]
    model = settings["model"]

    base = f"http://{front.address}"
    direct = Route("direct", f"{base}:{direct_port}/v1/embeddings", ThreadPoolExecutor(args.concurrency))
    lb = Route("LB", f"{base}:{lb_port}/v1/embeddings", ThreadPoolExecutor(args.concurrency))
    print(f"direct {front.name} {front.address}:{direct_port} (1 host) vs LB Traefik {front.address}:{lb_port} "
          f"({', '.join(f'{h.name} {h.address}' for h in sparks)}); model {model}; concurrency {args.concurrency}, "
          f"{args.requests} requests per path per round, {args.rounds} rounds")

    for path in (direct, lb):  # open every worker's connection before measuring
        warm = list(path.pool.map(lambda i, p=path: embed(p.url, model, f"warm {p.name} {i} {time.time_ns()}"),
                                  range(args.concurrency * 2)))
        failed = [err for _, err in warm if err]
        if failed:
            print(f"warm-up {path.name}: {len(failed)} of {len(warm)} failed ({failed[0]})")

    started = time.perf_counter()
    ratios = []
    for n in range(args.rounds):
        if time.perf_counter() - started > args.budget:
            print(f"time budget {args.budget:.0f} s reached: stopped after {n} rounds")
            break
        order = (direct, lb) if n % 2 == 0 else (lb, direct)  # alternate which path goes first
        rates, split = {}, ""
        for path in order:
            before = [successes(h.address, direct_port) for h in sparks] if path is lb else []
            rates[path.name] = run_round(path, model, args.requests, f"bench r{n}")
            if path is lb:
                after = [successes(h.address, direct_port) for h in sparks]
                split = ", ".join(f"{h.name} {a - b:.0f}" if a is not None and b is not None else f"{h.name} ?"
                                  for h, b, a in zip(sparks, before, after, strict=True))
        ratios.append(rates["LB"] / rates["direct"] if rates["direct"] else float("nan"))
        print(f"round {n + 1} ({order[0].name} first): direct {rates['direct']:7.1f} req/s   "
              f"LB {rates['LB']:7.1f} req/s   ratio {ratios[-1]:.2f}x   LB split by host: {split}")
    for path in (direct, lb):
        path.pool.shutdown()

    print()
    print(f"{'path':<8}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'errors':>8}{'ok':>7}"
          f"{'client CPU':>12}")
    for path in (direct, lb):
        rate = path.served / path.elapsed if path.elapsed else float("nan")
        print(f"{path.name:<8}{rate:9.1f}{pct(path.latencies, 50):9.2f}{pct(path.latencies, 95):9.2f}"
              f"{pct(path.latencies, 99):9.2f}{len(path.errors):8d}{path.served:7d}"
              f"{path.cpu / path.elapsed * 100 if path.elapsed else float('nan'):11.0f}%")
        if path.errors:
            kinds = {e: path.errors.count(e) for e in sorted(set(path.errors))}
            print(f"  {path.name} errors: {kinds}")
    ratio = statistics.median(ratios) if ratios else float("nan")
    print()
    print(f"throughput ratio LB({len(sparks)} hosts)/direct(1 host) at concurrency {args.concurrency}, "
          f"median of {len(ratios)} rounds: {ratio:.2f}x   (seed 004: {SEED['ratio']}x)")
    print(f"seed 004 for comparison: direct {SEED['direct']:.0f} req/s, LB {SEED['lb']:.0f} req/s, "
          f"p99 {SEED['p99_ms']:.0f} ms, embeddings latency ~{SEED['latency_ms']:.0f} ms "
          f"(seed's concurrency and client not stated)")
    print(f"this machine: {os.cpu_count()} CPUs shared by this client, Traefik and both hosts' doubles; client CPU "
          f"is this process's CPU time per wall second (100% = one core)")


if __name__ == "__main__":
    main()
