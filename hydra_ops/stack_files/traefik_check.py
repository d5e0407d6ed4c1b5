"""Check a candidate Traefik dynamic config with the real binary before it replaces the running one (Traefik has
no validate command): start it briefly on free loopback ports with a throwaway static config reading the
candidate, wait until its API lists the expected service with every router enabled, fail on any ERR log line or
an early exit. Standard library only: it runs on the host with its python3 (`--help` for the arguments)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def static_config(base: dict[str, Any], dynamic: str, api_port: int) -> dict[str, Any]:
    """The throwaway static config: the candidate static (base) with every entrypoint moved to a free loopback
    port, the API and ping on api_port, the candidate dynamic file, no version check, a JSON log on stdout."""
    conf = json.loads(json.dumps(base))
    points = {name: {**(spec or {}), "address": f"127.0.0.1:{free_port()}"}
              for name, spec in (conf.get("entryPoints") or {}).items()}
    points["traefik"] = {**points.get("traefik", {}), "address": f"127.0.0.1:{api_port}"}
    conf.update(entryPoints=points, api={**(conf.get("api") or {}), "insecure": True},
                ping={"entryPoint": "traefik"}, providers={"file": {"filename": dynamic, "watch": False}},
                log={"level": "INFO", "format": "json"})
    conf["global"] = {**(conf.get("global") or {}), "checkNewVersion": False, "sendAnonymousUsage": False}
    return conf


def errors(log: Path) -> list[str]:
    """Log lines at level error or worse (JSON log format), and lines that are not JSON at all (a crash)."""
    found = []
    for line in log.read_text(errors="replace").splitlines():
        try:
            level = str(json.loads(line).get("level", ""))
        except (ValueError, AttributeError):
            level = "error" if line.strip() else ""
        if level in ("error", "fatal", "panic"):
            found.append(line)
    return found


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=2) as response:
        return json.load(response)


def check(traefik: str, base: dict[str, Any], dynamic: str, service: str, timeout: float) -> list[str]:
    """Problems found (empty: the static config base and the dynamic file load cleanly and serve `service`)."""
    if not os.access(traefik, os.X_OK):
        return [f"{traefik} is not an executable"]
    if not Path(dynamic).is_file():
        return [f"{dynamic} does not exist"]
    with tempfile.TemporaryDirectory(prefix="traefik-check-") as tmp:
        api_port = free_port()
        static, log = Path(tmp, "static.yml"), Path(tmp, "traefik.log")
        static.write_text(json.dumps(static_config(base, dynamic, api_port)))  # JSON is YAML
        with log.open("wb") as out:
            proc = subprocess.Popen([traefik, f"--configfile={static}"], stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            problems = _watch(proc, log, f"http://127.0.0.1:{api_port}/api/http", service, timeout)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
        return problems + [f"log: {line}" for line in errors(log) if f"log: {line}" not in problems]


def _watch(proc: subprocess.Popen, log: Path, api: str, service: str, timeout: float) -> list[str]:
    """Poll until the API lists the service (then judge the routers), traefik exits, an ERR line shows, or the
    deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            return [f"traefik exited with status {proc.returncode}"]
        if errors(log):
            return []  # reported by the caller
        try:
            services = get(f"{api}/services")
            names = {s.get("name") for s in services}
            if f"{service}@file" in names:
                routers = get(f"{api}/routers")
                return [f"router {r.get('name')}: {r.get('status')} {r.get('error') or ''}".rstrip()
                        for r in routers if r.get("provider") == "file" and r.get("status") != "enabled"]
        except (OSError, ValueError, urllib.error.URLError):
            pass  # not listening yet
        if time.monotonic() > deadline:
            return [f"traefik did not list the service {service}@file within {timeout:g}s"]
        time.sleep(0.2)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--traefik", required=True, help="the traefik binary")
    p.add_argument("--dynamic", required=True, help="candidate dynamic config (file provider)")
    p.add_argument("--service", required=True, help="service the config must define (without @file)")
    p.add_argument("--static-json", default="{}", help="the candidate static config, as JSON")
    p.add_argument("--timeout", type=float, default=30)
    args = p.parse_args(argv)
    problems = check(args.traefik, json.loads(args.static_json), args.dynamic, args.service, args.timeout)
    for line in problems:
        print(line, file=sys.stderr)
    if not problems:
        print(f"{args.dynamic}: loads cleanly, serves {args.service}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
