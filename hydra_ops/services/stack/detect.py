"""The stack on a live host, read-only: the validated options and whether a service's container runs on its
cpuset (the helper every storage service's detector starts from)."""

from __future__ import annotations

from pyinfra.api import Host

from hydra_ops.detectors import UNKNOWN, Finding
from hydra_ops.facts.docker import ComposeContainers
from hydra_ops.services.storage import Storage, storage
from hydra_ops.validation import ValidationError


def service(host: Host, name: str) -> tuple[Storage, bool, str] | Finding:
    """(validated options, whether the service's container runs on its cpuset, evidence line), or an UNKNOWN
    finding when the group data does not validate."""
    try:
        cfg = storage(host.data.dict(), host.name)
    except ValidationError as exc:
        return Finding(UNKNOWN, [str(exc)])
    svc = cfg.stack.stack_services.get(name)
    want = svc.cpuset if svc else "?"
    c = host.get_fact(ComposeContainers, project=cfg.stack.compose_project).get(name)
    if not c:
        return cfg, False, f"{name}: no container"
    return cfg, c["state"] == "running" and c["cpuset"] == want, \
        f"{name}: {c['state']}, cpuset {c['cpuset'] or 'unpinned'} (want {want}), image {c['image']}"


def read(host: Host, path: str) -> str:
    """A file's content on the host ('' when absent)."""
    from pyinfra.facts.server import Command

    return host.get_fact(Command, command=f"cat {path} 2>/dev/null || true") or ""
