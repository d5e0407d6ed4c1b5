"""The SOLLOL gateway on Debian: python3-venv from apt, a venv with the pinned sollol (rebuilt only when the
requirements change), hydra-ops' launcher, its settings and the hardened unit, restarted only on change."""

from __future__ import annotations

from io import StringIO

from pyinfra.operations import files, server, systemd

from hydra_ops import PROJECT_ROOT
from hydra_ops.operations.packages import debian_packages
from hydra_ops.operations.service import refuse_login_account, run_and_restart_on_change
from hydra_ops.operations.venv import pinned_venv
from hydra_ops.services.sollol.options import SollolOptions
from hydra_ops.services.sollol.state import LAUNCHER, UNIT, app_env, gateway_config, gateway_env, unit_file

LABEL = "SOLLOL"
STATE_DIR = "/var/lib/sollol"


def gateway(o: SollolOptions, nodes: dict[str, tuple[str, int]]) -> None:
    """Install and run the gateway in front of `nodes` (name -> (address, Ollama port))."""
    debian_packages(name=f"{LABEL}: python3-venv and curl", packages=["python3-venv", "curl", "ca-certificates"])
    refuse_login_account("sollol_user", o.sollol_user)
    server.group(name=f"{LABEL}: group {o.sollol_user}", group=o.sollol_user, system=True)
    server.user(name=f"{LABEL}: service user {o.sollol_user}", user=o.sollol_user, group=o.sollol_user,
                system=True, shell="/usr/sbin/nologin", create_home=False, home=STATE_DIR)
    files.directory(name=f"{LABEL}: install root", path=o.sollol_install_root, mode="755")
    files.directory(name=f"{LABEL}: state directory", path=STATE_DIR, user=o.sollol_user, group=o.sollol_user,
                    mode="750")
    files.directory(name=f"{LABEL}: settings directory", path=o.sollol_config_dir, mode="755")
    installed = pinned_venv(LABEL, f"{o.sollol_install_root}/venv", o.sollol_pip_args, o.sollol_pip_packages)
    launcher = files.put(name=f"{LABEL}: hydra-ops' gateway launcher",
                         src=str(PROJECT_ROOT / "hydra_ops" / "stack_files" / LAUNCHER),
                         dest=f"{o.sollol_install_root}/{LAUNCHER}", mode="644")
    config = files.put(name=f"{LABEL}: gateway settings (nodes, placement, routing mode)",
                       src=StringIO(gateway_config(o, nodes)), dest=f"{o.sollol_config_dir}/gateway.json",
                       mode="644")
    env = files.put(name=f"{LABEL}: SOLLOL's environment (the knobs it reads)", src=StringIO(gateway_env(o, STATE_DIR)),
                    dest=f"{o.sollol_config_dir}/sollol.env", mode="644")
    files.put(name=f"{LABEL}: the application's environment (seed settings SOLLOL does not read)",
              src=StringIO(app_env(o)), dest=f"{o.sollol_config_dir}/hydra-app.env", mode="644")
    unit = files.put(name=f"{LABEL}: {UNIT}", src=StringIO(unit_file(o, f"{o.sollol_install_root}/venv/bin/python",
                                                                      STATE_DIR)),
                     dest=f"/etc/systemd/system/{UNIT}", mode="644")
    systemd.daemon_reload(name=f"{LABEL}: reload systemd units", _if=unit.did_change)
    run_and_restart_on_change(LABEL, UNIT, [op for op in (installed, launcher, config, env, unit) if op],
                              f"http://127.0.0.1:{o.sollol_port}/api/health", o.sollol_ready_timeout)
