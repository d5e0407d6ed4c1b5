"""What the systems benchmarks share: the group data read in a child process, a kept-alive Session per worker thread,
the record of one path under test, the alternating rounds that compare two paths, and the summary figures.

Imported as `common` by a script run as `python benchmarks/x.py` (its folder is then first on sys.path).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import requests

ROOT = Path(__file__).resolve().parents[1]
PRINT_GROUP_DATA = "--print-group-data"
GROUP_DATA_TIMEOUT = 60.0


def systems_host_data(host: str) -> dict[str, Any]:
    """The host's data in the systems flavour's inventory, as the deploy loads it; only for the child process of
    group_settings (loading the inventory patches the process with gevent)."""
    from devcluster.local.spec import FLAVOURS
    from hydra_ops import PROJECT_ROOT
    from hydra_ops.targets import load_inventory

    inventory, _ = load_inventory(PROJECT_ROOT / FLAVOURS["systems"][1] / "inventory.py")
    return inventory.get_host(host).data.dict()


def print_group_data(reader: Callable[..., dict[str, Any]]) -> bool:
    """Answer group_settings' call (`script --print-group-data ARGS...`): print reader(*ARGS) as JSON and return True;
    False, doing nothing, for any other command line."""
    if sys.argv[1:2] != [PRINT_GROUP_DATA]:
        return False
    print(json.dumps(reader(*sys.argv[2:])))
    return True


def _last_line(text: str | bytes | None) -> str:
    """The last non-empty line of a child's output, '' without one."""
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    lines = (text or "").strip().splitlines()
    return lines[-1].strip() if lines else ""


def group_settings(script: str, *args: str) -> dict[str, Any]:
    """The script's group-data reader run in a child process (`script --print-group-data ARGS...`): loading the
    inventory imports pyinfra's CLI, which monkey-patches the process with gevent, and the benchmark's threads must
    stay real threads.

    Exits with an error naming what failed (with the child's last stderr line) if the data cannot be read: built-in
    defaults could point the benchmark at the wrong ports or model, and it would silently measure the wrong thing.
    """
    command = [sys.executable, str(Path(script).resolve()), PRINT_GROUP_DATA, *args]
    stderr: str | bytes | None = None
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=GROUP_DATA_TIMEOUT, check=True, cwd=ROOT)
        stderr = out.stderr
        settings = json.loads(_last_line(out.stdout))
        if not isinstance(settings, dict):
            raise ValueError(f"not a JSON object: {_last_line(out.stdout)[:200]}")
        return settings
    except subprocess.CalledProcessError as exc:
        stderr, failure = exc.stderr, f"exited with status {exc.returncode}"
    except subprocess.TimeoutExpired as exc:
        stderr, failure = exc.stderr, f"gave no answer in {GROUP_DATA_TIMEOUT:.0f} s"
    except OSError as exc:
        failure = f"could not start ({exc})"
    except ValueError as exc:
        failure = f"printed no group data ({type(exc).__name__}: {exc})"
    shown = " ".join([Path(script).name, PRINT_GROUP_DATA, *args])
    detail = _last_line(stderr) or "(nothing on stderr)"
    raise SystemExit(f"error: group data not read: `{shown}` {failure}; its last stderr line: {detail}\n"
                     f"not benchmarking with guessed ports and settings (fix the inventory or its group data first)")


_local = threading.local()


def session() -> requests.Session:
    """One Session (one kept-alive connection) per worker thread."""
    if not hasattr(_local, "session"):
        _local.session = requests.Session()
    return _local.session


@dataclass
class Route:
    """One path under test: its workers and what its requests measured over all rounds."""

    name: str
    url: str
    pool: ThreadPoolExecutor
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    elapsed: float = 0.0
    served: int = 0

    def record(self, elapsed: float, latencies: list[float], errors: list[str]) -> float:
        """Add one round (its wall time, the successes' latencies, the failures); return its throughput (req/s)."""
        self.latencies += latencies
        self.errors += errors
        self.elapsed += elapsed
        self.served += len(latencies)
        return len(latencies) / elapsed

    @property
    def rate(self) -> float:
        """Throughput over all rounds (req/s); nan before any."""
        return self.served / self.elapsed if self.elapsed else float("nan")

    def pct(self, q: int) -> float:
        """q-th percentile of the successes' latencies over all rounds, in ms; nan without any."""
        return pct(self.latencies, q)


R = TypeVar("R", bound=Route)


def warm_up(route: Route, call: Callable[[int], tuple[Any, ...]], count: int) -> None:
    """Open every worker's connection before measuring: call(0..count-1) through the route's pool (each result's last
    item its error or None); print how many failed."""
    warm = list(route.pool.map(call, range(count)))
    failed = [result[-1] for result in warm if result[-1]]
    if failed:
        print(f"warm-up {route.name}: {len(failed)} of {len(warm)} failed ({failed[0]})")


def rounds_parser(description: str, requests: int, concurrency: int, budget: float,
                  concurrency_note: str = "") -> argparse.ArgumentParser:
    """A parser with the options every alternating-rounds benchmark takes (requests and concurrency per path, rounds,
    time budget), given its defaults; the script adds its own."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--requests", type=int, default=requests,
                        help=f"requests per path per round (default {requests})")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (default 3)")
    parser.add_argument("--concurrency", type=int, default=concurrency,
                        help=f"requests in flight per path (default {concurrency}{concurrency_note})")
    parser.add_argument("--budget", type=float, default=budget,
                        help=f"stop starting rounds after this many s ({budget:.0f})")
    return parser


def alternating_rounds(first: R, second: R, rounds: int, budget: float) -> Iterator[tuple[int, tuple[R, R]]]:
    """Each round's number and the order the two paths go in, alternating (machines are noisy, neither path should
    always go first); stops starting rounds, saying so, once budget seconds are spent, and then shuts the pools down."""
    started = time.perf_counter()
    try:
        for n in range(rounds):
            if time.perf_counter() - started > budget:
                print(f"time budget {budget:.0f} s reached: stopped after {n} rounds")
                break
            yield n, (first, second) if n % 2 == 0 else (second, first)
    finally:
        for route in (first, second):
            route.pool.shutdown()


def ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator; nan if the denominator is 0 (a path that served nothing)."""
    return numerator / denominator if denominator else float("nan")


def median(values: list[float]) -> float:
    """The median; nan without values."""
    return statistics.median(values) if values else float("nan")


def pct(values: list[float], q: int) -> float:
    """q-th percentile in ms (inclusive method); nan without values."""
    if len(values) < 2:
        return values[0] * 1000 if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] * 1000
