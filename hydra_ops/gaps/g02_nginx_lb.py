"""G2 nginx LB: an nginx least_conn load balancer on :11400 in front of the Ollama instances."""

from __future__ import annotations

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.operations import apt, systemd

from hydra_ops.operations import nginx
from hydra_ops.render import render
from hydra_ops.validation import ComputeConfig, validate_compute


def lb_config(cfg: ComputeConfig) -> str:
    return render(
        "nginx-ollama-lb.conf.j2", method=cfg.lb_method, instances=cfg.instances, max_fails=cfg.lb_max_fails,
        fail_timeout=cfg.lb_fail_timeout, keepalive=cfg.lb_keepalive, listen_address=cfg.lb_listen_address,
        port=cfg.lb_port, client_max_body_size=cfg.lb_client_max_body_size, host_header=cfg.lb_upstream_host_header,
        connect_timeout=cfg.lb_proxy_connect_timeout, read_timeout=cfg.lb_proxy_read_timeout,
        send_timeout=cfg.lb_proxy_send_timeout, next_upstream_tries=cfg.lb_next_upstream_tries,
        extra_directives=cfg.lb_extra_directives,
    )


@deploy("G2 nginx LB")
def nginx_lb() -> None:
    """Install nginx and put the checked LB site in place; nginx keeps serving the old site if the check fails."""
    cfg = validate_compute(host.data.dict(), host.name)
    apt.packages(name="G2: nginx", packages=["nginx"], update=True, cache_time=3600)
    systemd.service(name="G2: nginx running and enabled", service="nginx.service", running=True, enabled=True)
    nginx.checked_config(name=f"G2: LB site {cfg.lb_config_path} (checked with nginx -t)", content=lb_config(cfg),
                         dest=cfg.lb_config_path)
