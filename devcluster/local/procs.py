"""Host-side process helpers of the local cluster (root, liveness, kill, nspawn leftovers, mounts, ports)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
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
    """Delete a machine directory with coreutils' rm (shutil.rmtree ran out of file descriptors in the deep
    node_modules of a guest's docker layers), never crossing into another filesystem."""
    proc = subprocess.run(["rm", "-rf", "--one-file-system", "--", str(root)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"could not remove {root}: {proc.stderr.strip()[-500:]}")


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
