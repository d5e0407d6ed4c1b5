"""The host's platform: which renderer a service uses there (Debian/Ubuntu, NixOS, Unraid, or unknown)."""

from __future__ import annotations

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
