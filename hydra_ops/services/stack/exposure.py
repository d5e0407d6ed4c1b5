"""Which stack services may be reached from other hosts. A service whose API has no authentication and can act
(the CPU Ollama pulls and deletes models, Alertmanager silences every alert, Prometheus serves its admin and query
APIs) is published on the storage host's loopback only; other stack services reach it by its name on the
project's network, and the operator's tools read it on the host (over SSH). A service whose first visitor becomes
its owner (n8n, Uptime Kuma) is published on loopback, where the deploy makes its owner through the host's SSH
connection, and beyond loopback only once that owner exists."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hydra_ops.services.litellm.options import LitellmOptions
    from hydra_ops.services.stack.options import StackOptions

#: roles whose port answers anyone with admin powers: published on 127.0.0.1 only
LOOPBACK_ROLES = frozenset({"ollama-cpu", "prometheus", "alertmanager"})
#: roles claimed by their first visitor: on loopback always, beyond it once the deploy made the owner
CLAIMED_ROLES = frozenset({"n8n", "uptime-kuma"})
LOOPBACK = "127.0.0.1"


def publish_address(role: str, address: str) -> str:
    """Where a service of `role` answers on the host for checks run there: loopback for the admin roles and the
    claimed ones (always published there), else the publish address."""
    return LOOPBACK if role in LOOPBACK_ROLES | CLAIMED_ROLES else address


def mappings(role: str, mapping: str, address: str, unclaimed: bool = False) -> list[str]:
    """A port mapping as published: on `address` unless it names one; the admin roles on loopback only; a claimed
    role on loopback, and also beyond it unless it is still `unclaimed`."""
    if role in LOOPBACK_ROLES and mapping.count(":") < 2:
        return [f"{LOOPBACK}:{mapping}"]
    public = mapping if mapping.count(":") == 2 else f"{address}:{mapping}"
    if role not in CLAIMED_ROLES:
        return [public]
    local = f"{LOOPBACK}:{public.split(':', 1)[1]}"
    return [local] if unclaimed or public == local else [local, public]


def problems(stack: StackOptions, litellm: LitellmOptions | None, host: str) -> list[str]:
    """An admin role's port mapping that names another address than loopback, and a LiteLLM backend that would
    reach such a service through the host's published port (it cannot: that port is on the host's loopback)."""
    out, loopback_ports = [], {}
    for name, svc in stack.stack_services.items():
        role = stack.role_of(name)
        if role not in LOOPBACK_ROLES:
            continue
        for mapping in svc.ports:
            parts = mapping.rsplit(":", 2)
            if len(parts) == 3 and not ipaddress.ip_address(parts[0].strip("[]")).is_loopback:
                out.append(f"stack_services.{name}.ports: {mapping!r} publishes {role}'s unauthenticated API on "
                           f"{parts[0]}; it goes on the host's loopback ({LOOPBACK}) only (the stack reaches it "
                           f"as {name})")
            loopback_ports[int(parts[-2])] = (name, int(parts[-1]))
    for key, backend in (litellm.litellm_backends.items() if litellm else ()):
        if backend.host == host and backend.port in loopback_ports:
            name, port = loopback_ports[backend.port]
            out.append(f"litellm_backends.{key}: {host}:{backend.port} is {name}, published on the host's loopback "
                       f"only; name the service instead (host: {name}, port: {port})")
    return out
