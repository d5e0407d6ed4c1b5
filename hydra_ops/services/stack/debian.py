"""The stack on Debian: the Docker engine (the one present, or packages from apt where there is none), the daemon
running and enabled; the rest is the same on every platform (common.py)."""

from __future__ import annotations

import re
import shlex
from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from pyinfra import host
from pyinfra.api.operation import OperationMeta
from pyinfra.operations import server, systemd

from hydra_ops.facts.docker import DockerEngine, DockerOwners
from hydra_ops.operations.packages import debian_packages
from hydra_ops.services.stack import common
from hydra_ops.validation import ValidationError

if TYPE_CHECKING:
    from hydra_ops.services.storage import Storage


class EnginePlan(NamedTuple):
    """What engine() does on a host: install the packages or not, and the problems that stop it first."""

    install: bool
    problems: list[str]


def compose_problem(compose: Sequence[str], version: str | None) -> str | None:
    """Why `<compose> version --short` (its answer: version, None when it failed) is not Compose v2 or later."""
    words, major = " ".join(compose), re.match(r"v?([0-9]+)\.", version or "")
    if not major:
        return (f"`{words} version` failed: no Compose v2 (Docker CE's docker-compose-plugin, DGX OS ships it) "
                "for this compose command")
    if int(major[1]) < 2:
        return f"`{words}` is Compose {version}; v2 or later is needed ([docker, compose] with the plugin)"
    return None


def engine_plan(owners: Mapping[str, str], packages: Sequence[str], setting: str,
                compose: Sequence[str] | None = None, compose_version: str | None = None) -> EnginePlan:
    """The decision for a host whose engine binaries are owned by `owners` (facts.docker.DockerOwners): no engine
    -> install `packages`; an engine from them -> keep them installed; an engine from anything else -> use it and
    install nothing, but refuse when `packages` (not empty) would put another engine over it. With `compose`, an
    engine used as it is must answer it as Compose v2 (after an install, compose_check runs on the host)."""
    if "docker" not in owners:
        if packages:
            return EnginePlan(True, [])
        return EnginePlan(False, [f"{setting}: [] uses the Docker engine already on the host, and there is none "
                                  "(no `docker` command); install Docker CE or name the packages to install"])
    found = sorted({p for p in owners.values() if p}) or ["no package (installed by hand)"]
    if packages and not set(found) <= set(packages):
        return EnginePlan(False, [
            f"{setting}: the host's Docker engine comes from {', '.join(found)}, not from {', '.join(packages)}; "
            "installing those would replace it (Debian's docker.io conflicts with Docker CE's docker-ce and "
            f"containerd.io). Set {setting}: [] to use the engine that is there"])
    problem = compose_problem(compose, compose_version) if compose and not packages else None
    return EnginePlan(bool(packages), [f"{setting}: {problem}"] if problem else [])


def engine(gap: str, packages: Sequence[str], setting: str = "docker_packages",
           compose: Sequence[str] | None = None) -> None:
    """The Docker engine the host has (any vendor), or `packages` from apt where it has none, never one over
    another; with `compose`, Compose v2 checked; then the daemon running and enabled. Refuses before any change."""
    version = host.get_fact(DockerEngine, compose_command=list(compose))["compose"] if compose else None
    plan = engine_plan(host.get_fact(DockerOwners), packages, setting, compose, version)
    if plan.problems:
        raise ValidationError(host.name, plan.problems)
    if plan.install:
        debian_packages(name=f"{gap}: docker engine and compose ({', '.join(packages)})",
                        packages=list(packages))
        if compose and compose_problem(compose, version):
            compose_check(gap, compose, setting)
    systemd.service(name=f"{gap}: docker.service running and enabled", service="docker.service", running=True,
                    enabled=True)


def compose_check(gap: str, compose: Sequence[str], setting: str) -> None:
    """After the packages (Compose was not v2 before them): fail unless `<compose> version --short` is v2 or later."""
    words = " ".join(shlex.quote(w) for w in compose)
    message = shlex.quote(f"{setting}: the installed packages give no Compose v2 for `{' '.join(compose)}` "
                          "(Docker CE's docker-compose-plugin)")
    server.shell(name=f"{gap}: {' '.join(compose)} is Compose v2", commands=[
        f"v=$({words} version --short 2>/dev/null); case \"${{v#v}}\" in [2-9].*|[1-9][0-9]*) ;; "
        f"*) echo {message} >&2; exit 1;; esac"])


def apply(cfg: Storage, mounts: Mapping[str, list[OperationMeta]], existing: Mapping[str, Any] | None,
          doc: Mapping[str, Any], unclaimed: Collection[str] = ()) -> None:
    """Engine (apt where there is none), then the stack."""
    engine("Stack", cfg.stack.docker_packages)
    common.apply(cfg, mounts, existing, doc, unclaimed)
