"""The LB's desired state on any platform: one nginx upstream + server block, stamped with its own fingerprint
(served as X-Hydra-LB-Config) so a deploy can wait until nginx really serves it (reloads are asynchronous)."""

from __future__ import annotations

import hashlib

from hydra_ops.render import render
from hydra_ops.services.lb.options import LbOptions

#: on each instance's public port: that instance alone (no backup), for monitors
INSTANCE_HEALTH = "/hydra-ops/instance-health"


def site(lb: LbOptions, fronts: list[tuple[int, int]], front_address: str, drain_dir: str | None = None) -> str:
    """The LB over the instances' internal ports, plus each instance's public port served on front_address with
    the same allow-list (model management never reaches the network), the other instances as its backups;
    stamped with its fingerprint. drain_dir: include each instance's server line from there (drain_files)."""
    draft = _render(lb, fronts, front_address, "", drain_dir)
    stamp = hashlib.sha256((draft + "".join(drain_files(lb, fronts, drain_dir or "").values())).encode())
    return _render(lb, fronts, front_address, stamp.hexdigest()[:16], drain_dir)


def server_line(lb: LbOptions, internal: int, down: bool = False) -> str:
    """One instance's upstream server directive (`down` while it drains)."""
    return (f"server 127.0.0.1:{internal} max_fails={lb.lb_max_fails} fail_timeout={lb.lb_fail_timeout}"
            f"{' down' if down else ''};\n")


def drain_files(lb: LbOptions, fronts: list[tuple[int, int]], drain_dir: str) -> dict[str, str]:
    """path -> content of each instance's include (its server line, in service)."""
    return {f"{drain_dir}/{public}.conf": server_line(lb, internal) for public, internal in fronts} if drain_dir \
        else {}


def fingerprint(config: str) -> str:
    """The stamp site() put into a rendered config."""
    return config.split('X-Hydra-LB-Config "', 1)[1].split('"', 1)[0]


def serving(lb: LbOptions, config: str) -> str:
    """A shell test that succeeds once nginx answers with this config's fingerprint."""
    address = "127.0.0.1" if lb.lb_listen_address in ("0.0.0.0", "::") else lb.lb_listen_address
    return (f"curl -s -o /dev/null -D - http://{address}:{lb.lb_port}/ "
            f"| grep -qi '^x-hydra-lb-config: {fingerprint(config)}'")


def _render(lb: LbOptions, fronts: list[tuple[int, int]], front_address: str, stamp: str,
            drain_dir: str | None) -> str:
    lines = {internal: server_line(lb, internal).strip() for _, internal in fronts}
    return render(
        "nginx-ollama-lb.conf.j2", method=lb.lb_method, fronts=fronts, front_address=front_address,
        drain_dir=drain_dir, server_lines=lines,
        max_fails=lb.lb_max_fails,
        fail_timeout=lb.lb_fail_timeout, keepalive=lb.lb_keepalive, listen_address=lb.lb_listen_address,
        port=lb.lb_port, client_max_body_size=lb.lb_client_max_body_size, host_header=lb.lb_upstream_host_header,
        connect_timeout=lb.lb_proxy_connect_timeout, read_timeout=lb.lb_proxy_read_timeout,
        send_timeout=lb.lb_proxy_send_timeout, next_upstream_tries=lb.lb_next_upstream_tries,
        extra_directives=lb.lb_extra_directives, fingerprint=stamp, allowed_paths=lb.lb_allowed_paths,
        debug_headers=lb.lb_debug_headers, client_keepalive_timeout=lb.lb_client_keepalive_timeout,
        health_path=INSTANCE_HEALTH,
    )
