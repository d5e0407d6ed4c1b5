"""Benchmark G5's Redis response cache on the local cluster: a LiteLLM cache hit vs a miss, with the Ollama double
set to answer in 500 ms (8 tokens x 62.5 ms).

Rounds alternate a miss (a new prompt) and a hit (a prompt already answered), measured side by side in one run.
The last line prints the ratio (target >= 10x). Needs `hydra cluster up` and a site deploy; it redeploys
hydra-compute with the 500 ms double and restores the local default afterwards. Talks only to the local
cluster's addresses; bounded in count (--rounds) and time (each call times out after 60 s).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import openai  # noqa: E402

from devcluster.local.cluster import Cluster  # noqa: E402
from hydra_ops.runner import run_deploy  # noqa: E402

SLOW = 'ollama_extra_env = {"OLLAMA_DOUBLE_TOKEN_DELAY_MS": "62.5", "OLLAMA_DOUBLE_TOKENS": "8"}\n'


def compute_deploy(cluster: Cluster, overrides: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folders = []
        if overrides:
            (Path(tmp) / "compute.py").write_text(overrides)
            folders.append(Path(tmp))
        result = run_deploy(cluster.inventory, "deploys/compute.py", group_data=folders)
        if not result.ok:
            raise SystemExit(f"compute deploy failed:\n{result.stderr[-2000:]}")


def timed(client: openai.OpenAI, prompt: str) -> tuple[float, bool]:
    started = time.perf_counter()
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-3.5-turbo", messages=[{"role": "user", "content": prompt}])
    raw.parse()
    return time.perf_counter() - started, bool(raw.headers.get("x-litellm-cache-key"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="miss/hit pairs (default 20)")
    args = parser.parse_args()
    cluster = Cluster()
    address = next(h.address for h in cluster.spec.hosts if h.group == "storage")
    client = openai.OpenAI(base_url=f"http://{address}:4000/v1", api_key=cluster.secrets.read()["litellm_master_key"],
                           max_retries=0, timeout=60)
    compute_deploy(cluster, SLOW)
    try:
        warm = f"hydra cache benchmark {uuid.uuid4()}"
        timed(client, warm)  # answered once: from now on a hit
        misses, hits = [], []
        for i in range(args.rounds):
            seconds, cached = timed(client, f"hydra cache benchmark miss {uuid.uuid4()} {i}")
            assert not cached, "a new prompt was served from the cache"
            misses.append(seconds)
            seconds, cached = timed(client, warm)
            assert cached, "a repeated prompt was not served from the cache"
            hits.append(seconds)
    finally:
        compute_deploy(cluster, None)
    miss, hit = statistics.median(misses), statistics.median(hits)
    print(f"rounds: {args.rounds} miss/hit pairs through LiteLLM on {address}:4000, double answering in 500 ms")
    print(f"miss median: {miss * 1000:.1f} ms (p90 {sorted(misses)[int(0.9 * len(misses))] * 1000:.1f} ms)")
    print(f"hit median:  {hit * 1000:.1f} ms (p90 {sorted(hits)[int(0.9 * len(hits))] * 1000:.1f} ms)")
    print(f"cache hit vs miss: {miss / hit:.1f}x faster (target >= 10x)")


if __name__ == "__main__":
    main()
