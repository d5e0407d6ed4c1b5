"""Pack the test doubles the way their real products ship, so deploys install them through the same path."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: The double's TabbyAPI "revision": stands in for the pinned git commit of the real source tarball.
TABBY_DOUBLE_REVISION = "double-exl2"


def _tarball(path: Path, entries: list[tuple[str, bytes | None, int]]) -> str:
    """Write a deterministic .tar.gz (mtime 0, root-owned) of (name, data or None for a dir, mode); return sha256."""
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        for name, data, mode in entries:
            info = tarfile.TarInfo(name)
            info.mtime, info.uname, info.gname = 0, "root", "root"
            if data is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            else:
                info.size, info.mode = len(data), mode
                tar.addfile(info, io.BytesIO(data))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.getvalue())
    return hashlib.sha256(buf.getvalue()).hexdigest()


def pack_ollama(dest_dir: Path) -> tuple[Path, str]:
    """ollama-linux-amd64.tgz with bin/ollama and lib/ollama/, like upstream's release asset."""
    path = dest_dir / "ollama-linux-amd64.tgz"
    script = (HERE / "ollama_double.py").read_bytes()
    sha = _tarball(path, [("bin", None, 0), ("bin/ollama", script, 0o755), ("lib", None, 0),
                          ("lib/ollama", None, 0)])
    return path, sha


def pack_tabbyapi(dest_dir: Path) -> tuple[Path, str]:
    """tabbyAPI-<rev>.tar.gz with one top directory holding main.py, like a GitHub source archive."""
    top = f"tabbyAPI-{TABBY_DOUBLE_REVISION}"
    path = dest_dir / f"{top}.tar.gz"
    main = (HERE / "tabbyapi_double" / "main.py").read_bytes()
    sha = _tarball(path, [(top, None, 0), (f"{top}/main.py", main, 0o644)])
    return path, sha
