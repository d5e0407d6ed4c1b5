"""The LB on Debian: nginx from apt under a hardening drop-in, Debian's default site off, and the site file,
replaced only when `nginx -t` accepts it; a change that then fails the LB's health check is put back."""

from __future__ import annotations

import shlex
from io import StringIO

from pyinfra.operations import files, server, systemd
from pyinfra.operations.util import any_changed

from hydra_ops.operations import nginx, transaction
from hydra_ops.operations.packages import debian_packages
from hydra_ops.operations.service import health_wait
from hydra_ops.render import render
from hydra_ops.services.lb.options import LbOptions
from hydra_ops.services.lb.state import serving

DROPIN = "/etc/systemd/system/nginx.service.d/hydra-hardening.conf"
DEFAULT_SITE = "/etc/nginx/sites-enabled/default"
UNIT = "nginx.service"


def apply(lb: LbOptions, config: str, drains: dict[str, str]) -> None:
    """nginx running with the checked site and each instance's server-line include (drains: path -> line);
    nginx keeps serving the old site if the check fails."""
    debian_packages(name="G2: nginx", packages=["nginx"])
    hardening = render("nginx-hardening.conf.j2")
    kept = transaction.keep("G2", UNIT, [transaction.Desired(DROPIN, hardening),
                                         *(transaction.Desired(path, text) for path, text in drains.items()),
                                         transaction.Desired(lb.lb_config_path, config)])
    files.directory(name="G2: nginx.service drop-in directory", path=DROPIN.rsplit("/", 1)[0], mode="755")
    dropin = files.put(name="G2: nginx.service hardening drop-in", src=StringIO(hardening), dest=DROPIN, mode="644")
    systemd.daemon_reload(name="G2: reload systemd units for the drop-in", _if=dropin.did_change)
    default = files.link(name="G2: Debian's default site off (it answered on :80)", path=DEFAULT_SITE,
                         present=False)
    systemd.service(name="G2: nginx running and enabled", service="nginx.service", running=True, enabled=True)
    systemd.service(name="G2: restart nginx into its sandbox", service="nginx.service", restarted=True,
                    _if=dropin.did_change)
    files.directory(name="G2: per-instance upstream includes (drained there for rolling restarts)",
                    path=lb.lb_drain_dir, mode="755")
    lines = [files.put(name=f"G2: upstream line {path.rsplit('/', 1)[1]} (in service)", src=StringIO(text),
                       dest=path, mode="644") for path, text in drains.items()]
    site = nginx.checked_config(name=f"G2: LB site {lb.lb_config_path} (checked with nginx -t)", content=config,
                                dest=lb.lb_config_path)
    server.shell(name="G2: reload nginx for its changed default site or upstream lines",
                 commands=["nginx -t && systemctl reload nginx"],
                 _if=lambda: (default.did_change() or any(op.did_change() for op in lines))
                 and not site.did_change() and not dropin.did_change())
    # `systemctl reload` returns before new workers take over; wait until the new config is what answers.
    server.shell(name="G2: wait until nginx serves the new LB config", _if=site.did_change, commands=[
        f"timeout 30 sh -c {shlex.quote(f'until {serving(lb, config)}; do sleep 0.2; done')} "
        "|| { echo 'nginx did not switch to the new LB config within 30s' >&2; exit 1; }"])
    transaction.take(UNIT)  # closed here: a later unit's failed check must not put these files back
    url = health_url(lb)
    if url is not None:  # the new config serves; now it must also reach an instance, or the old one comes back
        again = ("systemctl restart nginx" if kept is not None and DROPIN in kept.paths
                 else "nginx -t && systemctl reload nginx")
        server.shell(name="G2: the LB answers through its upstreams (else the previous config comes back)",
                     _if=any_changed(site, dropin, *lines), commands=[health_wait(UNIT, url, 30, kept, again)])


def health_url(lb: LbOptions) -> str | None:
    """The LB's health check: /api/version (else /) through it, whichever lb_allowed_paths serves; None when
    neither is served (then only the new config's fingerprint is waited for)."""
    path = next((p for p in ("/api/version", "/") if p in lb.lb_allowed_paths), None)
    if path is None:
        return None
    address = "127.0.0.1" if lb.lb_listen_address in ("0.0.0.0", "::") else lb.lb_listen_address
    return f"http://{f'[{address}]' if ':' in address else address}:{lb.lb_port}{path}"
