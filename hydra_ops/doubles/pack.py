"""Pack a test double the way its real product ships, so deploys install it through the same path."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _add(tar: tarfile.TarFile, name: str, data: bytes | None, mode: int) -> None:
    info = tarfile.TarInfo(name)
    info.mtime = 0  # deterministic: the same double always packs to the same sha256
    info.uname = info.gname = "root"
    if data is None:
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(info)
    else:
        info.size, info.mode = len(data), mode
        tar.addfile(info, io.BytesIO(data))


def pack_ollama(dest_dir: Path) -> tuple[Path, str]:
    """Write ollama-linux-amd64.tgz (bin/ollama + lib/ollama/, like upstream) into dest_dir; return path, sha256."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    path = dest_dir / "ollama-linux-amd64.tgz"
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        _add(tar, "bin", None, 0)
        _add(tar, "bin/ollama", (HERE / "ollama_double.py").read_bytes(), 0o755)
        _add(tar, "lib", None, 0)
        _add(tar, "lib/ollama", None, 0)
    data = buf.getvalue()
    path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest()
