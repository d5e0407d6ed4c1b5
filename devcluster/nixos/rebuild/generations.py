"""System profile bookkeeping: /nix/var/nix/profiles/system-<N>-link generations, the `system` profile link and
/run/current-system, plus the hash of the /etc/nixos sources a generation was built from."""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

PROFILES = "nix/var/nix/profiles"
CURRENT_SYSTEM = "run/current-system"
ETC_NIXOS = "etc/nixos"
_LINK = re.compile(r"^system-(\d+)-link$")


def profiles(root: Path) -> Path:
    return root / PROFILES


def path(root: Path, number: int) -> Path:
    return profiles(root) / f"system-{number}-link"


def host_path(number: int) -> str:
    """The generation's path as the host sees it."""
    return f"/{PROFILES}/system-{number}-link"


def numbers(root: Path) -> list[int]:
    """All generation numbers, ascending."""
    if not profiles(root).is_dir():
        return []
    found = (_LINK.match(p.name) for p in profiles(root).iterdir())
    return sorted(int(m.group(1)) for m in found if m and (profiles(root) / m.group(0)).is_dir())


def current(root: Path) -> int | None:
    """The generation the `system` profile points at."""
    link = profiles(root) / "system"
    if not link.is_symlink():
        return None
    m = _LINK.match(Path(os.readlink(link)).name)
    return int(m.group(1)) if m else None


def previous(root: Path) -> int | None:
    cur = current(root)
    older = [n for n in numbers(root) if cur is None or n < cur]
    return older[-1] if older else None


def _symlink(link: Path, target: str) -> None:
    """Point `link` at `target` atomically."""
    link.parent.mkdir(parents=True, exist_ok=True)
    tmp = link.with_name(f".{link.name}.tmp")
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(target)
    tmp.replace(link)


def link_current_system(root: Path, number: int) -> None:
    """/run/current-system -> the generation (re-done at boot: /run is a tmpfs)."""
    _symlink(root / CURRENT_SYSTEM, host_path(number))


def set_profile(root: Path, number: int) -> None:
    """Point the `system` profile at generation `number` (what `nix-env -p ... --set/--switch-generation` does)."""
    _symlink(profiles(root) / "system", f"system-{number}-link")


def set_current(root: Path, number: int) -> None:
    set_profile(root, number)
    link_current_system(root, number)


def number_of(gen: Path) -> int | None:
    """The generation number of a generation directory's path (`.../system-<N>-link`), or None."""
    m = _LINK.match(gen.name)
    return int(m.group(1)) if m else None


def new(root: Path) -> tuple[int, Path]:
    """A fresh, empty generation directory (not yet current)."""
    number = max(numbers(root), default=0) + 1
    gen = path(root, number)
    gen.mkdir(parents=True)
    return number, gen


def source_hash(root: Path) -> str:
    """sha256 over every regular file under /etc/nixos: for each (sorted by relative path) the relative path,
    a NUL, the content's length in decimal, a NUL, then the content."""
    base = root / ETC_NIXOS
    digest = hashlib.sha256()
    files = []
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames.sort()
        for name in filenames:
            full = Path(dirpath) / name
            if full.is_file():
                files.append((full.relative_to(base).as_posix(), full))
    for rel, full in sorted(files):
        data = full.read_bytes()
        digest.update(rel.encode() + b"\0" + str(len(data)).encode() + b"\0" + data)
    return digest.hexdigest()


def canonical(config: dict[str, Any]) -> str:
    return json.dumps(config, indent=1, sort_keys=True) + "\n"


def read_config(root: Path, number: int) -> dict[str, Any] | None:
    try:
        return json.loads((path(root, number) / "config.json").read_text())
    except (OSError, ValueError):
        return None


def read_text(root: Path, number: int, name: str, default: str = "") -> str:
    try:
        return (path(root, number) / name).read_text().strip()
    except OSError:
        return default


def same_as(root: Path, number: int | None, config: dict[str, Any], sources: str) -> bool:
    """Whether generation `number` was built from this very configuration and these very sources."""
    if number is None:
        return False
    old = path(root, number) / "config.json"
    return (old.is_file() and old.read_text() == canonical(config)
            and read_text(root, number, "sources.sha256") == sources)


def listing(root: Path) -> list[dict[str, Any]]:
    """Generations as `nixos-rebuild list-generations --json` prints them (newest first)."""
    cur = current(root)
    out = []
    for n in reversed(numbers(root)):
        out.append({"generation": n, "date": read_text(root, n, "build-date"),
                    "nixosVersion": read_text(root, n, "nixos-version"), "kernelVersion": os.uname().release,
                    "configurationRevision": read_text(root, n, "sources.sha256")[:12], "specialisations": [],
                    "current": n == cur})
    return out
