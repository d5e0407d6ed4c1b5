"""The preflight that stops a deploy before any host is touched when a gap's bundle cannot run on a platform.

Which platforms each bundle supports is data in registry.yaml (``platforms``); the host's platform is pinned in
group data (``platform``) or read from the host (hydra_ops/facts/platform.py).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pyinfra import host
from pyinfra.api.exceptions import PyinfraError

from hydra_ops.facts.platform import PLATFORMS, Platform
from hydra_ops.registry import gap
from hydra_ops.settings import AbsPath, Options


class PlatformOptions(Options):
    """Settings every host has: its platform and where platform-specific files go."""

    prefixes = ("nixos_",)

    platform: Literal["debian", "nixos", "unraid"] | None = Field(
        None, description="Pin the platform instead of detecting it (/etc/NIXOS, /etc/unraid-version, os-release).")
    nixos_config_dir: AbsPath = Field("/etc/nixos", description="NixOS: where configuration.nix lives; hydra-ops "
                                                                "writes <dir>/hydra-ops/ and adds one import.")
    hydra_lib_dir: AbsPath = Field("/usr/local/lib/hydra-ops", description="Where hydra-ops keeps the helper "
                                   "scripts it installs on a host (prestart, model fetch).")
    expected_gpu_count: int | None = Field(None, ge=0, description="GPUs nvidia-smi should list; the G1/G10 "
                                                                   "audits report a host that shows another count.")


class UnsupportedPlatform(PyinfraError):
    """A bundle was asked to deploy onto a platform it has no renderer for."""


def platform_of(pinned: object, detected: str) -> str:
    """The platform pinned in group data if set, else the detected one."""
    if pinned in (None, ""):
        return detected
    if pinned not in PLATFORMS:
        raise UnsupportedPlatform(f"platform: {pinned!r} is not one of {', '.join(PLATFORMS)}")
    return str(pinned)


def check(host_name: str, platform: str, gap_ids: tuple[str, ...]) -> None:
    """Raise one error naming the host, its platform and every gap bundle that cannot run there."""
    refused = [g for g in map(gap, gap_ids) if platform not in g.platforms]
    if refused:
        lines = "\n".join(f"  - {g.id} {g.title}: supports {', '.join(g.platforms) or 'nothing yet'}"
                          for g in refused)
        raise UnsupportedPlatform(
            f"{host_name}: platform {platform!r} is not supported by these bundles:\n{lines}\n"
            "Nothing was changed on any host (this is checked before the first operation).")


def current() -> str:
    """The platform of the host being deployed."""
    return platform_of(host.data.get("platform"), host.get_fact(Platform))


def preflight(*gap_ids: str) -> str:
    """Check the current host against the gaps a deploy file will close; return its platform."""
    platform = current()
    check(host.name, platform, gap_ids)
    return platform
