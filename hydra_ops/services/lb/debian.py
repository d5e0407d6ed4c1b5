"""The LB on Debian: nginx from apt and the site file, replaced only when `nginx -t` accepts it."""

from __future__ import annotations

import shlex

from pyinfra.operations import apt, server, systemd

from hydra_ops.operations import nginx
from hydra_ops.services.lb.options import LbOptions
from hydra_ops.services.lb.state import serving


def apply(lb: LbOptions, config: str) -> None:
    """nginx running with the checked site; nginx keeps serving the old site if the check fails."""
    apt.packages(name="G2: nginx", packages=["nginx"], update=True, cache_time=3600)
    systemd.service(name="G2: nginx running and enabled", service="nginx.service", running=True, enabled=True)
    site = nginx.checked_config(name=f"G2: LB site {lb.lb_config_path} (checked with nginx -t)", content=config,
                                dest=lb.lb_config_path)
    # `systemctl reload` returns before new workers take over; wait until the new config is what answers.
    server.shell(name="G2: wait until nginx serves the new LB config", _if=site.did_change, commands=[
        f"timeout 30 sh -c {shlex.quote(f'until {serving(lb, config)}; do sleep 0.2; done')} "
        "|| { echo 'nginx did not switch to the new LB config within 30s' >&2; exit 1; }"])
