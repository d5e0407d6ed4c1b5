"""n8n and Uptime Kuma make their first visitor their owner. Until the deploy has made theirs, the stack publishes
them on the storage host's loopback only, where the deploy reaches them through the host's SSH connection
(tunnel.py); once they have an owner the compose file publishes them beyond loopback too (stack/exposure.py)."""

from __future__ import annotations

import shlex
from io import StringIO
from typing import TYPE_CHECKING, Any

from pyinfra import host

from hydra_ops.tunnel import forwarded

if TYPE_CHECKING:
    from collections.abc import Mapping

    from hydra_ops.services.storage import Storage


def unclaimed(cfg: Storage) -> frozenset[str]:
    """The n8n and Uptime Kuma services that have no owner yet, or do not answer (read without logging in, on the
    host's loopback, else on their published port)."""
    from hydra_ops.services.monitoring import kuma, n8n
    from hydra_ops.services.monitoring.resource_monitor import n8n_url
    from hydra_ops.services.monitoring.stack import kuma_url

    o, out = cfg.monitoring, set()
    checks = ((cfg.stack.named("uptime-kuma"), o.uptime_kuma_port, kuma_url(cfg), kuma.needs_setup, kuma.NotRunning),
              (cfg.stack.named("n8n"), o.n8n_port, n8n_url(cfg), lambda u: n8n.N8n(u).needs_setup(), n8n.NotRunning))
    for name, port, published, needs_setup, down in checks:
        if not name:
            continue
        with forwarded(host, port) as local:
            for url in (local, published):
                try:
                    if needs_setup(url):
                        out.add(name)
                    break
                except down:
                    continue
            else:  # answers nowhere: a first deploy (its owner comes before it is published)
                out.add(name)
    return frozenset(out)


def publish(cfg: Storage, existing: Mapping[str, Any] | None, services: frozenset[str]) -> None:
    """Once their owners exist: the compose file with every port as it stays, and those services recreated on it,
    waited for on loopback."""
    from pyinfra.operations import files, server

    from hydra_ops.services.stack.state import COMPOSE_FILE, compose, compose_yml, readiness

    if not services:
        return
    names = sorted(services)
    files.put(name=f"G6/G9: publish {', '.join(names)} beyond loopback (their owner exists now)", force=True,
              dest=f"{cfg.stack.stack_dir}/{COMPOSE_FILE}", src=StringIO(compose_yml(cfg, existing)), mode="644")
    checks = readiness(cfg)
    waits = [f"timeout 120 sh -c {shlex.quote(f'until {checks[n]}; do sleep 0.5; done')}" for n in names
             if n in checks]
    server.shell(name=f"G6/G9: recreate {', '.join(names)} with their published ports",
                 commands=[compose(cfg, "up", "-d", "--no-deps", *names), *waits])
