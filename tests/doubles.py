"""Helpers for running the test doubles as local processes in unit tests."""

from __future__ import annotations

import socket
import subprocess
import time

import requests


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_serving(proc: subprocess.Popen[bytes], url: str, timeout: float = 10) -> None:
    """Wait until url answers at all (any status); kill the process and fail if it never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"{url} did not answer within {timeout:.0f}s")
