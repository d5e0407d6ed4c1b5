"""G10 TabbyAPI: ExLlamaV2 TabbyAPI as a hardened systemd service with a prestart script and restart limits."""

from __future__ import annotations

import hashlib
import shlex
from io import StringIO

import yaml
from pyinfra import host
from pyinfra.api import deploy
from pyinfra.facts.files import File
from pyinfra.operations import apt, files, server, systemd
from pyinfra.operations.util import any_changed

from facts.gpus import NvidiaGpus
from hydra_ops.gaps.g03_secrets import host_secrets
from hydra_ops.operations import release
from hydra_ops.operations.secret import secret_file
from hydra_ops.render import render
from hydra_ops.validation import ComputeConfig, ValidationError, validate_ai

UNIT = "tabbyapi.service"
STATE_DIR = "/var/lib/tabbyapi"


def app_dir(cfg: ComputeConfig) -> str:
    """Versioned install: a new revision or archive never overwrites the one running."""
    return f"{cfg.tabby_install_root}/{cfg.tabby_revision}-{cfg.tabby_source_sha256[:12]}"


def prestart_path(cfg: ComputeConfig) -> str:
    return f"{cfg.hydra_lib_dir}/tabbyapi-prestart.sh"


def config_yml(cfg: ComputeConfig) -> str:
    return render("tabbyapi-config.yml.j2", host=cfg.tabby_host, port=cfg.tabby_port, model_dir=cfg.tabby_model_dir,
                  model_name=cfg.tabby_model_name, backend=cfg.tabby_backend, max_seq_len=cfg.tabby_max_seq_len,
                  tensor_parallel=cfg.tabby_tensor_parallel, gpu_split_auto=cfg.tabby_gpu_split_auto,
                  gpu_split=cfg.tabby_gpu_split, autosplit_reserve=cfg.tabby_autosplit_reserve,
                  cache_mode=cfg.tabby_cache_mode, draft_model_name=cfg.tabby_draft_model_name)


def prestart_script(cfg: ComputeConfig) -> str:
    return render("tabbyapi-prestart.sh.j2", unit=UNIT, port=cfg.tabby_port, user=cfg.tabby_user,
                  gpus=",".join(str(g) for g in cfg.tabby_gpus), min_free_mib=cfg.tabby_min_free_vram_mib,
                  vram_wait_sec=cfg.tabby_vram_wait_sec, model_dir=shlex.quote(cfg.tabby_model_dir),
                  model_name=shlex.quote(cfg.tabby_model_name), require_mount=cfg.tabby_require_mount)


def unit_file(cfg: ComputeConfig) -> str:
    return render("tabbyapi.service.j2", backend=cfg.tabby_backend, port=cfg.tabby_port, user=cfg.tabby_user,
                  app_dir=app_dir(cfg), prestart=prestart_path(cfg), model_dir=cfg.tabby_model_dir,
                  require_mount=cfg.tabby_require_mount, burst=cfg.tabby_start_limit_burst,
                  interval=cfg.tabby_start_limit_interval_sec, restart_sec=cfg.tabby_restart_sec,
                  timeout_start=cfg.tabby_timeout_start_sec, gpus=",".join(str(g) for g in cfg.tabby_gpus),
                  alloc_conf=cfg.tabby_pytorch_alloc_conf, state_dir=STATE_DIR)


def api_tokens(values: dict[str, str]) -> str:
    return yaml.safe_dump({"api_key": values["tabby_api_key"], "admin_key": values["tabby_admin_key"]})


@deploy("G10 TabbyAPI")
def tabbyapi() -> None:
    """Install the pinned TabbyAPI, render config.yml and api_tokens.yml, run it under the seed's restart limits."""
    cfg = validate_ai(host.data.dict(), host.name)
    present = {g["index"] for g in host.get_fact(NvidiaGpus)}
    missing = [g for g in cfg.tabby_gpus if g not in present]
    if missing:
        raise ValidationError(host.name, [f"tabby_gpus: GPU {', '.join(map(str, missing))} not shown by nvidia-smi"])
    keys = host_secrets(["tabby_api_key", "tabby_admin_key"])
    app = app_dir(cfg)

    apt.packages(name="G10: python3-venv, curl, procps, iproute2",
                 packages=["python3-venv", "curl", "ca-certificates", "procps", "iproute2"], update=True,
                 cache_time=3600)
    for gpu_group in ("video", "render"):
        server.group(name=f"G10: GPU device group {gpu_group}", group=gpu_group, system=True)
    server.group(name=f"G10: group {cfg.tabby_user}", group=cfg.tabby_user, system=True)
    server.user(name=f"G10: service user {cfg.tabby_user}", user=cfg.tabby_user, group=cfg.tabby_user,
                system=True, shell="/usr/sbin/nologin", create_home=False)
    files.directory(name="G10: install root", path=cfg.tabby_install_root, mode="755")
    installed = release.tarball(name=f"G10: TabbyAPI {cfg.tabby_revision} (sha256 checked)",
                                url=cfg.tabby_source_url, sha256=cfg.tabby_source_sha256, dest=app,
                                strip_components=1)

    spec = "\n".join([*cfg.tabby_pip_args, *cfg.tabby_pip_packages])
    marker = f"{app}/venv/.hydra-requirements-{hashlib.sha256(spec.encode()).hexdigest()[:12]}"
    venv = None
    if not host.get_fact(File, path=marker):
        q = shlex.quote
        venv = server.shell(name="G10: venv with the pinned requirements", commands=[
            f"set -e; cd {q(app)}; rm -rf venv; python3 -m venv venv; "
            f"venv/bin/pip install --quiet --disable-pip-version-check "
            f"{' '.join(q(a) for a in cfg.tabby_pip_args)} {' '.join(q(p) for p in cfg.tabby_pip_packages)}; "
            f"touch {q(marker)}"])

    config = files.put(name="G10: config.yml", src=StringIO(config_yml(cfg)), dest=f"{app}/config.yml", mode="644")
    tokens = secret_file(name="G10: api_tokens.yml (0600, from the encrypted secrets)", content=api_tokens(keys),
                         dest=f"{app}/api_tokens.yml", user=cfg.tabby_user, group=cfg.tabby_user)
    files.directory(name="G10: hydra-ops script directory", path=cfg.hydra_lib_dir, mode="755")
    prestart = files.put(name="G10: prestart script", src=StringIO(prestart_script(cfg)), dest=prestart_path(cfg),
                         mode="755")
    unit = files.put(name=f"G10: {UNIT}", src=StringIO(unit_file(cfg)), dest=f"/etc/systemd/system/{UNIT}",
                     mode="644")
    systemd.daemon_reload(name="G10: reload systemd units", _if=unit.did_change)
    started = systemd.service(name=f"G10: {UNIT} running and enabled", service=UNIT, running=True, enabled=True)
    changed = [op for op in (installed, venv, config, tokens, prestart, unit) if op is not None]
    restarted = systemd.service(name=f"G10: restart {UNIT} for its new settings", service=UNIT, restarted=True,
                                _if=any_changed(*changed))
    server.shell(name=f"G10: wait for {UNIT} to answer /health", _if=any_changed(started, restarted), commands=[
        f"timeout {int(cfg.tabby_timeout_start_sec)} sh -c 'until curl -fsS -o /dev/null "
        f"http://127.0.0.1:{cfg.tabby_port}/health; do sleep 0.5; done' "
        f"|| {{ echo '{UNIT} did not answer /health' >&2; journalctl -u {UNIT} -n 20 --no-pager >&2; exit 1; }}"])
