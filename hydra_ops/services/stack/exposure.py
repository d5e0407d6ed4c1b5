"""Which stack services may be reached from other hosts. A service whose API has no authentication and can act
(the CPU Ollama pulls and deletes models, Alertmanager silences every alert, Prometheus serves its admin and query
APIs) is published on the storage host's loopback only; other stack services reach it by its name on the
project's network, and the operator's tools read it on the host (over SSH)."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hydra_ops.services.litellm.options import LitellmOptions
    from hydra_ops.services.stack.options import StackOptions

#: roles whose port answers anyone with admin powers: published on 127.0.0.1 only
LOOPBACK_ROLES = frozenset({"ollama-cpu", "prometheus", "alertmanager"})
LOOPBACK = "127.0.0.1"


def publish_address(role: str, address: str) -> str:
    """Where a service of `role` publishes a port mapping without an address: loopback for the admin roles."""
    return LOOPBACK if role in LOOPBACK_ROLES else address


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
