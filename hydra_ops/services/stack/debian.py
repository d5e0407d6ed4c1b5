"""The stack on Debian: Docker engine and compose from apt, the daemon running and enabled; the rest is the
same on every platform (common.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pyinfra.api.operation import OperationMeta
from pyinfra.operations import apt, systemd

from hydra_ops.services.stack import common

if TYPE_CHECKING:
    from hydra_ops.services.storage import Storage


def engine(gap: str, packages: list[str]) -> None:
    """Debian's docker.io and compose, the daemon running and enabled."""
    apt.packages(name=f"{gap}: docker engine and compose ({', '.join(packages)})",
                 packages=list(packages), update=True, cache_time=3600)
    systemd.service(name=f"{gap}: docker.service running and enabled", service="docker.service", running=True,
                    enabled=True)


def apply(cfg: Storage, mounts: Mapping[str, list[OperationMeta]], existing: Mapping[str, Any] | None,
          doc: Mapping[str, Any]) -> None:
    """Engine from apt, then the stack."""
    engine("Stack", cfg.stack.docker_packages)
    common.apply(cfg, mounts, existing, doc)
