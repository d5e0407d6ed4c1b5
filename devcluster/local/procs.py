"""Host-side process helpers of the local cluster (root, liveness, kill, nspawn leftovers, mounts, ports)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def require_root() -> None:
    if os.geteuid() != 0:
        raise PermissionError("the local cluster needs root (network namespaces, bridge, systemd-nspawn)")


def alive(pid: Any) -> bool:
    if not pid:
        return False
    try:
        stat = Path(f"/proc/{int(pid)}/stat").read_text()
    except (OSError, ValueError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def kill(pid: Any) -> None:
    if alive(pid):
        try:
            os.kill(int(pid), signal.SIGKILL)
        except ProcessLookupError:
            pass


def nspawn_pids(state_dir: Path) -> list[int]:
    """nspawn processes still running on this cluster's machine directories."""
    out = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        # the directory itself, not a prefix of it (.cluster is a prefix of .cluster-seeds)
        if args and args[0].endswith(b"systemd-nspawn") and f"{state_dir}/".encode() in b" ".join(args):
            out.append(int(cmdline.parent.name))
    return out


def remove_tree(root: Path) -> None:
    """Delete a tree with coreutils' rm, never crossing into another filesystem.

    Not shutil.rmtree: under gevent's monkey patching (pyinfra's CLI, hydra's) `os.close` defers closing a
    directory's descriptor to the event loop once a hub exists, and rmtree never yields, so every directory it
    visits stays open: n8n's node_modules (about 20,000 directories) ran the process out of descriptors."""
    proc = subprocess.run(["rm", "-rf", "--one-file-system", "--", str(root)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"could not remove {root}: {proc.stderr.strip()[-500:]}")


@contextlib.contextmanager
def scratch_dir(parent: Path) -> Iterator[Path]:
    """A temporary directory under parent, removed with remove_tree (tempfile.TemporaryDirectory uses rmtree)."""
    path = Path(tempfile.mkdtemp(dir=parent))
    try:
        yield path
    finally:
        remove_tree(path)


def assert_unmounted(root: Path) -> None:
    prefix = str(root) + "/"
    mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    busy = [m for m in mounts if m == str(root) or m.startswith(prefix)]
    if busy:
        raise RuntimeError(f"refusing to delete {root}: still mounted: {busy[:3]}")


def wait_port(host: str, port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{host}:{port} did not open within {timeout:.0f}s")
