"""LiteLLM inside the stack (any platform): config.yaml and the secrets entrypoint in place, and the CPU fallback's
models pulled into its container once the stack is up."""

from __future__ import annotations

import shlex
from collections.abc import Collection

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.api.operation import OperationMeta
from pyinfra.facts.server import Command
from pyinfra.operations import files, server

from hydra_ops.operations import backup
from hydra_ops.services.litellm.options import LitellmOptions
from hydra_ops.services.litellm.state import config_yaml, entrypoint


@deploy("G5 LiteLLM")
def litellm_gateway(o: LitellmOptions, stack_dir: str, redis_host: str,
                    services: Collection[str] = ()) -> list[OperationMeta]:
    """config.yaml and the secrets entrypoint in place (old versions backed up); returns the ops whose change
    needs a LiteLLM restart. redis_host: the stack's Redis service; services: every stack service's name."""
    files.directory(name="G5: litellm config directory", path=f"{stack_dir}/litellm", mode="755")
    conf = backup.put("G5: litellm config.yaml from the inventory", stack_dir, "litellm/config.yaml",
                      config_yaml(o, redis_host=redis_host, services=services), "644")
    entry = backup.put("G5: entrypoint that reads secrets from files", stack_dir, "litellm/secrets-env.sh",
                       entrypoint(o), "755")
    return [conf, entry]


@deploy("G5 CPU fallback models")
def cpu_fallback_models(models: list[str], exec_in_service: str) -> None:
    """Pull the CPU fallback's models into its container when missing (after the stack is up);
    exec_in_service is the compose command line `exec -T ollama-cpu`."""
    listed = host.get_fact(Command, command=f"{exec_in_service} ollama list 2>/dev/null || true") or ""
    have = {line.split()[0] for line in listed.splitlines()[1:] if line.strip()}
    missing = [m for m in models if m not in have and f"{m}:latest" not in have]
    if missing:
        pulls = " && ".join(f"{exec_in_service} ollama pull {shlex.quote(m)} >/dev/null" for m in missing)
        server.shell(name=f"G5: pull {', '.join(missing)} into the CPU fallback", commands=[pulls])
