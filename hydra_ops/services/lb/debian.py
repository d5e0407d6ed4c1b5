"""G2 nginx LB: an nginx least_conn load balancer on :11400 in front of the Ollama instances."""

from __future__ import annotations

import hashlib
import shlex

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.operations import apt, server, systemd

from hydra_ops import nix
from hydra_ops.operations import nginx, nixos
from hydra_ops.platform import current
from hydra_ops.render import render
from hydra_ops.validation import Settings, validate_compute


def lb_config(cfg: Settings) -> str:
    """The LB site, stamped with a fingerprint of its own content (served as X-Hydra-LB-Config)."""
    draft = _render(cfg, stamp="")
    return _render(cfg, stamp=hashlib.sha256(draft.encode()).hexdigest()[:16])


def fingerprint(config: str) -> str:
    """The stamp lb_config() put into a rendered config."""
    return config.split('X-Hydra-LB-Config "', 1)[1].split('"', 1)[0]


def _render(cfg: Settings, stamp: str) -> str:
    return render(
        "nginx-ollama-lb.conf.j2", method=cfg.lb_method, instances=cfg.instances, max_fails=cfg.lb_max_fails,
        fail_timeout=cfg.lb_fail_timeout, keepalive=cfg.lb_keepalive, listen_address=cfg.lb_listen_address,
        port=cfg.lb_port, client_max_body_size=cfg.lb_client_max_body_size, host_header=cfg.lb_upstream_host_header,
        connect_timeout=cfg.lb_proxy_connect_timeout, read_timeout=cfg.lb_proxy_read_timeout,
        send_timeout=cfg.lb_proxy_send_timeout, next_upstream_tries=cfg.lb_next_upstream_tries,
        extra_directives=cfg.lb_extra_directives, fingerprint=stamp,
    )


def nixos_module(cfg: Settings, config: str) -> str:
    """The same LB on NixOS: services.nginx carries the identical upstream + server block (appendHttpConfig),
    reloads instead of restarting on a change, and the firewall opens lb_port (seed 000 §6.1)."""
    return nix.module({
        "services": {"nginx": {"enable": True, "enableReload": True, "appendHttpConfig": config}},
        "networking": {"firewall": {"allowedTCPPorts": [cfg.lb_port] if cfg.lb_open_firewall else []}},
    }, "Managed by hydra-ops (G2): nginx least_conn LB in front of the Ollama instances. Rendered from group\n"
       "data; edit group_data/compute.py and re-run the deploy instead of this file.")


def _wait_command(cfg: Settings, config: str) -> str:
    """Succeeds once nginx answers with this config's fingerprint (a reload is asynchronous)."""
    address = "127.0.0.1" if cfg.lb_listen_address in ("0.0.0.0", "::") else cfg.lb_listen_address
    return (f"curl -s -o /dev/null -D - http://{address}:{cfg.lb_port}/ "
            f"| grep -qi '^x-hydra-lb-config: {fingerprint(config)}'")


@deploy("G2 nginx LB")
def nginx_lb() -> None:
    """Install nginx and put the checked LB site in place; nginx keeps serving the old site if the check fails."""
    cfg = validate_compute(host.data.dict(), host.name)
    if current() == "nixos":
        config = lb_config(cfg)
        nixos.modules(name="G2: NixOS module ollama-lb.nix (dry-build checks nginx.conf; health; rollback)",
                      files_wanted={"ollama-lb.nix": nixos_module(cfg, config)}, config_dir=cfg.nixos_config_dir,
                      health=[_wait_command(cfg, config)], timeout=60)
        return
    apt.packages(name="G2: nginx", packages=["nginx"], update=True, cache_time=3600)
    systemd.service(name="G2: nginx running and enabled", service="nginx.service", running=True, enabled=True)
    config = lb_config(cfg)
    site = nginx.checked_config(name=f"G2: LB site {cfg.lb_config_path} (checked with nginx -t)", content=config,
                                dest=cfg.lb_config_path)
    # `systemctl reload` returns before new workers take over; wait until the new config is what answers.
    server.shell(name="G2: wait until nginx serves the new LB config", _if=site.did_change, commands=[
        f"timeout 30 sh -c {shlex.quote(f'until {_wait_command(cfg, config)}; do sleep 0.2; done')} "
        "|| { echo 'nginx did not switch to the new LB config within 30s' >&2; exit 1; }"])
