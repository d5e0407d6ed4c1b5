"""Adoption: merge the services hydra-ops manages into the compose project already on the host, so the same
project, container names, data mounts and every service it does not manage carry over unchanged.

Rules: a managed service keeps the keys of its old definition that hydra-ops does not set (container_name,
networks, hostname, ...), its data mount and its non-secret environment; a service the file has that group data
does not name is kept verbatim, unless hydra-ops labelled it (then group data dropped it, and it goes).

Secrets: the compose file is 0644 and hydra-ops hands secrets to containers only as 0600 files from its store. An
old variable of a managed service that looks like a credential (by name: SECRET_KEY, *_PASS, *_KEY, *_DSN ...; by
value: a URL with a password, a long random token; see secrets_audit) goes when the store already delivers that
secret to the stack (REDIS_PASSWORD for redis_password, or our definition sets NAME_FILE); any other stops the
deploy before any change with CredentialsError, naming service and variable, never the value.

Privileges: keys that widen what a managed container may do (REMOVED: volumes_from, devices, ipc, userns_mode,
sysctls, extends, ...) are dropped from its old definition; group data alone grants privileges (cap_add, pid,
network_mode are in REPLACED). A service hydra-ops does not manage keeps every key.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from hydra_ops.secrets_audit import REFERENCE, credential_name, credential_value, plaintext_credential

MANAGED_LABEL = "io.hydra-ops.managed"
#: keys of a managed service that group data decides wholesale (whatever the old definition said)
REPLACED = frozenset({"image", "restart", "cpuset", "mem_limit", "user", "command", "entrypoint", "environment",
                      "env_file", "ports", "volumes", "healthcheck", "depends_on", "labels", "cap_drop", "cap_add",
                      "security_opt", "read_only", "tmpfs", "privileged", "network_mode", "pid"})
#: keys that widen a managed container's privileges (host devices, other containers' mounts or namespaces, kernel
#: settings, a base definition from elsewhere): dropped from the old definition, whatever it said
REMOVED = frozenset({"volumes_from", "devices", "device_cgroup_rules", "ipc", "uts", "cgroup", "cgroup_parent",
                     "userns_mode", "sysctls", "extends", "group_add"})


class ComposeError(ValueError):
    """The existing compose file cannot be adopted (not a compose mapping)."""


class CredentialsError(ComposeError):
    """Managed services of the existing file carry credentials the secret store does not deliver (names only)."""

    def __init__(self, path: str, found: list[str]) -> None:
        self.found = found
        super().__init__(
            f"{path}: managed services carry credentials in their environment that hydra-ops cannot adopt: "
            f"{', '.join(found)} (values not shown). Nothing was changed: hydra-ops writes no secret into the compose "
            "file (mode 0644) and gives services secrets only as 0600 files from its encrypted store. For each: "
            "keep the value in the store (`hydra secrets edit`; add its name to secret_names), then delete the "
            "variable from that service in the file; if the service cannot run without it, take the service out "
            "of stack_services and hydra-ops leaves it as it is. A value that only looks random and is no secret "
            "can stay as a ${NAME} reference to the project's .env.")


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


def delivered(services: Mapping[str, Any], secret_dir: str, renamed: Mapping[str, str]) -> set[str]:
    """The secrets (names) our services read as files from secret_dir; renamed: files named otherwise than the
    secret they hold (a password include, a settings file)."""
    found = set()
    for spec in services.values():
        for entry in spec.get("volumes") or []:
            source = str(entry).split(":", 1)[0]
            if source.startswith(f"{secret_dir.rstrip('/')}/"):
                file = source.rsplit("/", 1)[1]
                found.add(renamed.get(file, file))
    return found


def plaintext_credentials(doc: Mapping[str, Any]) -> list[str]:
    """Every "service: NAME" of a compose document whose environment writes out a credential-looking value (for
    G3's reading of replaced compose files; never the value)."""
    services = doc.get("services") if isinstance(doc, Mapping) else None
    return [f"{name}: {var}" for name, spec in (services if isinstance(services, Mapping) else {}).items()
            if isinstance(spec, Mapping) for var, value in environment(spec).items()
            if plaintext_credential(var, value)]


def dropped(existing: Mapping[str, Any] | None, ours: Mapping[str, Any]) -> list[str]:
    """Services hydra-ops put in the file earlier that group data no longer names (to be removed)."""
    old = (existing or {}).get("services") or {}
    return sorted(n for n, spec in old.items() if n not in ours["services"] and managed(spec))


def old_environment(name: str, before: Mapping[str, Any], spec: Mapping[str, Any], stored: Collection[str],
                    refused: list[str]) -> dict[str, str | None]:
    """The old variables a managed service keeps: ours replace theirs; a credential goes when the store delivers
    it (stored: secret names) or ours set NAME_FILE, else it is added to refused as "service: NAME"."""
    own, kept = environment(spec), {}
    for var, value in environment(before).items():
        if var in own:
            continue
        by_name = credential_name(var)
        if not (by_name or (value and not REFERENCE.fullmatch(value) and credential_value(value))):
            kept[var] = value
        elif value and var.lower() not in stored and f"{var}_FILE" not in own:
            refused.append(f"{name}: {var}")
    return kept


def adopted(ours: dict[str, Any], existing: Mapping[str, Any] | None, stored: Collection[str] = (),
            path: str = "docker-compose.yml") -> dict[str, Any]:
    """Our document merged into the existing one at path (see the module doc); ours alone when there is none.
    stored: the secrets (names) the store delivers to the stack's services as files."""
    if not existing:
        return ours
    old = existing.get("services") or {}
    services: dict[str, Any] = {}
    refused: list[str] = []
    for name, spec in ours["services"].items():
        before = old.get(name) or {}
        # our keys first, then what the old definition adds: the same order on every run (a re-run rewrites nothing)
        merged = {**spec, **{k: v for k, v in before.items() if k not in REPLACED | REMOVED and k not in spec}}
        env = {**old_environment(name, before, spec, stored, refused), **environment(spec)}
        if env:
            merged["environment"] = env
        merged["labels"] = {**{k: v for k, v in labels(before).items() if k != MANAGED_LABEL}, **spec["labels"]}
        services[name] = merged
    if refused:
        raise CredentialsError(path, refused)
    for name, spec in old.items():
        if name not in services and not managed(spec):
            services[name] = spec
    doc = {k: v for k, v in existing.items() if k not in ("version", "services", "volumes")}
    volumes = {**(existing.get("volumes") or {}), **ours["volumes"]}
    return {"version": ours["version"], **doc, "services": services, **({"volumes": volumes} if volumes else {})}
