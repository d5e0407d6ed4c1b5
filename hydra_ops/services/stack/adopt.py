"""Adoption: merge the services hydra-ops manages into the compose project already on the host, so the same
project, container names, data mounts and every service it does not manage carry over unchanged.

Rules: a managed service keeps the keys of its old definition that hydra-ops does not set (container_name,
networks, hostname, ...), its data mount and its non-secret environment; a service the file has that group data
does not name is kept verbatim, unless hydra-ops labelled it (then group data dropped it, and it goes).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hydra_ops.secrets import SECRET_KEY

MANAGED_LABEL = "io.hydra-ops.managed"
#: keys of a managed service that group data decides wholesale (whatever the old definition said)
REPLACED = frozenset({"image", "restart", "cpuset", "mem_limit", "user", "command", "entrypoint", "environment",
                      "env_file", "ports", "volumes", "healthcheck", "depends_on", "labels", "cap_drop", "cap_add",
                      "security_opt", "read_only", "tmpfs", "privileged", "network_mode", "pid"})


class ComposeError(ValueError):
    """The existing compose file cannot be adopted (not a compose mapping)."""


def check(doc: object, path: str) -> dict[str, Any]:
    """The parsed existing compose file, or a clear error naming what is wrong with it."""
    if not isinstance(doc, dict) or not isinstance(doc.get("services", {}), dict):
        raise ComposeError(f"{path}: not a compose file (expected a mapping with a 'services' mapping)")
    for name, spec in (doc.get("services") or {}).items():
        if not isinstance(spec, dict):
            raise ComposeError(f"{path}: service {name!r} is not a mapping")
    return doc


def labels(spec: Mapping[str, Any]) -> dict[str, str]:
    """A service's labels as a mapping (compose allows a list of k=v too)."""
    raw = spec.get("labels") or {}
    if isinstance(raw, list):
        return dict(str(item).partition("=")[::2] for item in raw)
    return {str(k): str(v) for k, v in raw.items()}


def environment(spec: Mapping[str, Any]) -> dict[str, str | None]:
    """A service's environment as a mapping (compose allows a list of K=V too)."""
    raw = spec.get("environment") or {}
    if isinstance(raw, list):
        return {k: (v if sep else None) for k, sep, v in (str(item).partition("=") for item in raw)}
    return {str(k): (None if v is None else str(v)) for k, v in raw.items()}


def managed(spec: Mapping[str, Any]) -> bool:
    return labels(spec).get(MANAGED_LABEL) == "true"


def data_mount(old: Mapping[str, Any] | None, target: str, volume: str) -> tuple[str, str | None]:
    """The mount holding a service's data: the old definition's (bind or volume) when it has one at target,
    else a named volume; returns (mount, named volume to declare or None)."""
    for entry in (old or {}).get("volumes") or []:
        if isinstance(entry, str):
            parts = entry.split(":")
            if len(parts) >= 2 and parts[1].rstrip("/") == target:
                source = parts[0]
                return entry, (source if not source.startswith((".", "/", "~", "$")) else None)
        elif isinstance(entry, dict) and str(entry.get("target", "")).rstrip("/") == target:
            raise ComposeError(f"service's data mount at {target} uses the long volume syntax; "
                               "write it as 'source:target' to adopt it")
    return f"{volume}:{target}", volume


def dropped(existing: Mapping[str, Any] | None, ours: Mapping[str, Any]) -> list[str]:
    """Services hydra-ops put in the file earlier that group data no longer names (to be removed)."""
    old = (existing or {}).get("services") or {}
    return sorted(n for n, spec in old.items() if n not in ours["services"] and managed(spec))


def adopted(ours: dict[str, Any], existing: Mapping[str, Any] | None) -> dict[str, Any]:
    """Our document merged into the existing one (see the module doc); ours alone when there is none."""
    if not existing:
        return ours
    old = existing.get("services") or {}
    services: dict[str, Any] = {}
    for name, spec in ours["services"].items():
        before = old.get(name) or {}
        # our keys first, then what the old definition adds: the same order on every run (a re-run rewrites nothing)
        merged = {**spec, **{k: v for k, v in before.items() if k not in REPLACED and k not in spec}}
        env = {k: v for k, v in environment(before).items() if not SECRET_KEY.search(k)}
        env.update(environment(spec))
        if env:
            merged["environment"] = env
        merged["labels"] = {**{k: v for k, v in labels(before).items() if k != MANAGED_LABEL}, **spec["labels"]}
        services[name] = merged
    for name, spec in old.items():
        if name not in services and not managed(spec):
            services[name] = spec
    doc = {k: v for k, v in existing.items() if k not in ("version", "services", "volumes")}
    volumes = {**(existing.get("volumes") or {}), **ours["volumes"]}
    return {"version": ours["version"], **doc, "services": services, **({"volumes": volumes} if volumes else {})}
