#!/usr/bin/env python3
"""Prometheus exporter for NVIDIA GPUs that reads `nvidia-smi --query-gpu` on every scrape (default :9835).

Standard library only; metric names follow utkuozdemir/nvidia_gpu_exporter where they overlap. Readings nvidia-smi
cannot give ("[N/A]", "[Not Supported]", ...) are left out, never exported as 0. A failing or hanging nvidia-smi
gives `nvidia_smi_up 0` and still an HTTP 200; at most one nvidia-smi runs at a time, for at most 5 s.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FIELDS = ("index", "uuid", "name", "temperature.gpu", "memory.used", "memory.total", "utilization.gpu", "power.draw")
TIMEOUT = 5.0
MIB = 1024 * 1024
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

#: name, help, query field, and multiplier/divisor from nvidia-smi's unit (nounits) to the metric's unit
GAUGES = (
    ("nvidia_smi_temperature_gpu", "GPU temperature in degrees Celsius (temperature.gpu).", "temperature.gpu", 1, 1),
    ("nvidia_smi_memory_used_bytes", "GPU memory in use in bytes (memory.used).", "memory.used", MIB, 1),
    ("nvidia_smi_memory_total_bytes", "Total GPU memory in bytes (memory.total).", "memory.total", MIB, 1),
    ("nvidia_smi_utilization_gpu_ratio", "GPU utilization as a ratio 0..1 (utilization.gpu).", "utilization.gpu",
     1, 100),
    ("nvidia_smi_power_draw_watts", "GPU power draw in watts (power.draw).", "power.draw", 1, 1),
)


@dataclass
class Sample:
    """One nvidia-smi run: its rows (field -> text), whether it worked, when it finished and how long it took."""

    rows: list[dict[str, str]] = field(default_factory=list)
    ok: bool = False
    finished: float = 0.0
    duration: float = 0.0
    error: str = ""
    unreaped: subprocess.Popen | None = None


def number(text: str) -> float | None:
    """A reading as a float; None for "[N/A]", "[Not Supported]", "N/A" and anything else that is not a number."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def parse(output: str) -> list[dict[str, str]]:
    """Rows of `--format=csv,noheader,nounits` output for FIELDS; lines with another field count are dropped."""
    rows = []
    for values in csv.reader(output.splitlines(), skipinitialspace=True):
        if len(values) == len(FIELDS):
            rows.append(dict(zip(FIELDS, (v.strip() for v in values), strict=True)))
    return rows


def run_nvidia_smi(binary: str, timeout: float = TIMEOUT) -> Sample:
    """Run the query once; on timeout the whole process group is killed, so no child outlives the scrape."""
    start = time.monotonic()
    sample = Sample()
    cmd = [binary, f"--query-gpu={','.join(FIELDS)}", "--format=csv,noheader,nounits"]
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, start_new_session=True)
    except OSError as exc:
        sample.error = f"cannot run {binary}: {exc}"
    else:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            try:
                proc.communicate(timeout=1)  # reap it and close the pipes
            except subprocess.TimeoutExpired:  # stuck in the driver (D state): the collector waits for it
                sample.unreaped = proc
            sample.error = f"{binary} timed out after {timeout:g} s"
        else:
            if proc.returncode != 0:
                sample.error = f"{binary} exited {proc.returncode}: {(err or out).strip()[:300]}"
            else:
                sample.rows, sample.ok = parse(out), True
    sample.finished = time.monotonic()
    sample.duration = sample.finished - start
    return sample


class Collector:
    """Serialises nvidia-smi runs: a scrape that waited for another one's run reuses that fresher result."""

    def __init__(self, binary: str, timeout: float = TIMEOUT) -> None:
        self.binary, self.timeout = binary, timeout
        self.lock = threading.Lock()
        self.last = Sample()
        self.failing = False

    def collect(self) -> Sample:
        asked = time.monotonic()
        if not self.lock.acquire(timeout=self.timeout + 1):
            return Sample(error="another nvidia-smi run is still in flight", finished=time.monotonic())
        try:
            if self.last.finished > asked:
                return self.last
            if self.last.unreaped is not None and self.last.unreaped.poll() is None:
                return Sample(error="a killed nvidia-smi has not exited yet", finished=time.monotonic())
            self.last = run_nvidia_smi(self.binary, self.timeout)
            if self.last.ok == self.failing:  # log state changes only, not every scrape
                self.failing = not self.last.ok
                print(self.last.error or "nvidia-smi answers again", file=sys.stderr, flush=True)
            return self.last
        finally:
            self.lock.release()


def escape(value: str) -> str:
    """A label value escaped for the text exposition format."""
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 2**53 else repr(float(value))


def exposition(sample: Sample) -> str:
    """The Prometheus text format for one sample: the per-GPU gauges, then nvidia_smi_up and the duration."""
    lines = []
    for name, help_text, key, mul, div in GAUGES:
        series = []
        for row in sample.rows:
            value = number(row[key])
            if value is not None:
                labels = ",".join(f'{k}="{escape(row[f])}"' for k, f in (("gpu", "index"), ("uuid", "uuid"),
                                                                        ("name", "name")))
                series.append(f"{name}{{{labels}}} {fmt(value * mul / div)}")
        if series:
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge", *series]
    lines += ["# HELP nvidia_smi_up Whether the last nvidia-smi query succeeded (1) or not (0).",
              "# TYPE nvidia_smi_up gauge", f"nvidia_smi_up {int(sample.ok)}",
              "# HELP nvidia_smi_scrape_duration_seconds How long the nvidia-smi query took.",
              "# TYPE nvidia_smi_scrape_duration_seconds gauge",
              f"nvidia_smi_scrape_duration_seconds {sample.duration:.6f}"]
    return "\n".join(lines) + "\n"


INDEX = b"""<html><head><title>hydra-ops GPU exporter</title></head><body><h1>hydra-ops GPU exporter</h1>
<p><a href="/metrics">Metrics</a></p></body></html>
"""


class Handler(BaseHTTPRequestHandler):
    collector: Collector
    server_version = "hydra-gpu-exporter/1"

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            self.reply(200, CONTENT_TYPE, exposition(self.collector.collect()).encode())
        elif path == "/":
            self.reply(200, "text/html; charset=utf-8", INDEX)
        else:
            self.reply(404, "text/plain; charset=utf-8", b"not found\n")

    def reply(self, code: int, content_type: str, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Scrapes are not logged (one line per scrape would flood the journal); failures are, by the collector."""


def listen_address(text: str) -> tuple[str, int]:
    """ADDRESS:PORT, with IPv6 addresses in brackets ("[::]:9835")."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected ADDRESS:PORT, got {text!r}")
    return host.strip("[]") or "0.0.0.0", int(port)


def serve(address: tuple[str, int], binary: str) -> ThreadingHTTPServer:
    """A threaded server bound to address; port 0 picks a free port (see server.server_address)."""
    handler = type("BoundHandler", (Handler,), {"collector": Collector(binary)})
    server_class = type("Server", (ThreadingHTTPServer,), {
        "address_family": socket.AF_INET6 if ":" in address[0] else socket.AF_INET, "daemon_threads": True})
    return server_class(address, handler)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", type=listen_address, default="0.0.0.0:9835", help="ADDRESS:PORT to serve on")
    parser.add_argument("--nvidia-smi", default="nvidia-smi", help="nvidia-smi binary (name on PATH or path)")
    args = parser.parse_args(argv)
    server = serve(args.listen, args.nvidia_smi)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    host, port = server.server_address[:2]
    print(f"listening on {f'[{host}]' if ':' in host else host}:{port}", flush=True)
    with server:
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
