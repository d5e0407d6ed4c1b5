"""`hydra secrets check` and `migrate`: find plaintext secrets in files and move them into the encrypted store."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from hydra_ops.secrets import SECRET_KEY, SecretsError, SecretStore

MIN_LEN = 8  # shorter values match too much ordinary text to be worth reporting


@dataclass
class Problem:
    path: str
    what: str


def tracked_files(root: Path) -> list[Path]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True).stdout
    return [root / p for p in out.decode().split("\0") if p]


def check(root: Path, store: SecretStore | None) -> list[Problem]:
    """Tracked secrets files must be sops-encrypted; no tracked file may hold a decrypted secret value."""
    problems: list[Problem] = []
    files = tracked_files(root)
    for path in files:
        rel = str(path.relative_to(root))
        is_rules = path.name in (".sops.yaml", ".sops.yml")  # sops' own creation rules, not a secrets file
        if not is_rules and (rel.startswith("secrets/") or rel.endswith((".sops.yaml", ".sops.yml"))):
            text = path.read_text(errors="replace")
            if "\nsops:" not in "\n" + text or "mac: ENC[" not in text:
                problems.append(Problem(rel, "is a secrets file without sops encryption metadata (plaintext?)"))
    if store is None:
        return problems
    values = {name: v for name, v in store.read().items() if len(v) >= MIN_LEN}
    for path in files:
        try:
            data = path.read_bytes()
        except OSError:
            continue
        for name, value in values.items():
            if value.encode() in data:
                problems.append(Problem(str(path.relative_to(root)), f"contains the decrypted value of {name}"))
    return problems


def migrate(paths: list[Path], store: SecretStore) -> dict[str, list[str]]:
    """Move plaintext values at secret-looking keys into the store; leave `os.environ/NAME` references behind.

    Returns {file: [secret names moved]}. YAML comments in migrated files are not preserved.
    """
    values = store.read()
    moved: dict[str, list[str]] = {}
    rewritten: dict[Path, str] = {}
    for path in paths:
        doc = yaml.safe_load(path.read_text())
        names: list[str] = []
        _walk(doc, [], values, names)
        if names:
            rewritten[path] = yaml.safe_dump(doc, default_flow_style=False, sort_keys=False)
            moved[str(path)] = names
    if not moved:
        return moved
    # The encrypted store first, read back and checked; only then lose the plaintext (a failure loses nothing).
    store.write(values)
    stored = store.read()
    missing = sorted(n for names in moved.values() for n in names if stored.get(n) != values[n])
    if missing:
        raise SecretsError(f"{store.file} did not keep {', '.join(missing)}; no plaintext file was rewritten")
    for path, text in rewritten.items():
        tmp = path.with_name(f".{path.name}.hydra-migrate")
        tmp.write_text(text)
        tmp.chmod(path.stat().st_mode & 0o777)
        tmp.replace(path)
    return moved


def _walk(node: Any, trail: list[str], values: dict[str, str], names: list[str]) -> None:
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    for key, value in list(items):
        here = [*trail, str(key)]
        if isinstance(value, (dict, list)):
            _walk(value, here, values, names)
        elif isinstance(value, str) and SECRET_KEY.search(str(key)) and not value.startswith("os.environ/"):
            name = _name_for(here, value, values)
            values[name] = value
            node[key] = f"os.environ/{name.upper()}"
            names.append(name)


def _name_for(trail: list[str], value: str, values: dict[str, str]) -> str:
    """Reuse the name already holding this value; else the key's own name, made unique with its parents."""
    for name, existing in values.items():
        if existing == value:
            return name
    parts = [p.lower().replace("-", "_") for p in trail if not p.isdigit()]
    for size in range(1, len(parts) + 1):
        candidate = "_".join(parts[-size:])
        if candidate not in values:
            return candidate
    return "_".join(parts) + f"_{len(values)}"
