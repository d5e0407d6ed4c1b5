"""G11 models: fetch the configured models with per-file sha256 and resume, then make TabbyAPI load its model.

options.py declares the settings, detect.py checks on a live host that every model was fetched completely.
"""

from __future__ import annotations

import hashlib
import shlex
from io import StringIO

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.facts.server import Command
from pyinfra.operations import files, server

from hydra_ops import config
from hydra_ops.operations.packages import debian_packages
from hydra_ops.platform import PlatformOptions, current
from hydra_ops.render import render
from hydra_ops.services.models.options import ModelsOptions
from hydra_ops.services.tabbyapi.options import TabbyOptions
from hydra_ops.services.tabbyapi.state import app_dir

PLATFORMS = ("debian", "nixos")
FETCH_SCRIPT = "model-fetch.sh"


def manifest(files_pinned: dict[str, str]) -> str:
    """The "sha256  name" lines the fetch script reads (sorted: the marker must not depend on dict order)."""
    return "".join(f"{sha}  {name}\n" for name, sha in sorted(files_pinned.items()))


def marker(model_dir: str, dest: str) -> str:
    """The file holding the sha256 of the manifest a model was completely fetched with."""
    return f"{model_dir}/{dest}/.hydra-fetched"


def _options() -> tuple[ModelsOptions, TabbyOptions, PlatformOptions]:
    """The models, TabbyAPI's settings (its model directory) and the host's platform settings, checked together."""
    cfg = config.host_config()
    ai = cfg.need(cfg.ai, "tabby_models")
    return ai.models, ai.stable, cfg.platform


@deploy("G11 model fetch")
def fetch_models() -> None:
    """Download every configured model that is not complete yet; nothing unverified reaches tabby_model_dir."""
    models, tabby, platform = _options()
    fetch(models, tabby.tabby_model_dir, platform.hydra_lib_dir)


def fetch(models: ModelsOptions, model_dir: str, lib_dir: str) -> None:
    """The fetch script, the model directory, then one resumable, checked fetch per incomplete model."""
    script = f"{lib_dir}/{FETCH_SCRIPT}"
    if current() != "nixos":  # NixOS ships curl in its base system
        debian_packages(name="G11: curl for resumable downloads", packages=["curl", "ca-certificates"])
    files.directory(name="G11: hydra-ops script directory", path=lib_dir, mode="755")
    files.put(name="G11: model fetch script", src=StringIO(render(f"{FETCH_SCRIPT}.j2")), dest=script, mode="755")
    files.directory(name="G11: model directory", path=model_dir, mode="755")
    q = shlex.quote
    for model in models.tabby_models:
        text = manifest(model.files)
        want = hashlib.sha256(text.encode()).hexdigest()
        have = host.get_fact(Command, command=f"cat {q(marker(model_dir, model.dest))} 2>/dev/null || true")
        if have == want:
            continue
        server.shell(
            name=f"G11: fetch {model.repo}@{model.revision} into {model.dest} ({len(model.files)} files)",
            commands=[f"{script} {q(models.model_base_url)} {q(model.repo)} {q(model.revision)} "
                      f"{q(model_dir + '/' + model.dest)} {q(models.model_download_dir + '/' + model.dest)}"],
            _stdin=text,
        )


def _key_from_tokens(app: str, which: str) -> str:
    """Shell that prints one key from api_tokens.yml (into a variable, never into a command's arguments)."""
    q = shlex.quote
    return (f"{q(app + '/venv/bin/python')} -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))"
            f"[sys.argv[2]])' {q(app + '/api_tokens.yml')} {which}")


@deploy("G11 model load")
def serve() -> None:
    """The models fetched, TabbyAPI installed and running, the model loaded, in the only order that works (the
    prestart refuses to start TabbyAPI without its model): deploys/ai.py, and `hydra fix G10` before G11."""
    from hydra_ops.services.tabbyapi import tabbyapi

    fetch_models()
    tabbyapi()
    load_model()


def load_model() -> None:
    """Load tabby_model_name through /v1/model/load (admin key from api_tokens.yml) unless it is already loaded."""
    cfg = config.host_config()
    serving = cfg.need(cfg.ai, "tabby_serving").serving  # whatever serves on tabby_port
    load_served(app_dir(serving), serving.tabby_port, serving.tabby_model_name)


def load_served(app: str, port: int, model_name: str) -> None:
    """Ask the TabbyAPI installed in app, on port, to load model_name unless it already serves it."""
    url = f"http://127.0.0.1:{port}"
    loaded = host.get_fact(Command, command=(
        f"k=$({_key_from_tokens(app, 'api_key')} 2>/dev/null) || exit 0; "
        f"printf 'x-api-key: %s\\n' \"$k\" | curl -s -H @- {url}/v1/model || true")) or ""
    if f'"id": "{model_name}"' in loaded:
        return
    body = shlex.quote('{"model_name": "' + model_name + '"}')
    server.shell(name=f"G11: load {model_name} through /v1/model/load", commands=[
        f"set -eu; k=$({_key_from_tokens(app, 'admin_key')}); "
        f"printf 'x-admin-key: %s\\n' \"$k\" | curl -fsS -o /dev/null -H @- -H 'Content-Type: application/json' "
        f"-d {body} {url}/v1/model/load"])
