"""The host's platform: which renderer a service uses there (Debian/Ubuntu, NixOS, Unraid, or unknown)."""

from __future__ import annotations

import shlex

from pyinfra.api import FactBase

PLATFORMS = ("debian", "nixos", "unraid", "unknown")

#: Markers first (NixOS and Unraid ship them), then os-release's ID and ID_LIKE.
COMMAND = (
    "if [ -e /etc/NIXOS ]; then echo marker=nixos; fi; "
    "if [ -e /etc/unraid-version ]; then echo marker=unraid; fi; "
    "if [ -r /etc/os-release ]; then grep -E '^(ID|ID_LIKE)=' /etc/os-release; fi; true"
)


class Platform(FactBase[str]):
    """One of ``debian``, ``nixos``, ``unraid`` or ``unknown``."""

    def command(self) -> str:
        return COMMAND

    def process(self, output: list[str]) -> str:
        return classify(output)


def classify(lines: list[str]) -> str:
    """Name the platform from the marker and os-release lines COMMAND prints."""
    found: dict[str, str] = {}
    for line in lines:
        key, _, value = line.strip().partition("=")
        found.setdefault(key, value.strip().strip("\"'").lower())
    if found.get("marker") in ("nixos", "unraid"):
        return found["marker"]
    ids = {found.get("ID", ""), *found.get("ID_LIKE", "").split()}
    if "nixos" in ids:
        return "nixos"
    if ids & {"debian", "ubuntu"}:
        return "debian"
    return "unknown"


class FsTypes(FactBase[dict[str, str]]):
    """path -> filesystem type (stat -f %T) of the path, or of its nearest existing parent when it does not
    exist yet."""

    def default(self) -> dict[str, str]:
        return {}

    def command(self, paths: list[str]) -> str:
        quoted = " ".join(shlex.quote(p) for p in paths)
        return (f"for p in {quoted}; do q=$p; while [ ! -e \"$q\" ] && [ \"$q\" != / ]; do q=$(dirname \"$q\"); "
                "done; printf '%s\\t%s\\n' \"$p\" \"$(stat -f -c %T \"$q\")\"; done")

    def process(self, output: list[str]) -> dict[str, str]:
        return dict(line.split("\t", 1) for line in output if "\t" in line)


class SysctlValue(FactBase[str]):
    """The running kernel's value of one sysctl key ('' when unreadable)."""

    def command(self, key: str) -> str:
        return f"cat /proc/sys/{shlex.quote(key.replace('.', '/'))} 2>/dev/null || true"

    def process(self, output: list[str]) -> str:
        return "".join(output).strip()
