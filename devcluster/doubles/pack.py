"""Pack the test doubles the way their real products ship, so deploys install them through the same path."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: The double's TabbyAPI "revisions": stand-ins for the pinned commits of the V2 install and the V3 canary.
TABBY_DOUBLE_REVISION = "double-exl2"
TABBY_CANARY_REVISION = "double-exl3"


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


def pack_tabbyapi(dest_dir: Path, revision: str = TABBY_DOUBLE_REVISION) -> tuple[Path, str]:
    """tabbyAPI-<rev>.tar.gz with one top directory holding main.py and pyproject.toml (the real source's
    extras, for the deploy's extras check), like a GitHub source archive."""
    top = f"tabbyAPI-{revision}"
    path = dest_dir / f"{top}.tar.gz"
    entries: list[tuple[str, bytes | None, int]] = [(top, None, 0)]
    for name in ("main.py", "pyproject.toml"):
        entries.append((f"{top}/{name}", (HERE / "tabbyapi_double" / name).read_bytes(), 0o644))
    sha = _tarball(path, entries)
    return path, sha


def pack_vllm(dest_dir: Path) -> tuple[Path, str]:
    """vllm-double.tar.gz with bin/vllm (the double, run as `vllm serve MODEL ...`), unpacked under /usr/local by
    the image's Dockerfile (templates/images/vllm-double.Dockerfile.j2)."""
    path = dest_dir / "vllm-double.tar.gz"
    script = (HERE / "vllm_double.py").read_bytes()
    return path, _tarball(path, [("bin", None, 0), ("bin/vllm", script, 0o755)])


def pack_uptime_kuma(dest_dir: Path) -> tuple[Path, str]:
    """uptime-kuma-double.tar.gz: the double's package under its import path (devcluster.doubles...)."""
    path = dest_dir / "uptime-kuma-double.tar.gz"
    entries: list[tuple[str, bytes | None, int]] = [
        ("devcluster", None, 0), ("devcluster/__init__.py", b"", 0o644), ("devcluster/doubles", None, 0),
        ("devcluster/doubles/__init__.py", b"", 0o644), ("devcluster/doubles/uptime_kuma_double", None, 0)]
    for source in sorted((HERE / "uptime_kuma_double").glob("*.py")):
        entries.append((f"devcluster/doubles/uptime_kuma_double/{source.name}", source.read_bytes(), 0o644))
    return path, _tarball(path, entries)


#: The fake model the local mirror serves in place of Llama 3.3 70B EXL2 (same layout, a few MiB of bytes).
FAKE_MODEL = {"repo": "hydra-local/Llama-3.3-70B-Instruct-exl2", "revision": "4.0bpw",
              "dest": "Llama-3.3-70B-Instruct-exl2-4.0bpw"}


def pack_model(mirror_root: Path) -> dict[str, object]:
    """Write the fake model under <mirror_root>/<repo>/resolve/<revision>/ (Hugging Face URL layout) and return its
    tabby_models entry with every file's sha256."""
    folder = mirror_root / FAKE_MODEL["repo"] / "resolve" / FAKE_MODEL["revision"]
    folder.mkdir(parents=True, exist_ok=True)
    contents = {
        "config.json": b'{"architectures": ["LlamaForCausalLM"], "quantization_config": {"bits": 4.0}}\n',
        "tokenizer.json": b'{"version": "1.0", "model": {"type": "BPE"}}\n',
    }
    for shard in (1, 2):  # deterministic "weights", large enough to interrupt and resume
        seed = hashlib.sha256(f"shard-{shard}".encode()).digest()
        contents[f"output-0000{shard}-of-00002.safetensors"] = seed * (3 * 1024 * 1024 // len(seed))
    files = {}
    for name, data in contents.items():
        (folder / name).write_bytes(data)
        files[name] = hashlib.sha256(data).hexdigest()
    return {**FAKE_MODEL, "files": files}
