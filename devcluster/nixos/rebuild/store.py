"""The fake /nix/store of a NixOS-shaped Debian host: store paths named the way Nix names them.

A package is a directory `/nix/store/<32 nix-base32 chars>-<attr>-<version>/bin/<name>` whose entries are symlinks to
the Debian binaries that stand in for it. Generated files (unit scripts, nginx.conf) are content-addressed the same
way, so an unchanged input keeps its store path and the units that name it stay unchanged between generations.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

STORE = "/nix/store"
PKGS_JSON = "/etc/hydra-nixos/pkgs.json"
_ALPHABET = "0123456789abcdfghijklmnpqrsvwxyz"  # Nix's base32 (no e, o, t, u)


def nix_base32(data: bytes) -> str:
    """Nix's base32 encoding (least significant bits first, as `nix hash to-base32` prints)."""
    length = (len(data) * 8 - 1) // 5 + 1
    chars = []
    for n in range(length - 1, -1, -1):
        bit = n * 5
        i, j = divmod(bit, 8)
        c = data[i] >> j
        if i + 1 < len(data):
            c |= data[i + 1] << (8 - j)
        chars.append(_ALPHABET[c & 0x1F])
    return "".join(chars)


def store_hash(key: str) -> str:
    """32 base32 characters from a sha256 of `key`, folded to 160 bits as Nix's compressHash does."""
    digest = hashlib.sha256(key.encode()).digest()
    folded = bytearray(20)
    for i, b in enumerate(digest):
        folded[i % 20] ^= b
    return nix_base32(bytes(folded))


def store_path(name: str, key: str) -> str:
    """The host path of a store object called `name` whose identity is `key`."""
    return f"{STORE}/{store_hash(key)}-{name}"


def host(root: Path, path: str) -> Path:
    """`path` (absolute on the host) under the root directory `root`."""
    return root / path.lstrip("/")


def _replace_symlink(link: Path, target: str) -> None:
    if link.is_symlink():
        if os.readlink(link) == target:
            return
        link.unlink()
    elif link.exists():
        link.unlink()
    link.symlink_to(target)


def make_store(root: Path, packages: dict[str, dict]) -> dict:
    """Create the store paths of `packages` under `root` and write `<root>/etc/hydra-nixos/pkgs.json`.

    `packages` maps a nixpkgs attribute path to `{"version": "...", "bin": {"name": "/usr/bin/real-target", ...}}`,
    optionally with `"name"` (the store name) and `"lib": {"libfoo.so.1": "/usr/lib/.../libfoo.so.1"}`, whose files
    are copied (not linked) into `<out>/lib` from the root, so the copy stays visible where a unit cannot see
    Debian's file.
    Returns (and writes) `{"<attr>": {"outPath": ..., "name": "<attr>-<version>", "version": ...}}`.
    """
    mapping: dict[str, dict] = {}
    for attr, spec in sorted(packages.items()):
        version = str(spec.get("version", ""))
        name = spec.get("name") or (f"{attr}-{version}" if version else attr)
        out = store_path(name, f"{attr}{version}")
        bindir = host(root, out) / "bin"
        bindir.mkdir(parents=True, exist_ok=True)
        for exe, target in sorted((spec.get("bin") or {}).items()):
            _replace_symlink(bindir / exe, target)
        for lib, source in sorted((spec.get("lib") or {}).items()):
            target = host(root, out) / "lib" / lib
            target.parent.mkdir(parents=True, exist_ok=True)
            guest = host(root, source)  # a bare root (unit tests) has none: this machine's file then
            shutil.copyfile(guest if guest.exists() else source, target)
        mapping[attr] = {"outPath": out, "name": name, "version": version}
    pkgs = host(root, PKGS_JSON)
    pkgs.parent.mkdir(parents=True, exist_ok=True)
    pkgs.write_text(json.dumps(mapping, indent=2, sort_keys=True) + "\n")
    return mapping


def add_text(root: Path, name: str, text: str, *, executable: bool = False, filename: str | None = None) -> str:
    """A content-addressed store object holding `text`; returns its host path (the file itself).

    With `filename` the object is a directory holding `bin/<filename>` (like writeShellScriptBin); otherwise the
    object is the file.
    """
    base = store_path(name, f"{name}\0{int(executable)}\0{filename or ''}\0{text}")
    path = f"{base}/bin/{filename}" if filename else base
    target = host(root, path)
    if not target.exists() or target.read_text() != text:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_text(text)
        tmp.chmod(0o555 if executable else 0o444)
        tmp.replace(target)
    return path
