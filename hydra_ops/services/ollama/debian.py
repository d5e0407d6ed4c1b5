"""Ollama on Debian: the release tarball (sha256 checked), a template unit and one env file per instance,
restarts only on change; the audit's single ollama.service is retired before anything binds its port."""

from __future__ import annotations

import shlex
from io import StringIO

from pyinfra import host
from pyinfra.facts.files import FindFiles
from pyinfra.operations import files, systemd

from hydra_ops.facts.systemd_units import SystemdUnitState
from hydra_ops.operations import release
from hydra_ops.operations.packages import debian_packages
from hydra_ops.operations.service import gpu_service_user, run_and_restart_on_change
from hydra_ops.render import render
from hydra_ops.services.ollama.options import OllamaOptions
from hydra_ops.services.ollama.state import ENV_DIR, STATE_DIR, env_file, unit_file


def install_dir(o: OllamaOptions) -> str:
    """Versioned install directory: a new tarball (new sum) never overwrites the running one."""
    return f"{o.ollama_install_root}/{o.ollama_version}-{o.ollama_release_sha256[:12]}"


def apply(o: OllamaOptions, drain_dir: str) -> None:
    """Unit files, env files, user and directories as Debian wants them; each instance (re)started on change,
    one at a time, each drained out of the LB first (drain_dir: the LB's per-instance upstream includes)."""
    legacy = host.get_fact(SystemdUnitState, unit=o.ollama_legacy_unit)
    if legacy.get("LoadState") not in (None, "not-found"):
        systemd.service(name=f"G1: stop and disable the single {o.ollama_legacy_unit}",
                        service=o.ollama_legacy_unit, running=False, enabled=False)

    debian_packages(name="G1: curl and CA certificates for the release download",
                    packages=["curl", "ca-certificates"])
    gpu_service_user("G1", o.ollama_user, "ollama_user")
    files.directory(name="G1: install root", path=o.ollama_install_root, mode="755")
    installed = release.tarball(name=f"G1: Ollama {o.ollama_version} (sha256 checked)",
                                url=o.ollama_release_url, sha256=o.ollama_release_sha256, dest=install_dir(o))
    binary = files.link(name="G1: /usr/local/bin/ollama -> installed version", path="/usr/local/bin/ollama",
                        target=f"{install_dir(o)}/bin/ollama", force=True)
    files.directory(name="G1: state directory", path=STATE_DIR, user=o.ollama_user, group=o.ollama_user,
                    mode="750")
    files.directory(name="G1: shared model store", path=o.ollama_models_dir, user=o.ollama_user,
                    group=o.ollama_user, mode="750")
    files.directory(name="G1: instance settings directory", path=ENV_DIR, mode="755")

    unit = files.put(name="G1: ollama@.service template unit", src=StringIO(unit_file(o)),
                     dest="/etc/systemd/system/ollama@.service", mode="644")
    systemd.daemon_reload(name="G1: reload systemd units", _if=unit.did_change)

    wanted = {f"{ENV_DIR}/{i.port}.env" for i in o.instances}
    for stale in sorted(set(host.get_fact(FindFiles, path=ENV_DIR, quote_path=True, fname="*.env") or []) - wanted):
        port = stale.rsplit("/", 1)[1].removesuffix(".env")
        systemd.service(name=f"G1: retire instance on port {port} (no longer in group data)",
                        service=f"ollama@{port}.service", running=False, enabled=False)
        files.file(name=f"G1: remove {stale}", path=stale, present=False)

    for inst in o.instances:
        env = files.put(name=f"G1: settings for port {inst.port} (GPU {inst.gpu})",
                        src=StringIO(env_file(o, inst)), dest=f"{ENV_DIR}/{inst.port}.env", mode="644")
        ready = f"http://127.0.0.1:{o.internal_port(inst)}/api/version"
        restart = render("rolling-restart.sh.j2", unit=shlex.quote(inst.unit),
                         include=shlex.quote(f"{drain_dir}/{inst.port}.conf"), port=o.internal_port(inst),
                         drain_timeout=o.ollama_drain_timeout, ready_timeout=o.ollama_ready_timeout, ready_url=ready)
        run_and_restart_on_change("G1", inst.unit, [env, unit, installed, binary], ready, o.ollama_ready_timeout,
                                  restart=restart)
