"""The real n8n for the local stack, installed from the npm registry (n8nio/n8n lives on Docker Hub, not reachable
here): `npm install` of the pinned release, its SQLite driver compiled against this machine's Node.js headers (the
driver's prebuilt binaries come from GitHub), and that Node.js binary, packed as one tarball the image unpacks.
Built once per machine and cached beside the base image (about two and a half minutes)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from devcluster.local.image import cache_dir
from devcluster.local.procs import scratch_dir

N8N_VERSION = "1.72.1"
#: n8n-nodes-base asks for xlsx from cdn.sheetjs.com (not reachable); the registry's last xlsx release stands in
OVERRIDES = {"xlsx": "0.18.5"}
#: bump when the bundle's layout or the build changes so stale caches are rebuilt
BUNDLE_VERSION = 2


def ensure_n8n(log: Callable[[str], object] = print) -> tuple[Path, str]:
    """The cached n8n bundle (node_modules/ and bin/node under n8n/) and its sha256, built the first time."""
    tarball = cache_dir() / f"n8n-{N8N_VERSION}-v{BUNDLE_VERSION}.tar.gz"
    if not tarball.exists():
        _build(tarball, log)
    digest = hashlib.sha256()
    with tarball.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return tarball, digest.hexdigest()


def _build(tarball: Path, log: Callable[[str], object]) -> None:
    node, npm = shutil.which("node"), shutil.which("npm")
    headers = Path("/usr/include/node/node_api.h")
    if not (node and npm and headers.exists()):
        raise RuntimeError("building n8n needs node, npm and Node.js headers (/usr/include/node); "
                           "scripts/install.sh installs them")
    tarball.parent.mkdir(parents=True, exist_ok=True)
    log(f"building {tarball.name}: npm install n8n@{N8N_VERSION} (cached afterwards)")
    with scratch_dir(tarball.parent) as tmp:
        top = tmp / "n8n"
        (top / "bin").mkdir(parents=True)
        (top / "package.json").write_text(json.dumps({
            "name": "hydra-local-n8n", "version": N8N_VERSION, "private": True,
            "dependencies": {"n8n": N8N_VERSION}, "overrides": OVERRIDES}, indent=2) + "\n")
        env = {**os.environ, "npm_config_cache": str(cache_dir() / "npm"), "npm_config_update_notifier": "false"}
        # no install scripts: they fetch prebuilt binaries from GitHub; the one native module n8n needs is built
        _run([npm, "install", "--omit=dev", "--no-audit", "--no-fund", "--ignore-scripts", "--prefix", str(top)],
             env)
        _run([npm, "rebuild", "sqlite3", "--build-from-source", "--nodedir=/usr", "--prefix", str(top)],
             {**env, "JOBS": "2"})
        shutil.copy2(os.path.realpath(node), top / "bin" / "node")
        partial = tarball.with_suffix(".partial")
        # fast compression: the bundle is built once and only crosses the local bridge
        _run(["tar", "--numeric-owner", "--owner=0", "--group=0", "-I", "gzip -1", "-C", str(tmp), "-cf", str(partial),
              "n8n"], env)
        partial.replace(tarball)


def _run(cmd: list[str], env: dict[str, str]) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])} failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
