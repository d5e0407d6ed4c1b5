"""TabbyAPI's platform-neutral install: source (sha256 checked), venv, config, keys, prestart; the backup before
a switch of installs, and the removal of superseded installs' keys."""

from __future__ import annotations

import hashlib
import shlex
from io import StringIO

from pyinfra import host
from pyinfra.api.operation import OperationMeta
from pyinfra.facts.files import File, FindFiles
from pyinfra.facts.server import Command
from pyinfra.operations import files, server

from hydra_ops.operations import release
from hydra_ops.operations.secret import secret_file
from hydra_ops.platform import current
from hydra_ops.services.tabbyapi import debian
from hydra_ops.services.tabbyapi.extras import extras_check
from hydra_ops.services.tabbyapi.options import TabbyOptions
from hydra_ops.services.tabbyapi.state import UNIT, api_tokens, app_dir, config_yml, prestart_path, prestart_script


def directories(install_root: str, lib_dir: str) -> None:
    """The install root and hydra-ops' script directory."""
    files.directory(name="G10: install root", path=install_root, mode="755")
    files.directory(name="G10: hydra-ops script directory", path=lib_dir, mode="755")


def service(o: TabbyOptions, unit: str, keys: dict[str, str], lib_dir: str) -> list[OperationMeta]:
    """One TabbyAPI install + config + keys + prestart; returns the operations whose change must restart the unit."""
    app, label = app_dir(o), unit.removesuffix(".service")
    installed = release.tarball(name=f"G10: {label}: TabbyAPI {o.tabby_revision} (sha256 checked)",
                                url=o.tabby_source_url, sha256=o.tabby_source_sha256, dest=app,
                                strip_components=1)
    spec = "\n".join([*o.tabby_pip_args, *o.tabby_pip_packages])
    marker = f"{app}/venv/.hydra-requirements-{hashlib.sha256(spec.encode()).hexdigest()[:12]}"
    venv = None
    if not host.get_fact(File, path=marker):
        q = shlex.quote  # the extras check refuses an extra the source lacks, before any venv
        venv = server.shell(name=f"G10: {label}: venv with the pinned requirements", commands=[
            f"set -e; cd {q(app)}; {extras_check(app, o.tabby_pip_packages)}rm -rf venv; python3 -m venv venv; "
            f"venv/bin/pip install --quiet --disable-pip-version-check "
            f"{' '.join(q(a) for a in o.tabby_pip_args)} {' '.join(q(p) for p in o.tabby_pip_packages)}; "
            f"touch {q(marker)}"])
    if current() != "nixos":  # NixOS: the switch's health check and generations (nixos.py)
        debian.keep_previous(o, unit, keys, lib_dir)
    config = files.put(name=f"G10: {label}: config.yml", src=StringIO(config_yml(o)), dest=f"{app}/config.yml",
                       mode="644")
    tokens = secret_file(name=f"G10: {label}: api_tokens.yml (0600, from the encrypted secrets)",
                         content=api_tokens(keys), dest=f"{app}/api_tokens.yml", user=o.tabby_user,
                         group=o.tabby_user)
    prestart = files.put(name=f"G10: {label}: prestart script", src=StringIO(prestart_script(o, unit)),
                         dest=prestart_path(lib_dir, unit), mode="755")
    return [op for op in (installed, venv, config, tokens, prestart) if op is not None]


def backup_when_switching(o: TabbyOptions) -> None:
    """Before tabby_port changes install (promote/rollback), keep the outgoing config.yml and unit."""
    current = (host.get_fact(Command, command=f"systemctl show -p WorkingDirectory --value {UNIT} 2>/dev/null"
                                              " || true") or "").strip()
    if current and current != app_dir(o):
        q = shlex.quote
        server.shell(name=f"G10: back up the outgoing {UNIT} config before switching installs", commands=[
            f"set -eu; dest={q(o.tabby_backup_dir)}/$(date -u +%Y%m%dT%H%M%SZ)-$(basename {q(current)}); "
            f"install -d -m 700 \"$dest\"; cp -p {q(current + '/config.yml')} /etc/systemd/system/{UNIT} \"$dest\"/; "
            "echo \"backed up to $dest\""])


def forget_keys_of_superseded_installs(serving: TabbyOptions, canary: TabbyOptions | None) -> None:
    """Installs no unit uses keep their code (a quick way back) but not their api_tokens.yml: a rotated key must
    not live on in an old copy. A deploy that selects such an install again writes the current keys. Only
    hydra-ops' installs (<root>/<install>/) are looked at: an operator's own TabbyAPI in <root> (seed 002's
    /opt/tabbyapi) keeps its files."""
    active = {f"{app_dir(o)}/api_tokens.yml" for o in (serving, canary) if o is not None}
    found = host.get_fact(FindFiles, path=serving.tabby_install_root, maxdepth=2, fname="api_tokens.yml") or []
    installs = [f for f in found if f.rsplit("/", 2)[0] == serving.tabby_install_root.rstrip("/")]
    for stale in sorted(set(installs) - active):
        files.file(name=f"G10: remove the keys of superseded install {stale.rsplit('/', 2)[1]}", path=stale,
                   present=False)
