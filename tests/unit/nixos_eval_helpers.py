"""Shared helpers for the NixOS evaluation tests: fake store paths and pkgs, writing and evaluating modules."""

from __future__ import annotations

from pathlib import Path

import pytest

from devcluster.nixos import NixEvalError, evaluate

BEFORE = Path(__file__).resolve().parents[2] / "devcluster" / "nixos" / "before"
NAMES = ["ollama", "nginx", "bash", "coreutils", "curl", "python3", "iproute2", "procps", "util-linux"]


def _store(name: str) -> str:
    """A /nix/store path with a 32-character hash part derived from the name."""
    return f"/nix/store/{(name.replace('-', '') * 32)[:32]}-{name}-1.0"


PKGS = {n: {"outPath": _store(n), "name": f"{n}-1.0", "version": "1.0"} for n in NAMES}


def _write(tmp: Path, files: dict[str, str]) -> Path:
    """Write modules into tmp; returns tmp/configuration.nix."""
    for name, text in files.items():
        (tmp / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp / name).write_text(text)
    return tmp / "configuration.nix"


def _eval_files(tmp: Path, pkgs_file: Path, files: dict[str, str]) -> dict:
    return evaluate(_write(tmp, files), pkgs_file)


def _error(tmp: Path, pkgs_file: Path, files: dict[str, str]) -> str:
    with pytest.raises(NixEvalError) as info:
        _eval_files(tmp, pkgs_file, files)
    return str(info.value)
