"""G11 models: fetch the configured models with per-file sha256 and resume, then make TabbyAPI load its model."""

from __future__ import annotations

import shlex
from io import StringIO

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.facts.server import Command
from pyinfra.operations import apt, files, server

from hydra_ops.platform import current
from hydra_ops.render import render
from hydra_ops.validation import Settings, validate_ai

FETCH_SCRIPT = "model-fetch.sh"


def manifest(model: dict) -> str:
    """The "sha256  name" lines the fetch script reads (sorted: the marker must not depend on dict order)."""
    return "".join(f"{sha}  {name}\n" for name, sha in sorted(model["files"].items()))


def _marker(cfg: Settings, model: dict) -> str:
    return f"{cfg.tabby_model_dir}/{model['dest']}/.hydra-fetched"


@deploy("G11 model fetch")
def fetch_models() -> None:
    """Download every configured model that is not complete yet; nothing unverified reaches tabby_model_dir."""
    import hashlib

    cfg = validate_ai(host.data.dict(), host.name)
    script = f"{cfg.hydra_lib_dir}/{FETCH_SCRIPT}"
    if current() != "nixos":  # NixOS ships curl in its base system
        apt.packages(name="G11: curl for resumable downloads", packages=["curl", "ca-certificates"], update=True,
                     cache_time=3600)
    files.directory(name="G11: hydra-ops script directory", path=cfg.hydra_lib_dir, mode="755")
    files.put(name="G11: model fetch script", src=StringIO(render(f"{FETCH_SCRIPT}.j2")), dest=script, mode="755")
    files.directory(name="G11: model directory", path=cfg.tabby_model_dir, mode="755")
    q = shlex.quote
    for model in cfg.tabby_models:
        text = manifest(model)
        want = hashlib.sha256(text.encode()).hexdigest()
        have = host.get_fact(Command, command=f"cat {q(_marker(cfg, model))} 2>/dev/null || true")
        if have == want:
            continue
        server.shell(
            name=f"G11: fetch {model['repo']}@{model['revision']} into {model['dest']} ({len(model['files'])} files)",
            commands=[f"{script} {q(cfg.model_base_url)} {q(model['repo'])} {q(model['revision'])} "
                      f"{q(cfg.tabby_model_dir + '/' + model['dest'])} "
                      f"{q(cfg.model_download_dir + '/' + model['dest'])}"],
            _stdin=text,
        )


def _key_from_tokens(app: str, which: str) -> str:
    """Shell that prints one key from api_tokens.yml (into a variable, never into a command's arguments)."""
    q = shlex.quote
    return (f"{q(app + '/venv/bin/python')} -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))"
            f"[sys.argv[2]])' {q(app + '/api_tokens.yml')} {which}")


@deploy("G11 model load")
def load_model() -> None:
    """Load tabby_model_name through /v1/model/load (admin key from api_tokens.yml) unless it is already loaded."""
    from hydra_ops.gaps.g10_tabbyapi import app_dir, roles

    cfg, _ = roles(host.data.dict())  # whatever serves on tabby_port
    app, url = app_dir(cfg), f"http://127.0.0.1:{cfg.tabby_port}"
    loaded = host.get_fact(Command, command=(
        f"k=$({_key_from_tokens(app, 'api_key')} 2>/dev/null) || exit 0; "
        f"printf 'x-api-key: %s\\n' \"$k\" | curl -s -H @- {url}/v1/model || true")) or ""
    if f'"id": "{cfg.tabby_model_name}"' in loaded:
        return
    body = shlex.quote('{"model_name": "' + cfg.tabby_model_name + '"}')
    server.shell(name=f"G11: load {cfg.tabby_model_name} through /v1/model/load", commands=[
        f"set -eu; k=$({_key_from_tokens(app, 'admin_key')}); "
        f"printf 'x-admin-key: %s\\n' \"$k\" | curl -fsS -o /dev/null -H @- -H 'Content-Type: application/json' "
        f"-d {body} {url}/v1/model/load"])
