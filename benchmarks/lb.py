"""Benchmark the G2 load balancer on the local cluster: LB over both instances vs one instance directly.

Prints, measured side by side in the same run (rounds alternate the two paths, machines are noisy):
  1. throughput at concurrency 8 through the LB (2 instances) / directly to one instance  (target >= 1.9x)
  2. median time to first streamed token via the LB minus direct                       (target <= 2 ms)
Needs `hydra cluster up` and a compute deploy. Talks only to the local cluster's addresses; bounded in count.
"""

from __future__ import annotations

import argparse
import http.client
import json
import runpy
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from devcluster.local.cluster import load_spec  # noqa: E402


def compute_address() -> str:
    return next(h.address for h in load_spec().hosts if h.group == "compute")


def post(host: str, port: int, body: dict, stream: bool) -> float:
    """POST /api/generate; return seconds to the first body line (stream) or to the full answer."""
    conn = http.client.HTTPConnection(host, port, timeout=120)
    payload = json.dumps({**body, "stream": stream})
    started = time.perf_counter()
    conn.request("POST", "/api/generate", payload, {"Content-Type": "application/json"})
    resp = conn.getresponse()
    if resp.status != 200:
        raise RuntimeError(f"{host}:{port} answered {resp.status}")
    if stream:
        resp.readline()  # chunk-size line is consumed by http.client; this is the first NDJSON object
        first = time.perf_counter() - started
        resp.read()
    else:
        data = json.loads(resp.read())
        assert data["done"], data
        first = time.perf_counter() - started
    conn.close()
    return first


def throughput(host: str, port: int, body: dict, requests: int, concurrency: int) -> float:
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(lambda _: post(host, port, body, stream=False), range(requests)))
    return requests / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=96, help="requests per path per round (default 96)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (default 3)")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--ttft-samples", type=int, default=60, help="streamed requests per path (default 60)")
    args = parser.parse_args()

    data = runpy.run_path(str(ROOT / "group_data" / "compute.py"))
    local = runpy.run_path(str(ROOT / "devcluster" / "local" / "group_data" / "compute.py"))
    host, lb, direct = compute_address(), data["lb_port"], data["ollama_instances"][0]["port"]
    body = {"model": data["ollama_models"][0], "prompt": "benchmark"}
    print(f"target {host}: LB :{lb} ({len(data['ollama_instances'])} instances) vs direct :{direct}; "
          f"double delay {local['ollama_extra_env']['OLLAMA_DOUBLE_TOKEN_DELAY_MS']} ms/token, "
          f"OLLAMA_NUM_PARALLEL={data['ollama_num_parallel']}")

    for port in (lb, direct):  # warm connections and models
        post(host, port, body, stream=False)

    ratios = []
    for n in range(args.rounds):
        d = throughput(host, direct, body, args.requests, args.concurrency)
        b = throughput(host, lb, body, args.requests, args.concurrency)
        ratios.append(b / d)
        print(f"round {n + 1}: direct {d:6.1f} req/s   LB {b:6.1f} req/s   ratio {b / d:.2f}x")

    via_lb, via_direct = [], []
    for _ in range(args.ttft_samples):
        via_direct.append(post(host, direct, body, stream=True))
        via_lb.append(post(host, lb, body, stream=True))
    med_lb, med_direct = statistics.median(via_lb) * 1000, statistics.median(via_direct) * 1000
    print(f"time to first token, median: direct {med_direct:.2f} ms, LB {med_lb:.2f} ms")
    print(f"throughput ratio LB(2 instances)/direct(1 instance) at concurrency {args.concurrency}: "
          f"{statistics.median(ratios):.2f}x (target >= 1.9x)")
    print(f"TTFT overhead via LB, median: {med_lb - med_direct:.2f} ms (target <= 2 ms)")


if __name__ == "__main__":
    main()
