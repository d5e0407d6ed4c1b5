"""A host's options for every service its groups run, validated once per deploy and all together: one error
lists every problem (keys named) before any fact or operation, and the services take the part they need from the
result instead of re-reading the host's group data. Audit detectors keep their own lenient reads (detect.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from pyinfra import host as current_host

from hydra_ops import platform, services
from hydra_ops.services import storage as storage_service
from hydra_ops.services.models.options import ModelsOptions
from hydra_ops.services.monitoring.options import MonitoringOptions
from hydra_ops.services.secrets.options import SecretsOptions
from hydra_ops.services.secrets.options import options as secrets_options
from hydra_ops.services.sollol import inventory_nodes, sollol
from hydra_ops.services.spark.options import cluster
from hydra_ops.services.tabbyapi.options import TabbyOptions, roles
from hydra_ops.services.tabbyapi.options import options as tabby_options
from hydra_ops.settings import load
from hydra_ops.validation import ValidationError

if TYPE_CHECKING:
    from pyinfra.api.host import Host

    from hydra_ops.services.sollol.options import SollolOptions
    from hydra_ops.services.spark.options import Member

T = TypeVar("T")


@dataclass(frozen=True)
class Ai:
    """An ai host's TabbyAPI (what serves on tabby_port, the canary beside it or None, and the stable settings as
    group data gives them) and its models."""

    serving: TabbyOptions
    canary: TabbyOptions | None
    stable: TabbyOptions
    models: ModelsOptions


@dataclass(frozen=True)
class HostConfig:
    """Every service's validated options on one host; a group's part is None on hosts outside that group."""

    name: str
    platform: platform.PlatformOptions
    secrets: SecretsOptions
    monitoring: MonitoringOptions
    compute: services.Compute | None = None  # compute and sollol hosts (the Ollama instances and their LB)
    ai: Ai | None = None
    storage: storage_service.Storage | None = None
    sollol: SollolOptions | None = None
    spark: list[Member] | None = None  # every spark host's options (Traefik balances them all)

    def need(self, part: T | None, what: str) -> T:
        """A group's part, or a clear error when this host is not in that group."""
        if part is None:
            raise ValidationError(self.name, [f"{what}: this host is not in the group whose services use it"])
        return part


def resolve(h: Host) -> HostConfig:
    """Validate every option of the host's services (by its groups); raise one error listing every problem."""
    data, name, groups, problems = h.data.dict(), h.name, set(h.groups), []

    def checked(loader: Callable[[], T]) -> T | None:
        try:
            return loader()
        except ValidationError as exc:
            problems.extend(p for p in exc.problems if p not in problems)
            return None

    parts: dict[str, Any] = {
        "platform": checked(lambda: load(platform.PlatformOptions, data, name)),
        "secrets": checked(lambda: secrets_options(data, name)),
        "monitoring": checked(lambda: load(MonitoringOptions, data, name))}
    if groups & {"compute", "sollol"}:
        parts["compute"] = checked(lambda: services.compute(data, name))
    if "ai" in groups:
        tabby, models = checked(lambda: roles(data, name)), checked(lambda: load(ModelsOptions, data, name))
        stable = checked(lambda: tabby_options(data, name))
        parts["ai"] = Ai(tabby[0], tabby[1], stable, models) if tabby and models and stable else None
    if "storage" in groups:
        parts["storage"] = checked(lambda: storage_service.storage(data, name))
    if "sollol" in groups:
        parts["sollol"] = checked(lambda: sollol(data, name, inventory_nodes(h.state.inventory)))
    if "spark" in groups:
        members = [(m.name, m.data.dict()) for m in h.state.inventory.get_group("spark", [])]
        parts["spark"] = checked(lambda: cluster(members, name))
    if problems:
        raise ValidationError(name, problems)
    return HostConfig(name=name, **parts)


_resolved: dict[str, tuple[Any, HostConfig]] = {}  # host name -> (the run's pyinfra state, its config)


def host_config(h: Host | None = None) -> HostConfig:
    """The host's configuration (the current host by default), resolved once per run."""
    h = current_host if h is None else h
    kept = _resolved.get(h.name)
    if kept is not None and kept[0] is h.state:
        return kept[1]
    cfg = resolve(h)
    _resolved[h.name] = (h.state, cfg)
    return cfg
