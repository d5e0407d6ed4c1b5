"""G5 LiteLLM gateway: config.yaml generated from the inventory (fast 7B models through the nginx LB, 70B through
TabbyAPI, code and embeddings on their GPU's instance, a CPU fallback), fallbacks, retries, the Redis response
cache on, and the master key from the secrets (read from 0600 files by the container's entrypoint)."""

from __future__ import annotations

from io import StringIO
from typing import Any

from pyinfra import host, inventory
from pyinfra.api import deploy
from pyinfra.api.operation import OperationMeta
from pyinfra.facts.server import Command
from pyinfra.operations import files, server

from hydra_ops.operations.docker_stack import compose
from hydra_ops.render import render
from hydra_ops.validation import Settings, ValidationError


def secret_env(cfg: Settings) -> dict[str, str]:
    """Environment variable -> secret name the gateway's process needs (master key, Redis, backend keys)."""
    env = {"LITELLM_MASTER_KEY": "litellm_master_key"}
    if cfg.litellm_cache:
        env["REDIS_PASSWORD"] = "redis_password"
    for backend in cfg.litellm_backends.values():
        if backend.get("api_key_secret"):
            env[backend["api_key_secret"].upper()] = backend["api_key_secret"]
    return env


def address(name: str) -> str:
    """Where LiteLLM reaches an inventory host: its ssh_hostname, else its name."""
    target = inventory.get_host(name, None)
    if target is None:
        raise ValidationError("hydra-storage", [f"litellm_backends: host {name!r} is not in the inventory"])
    return str(target.data.get("ssh_hostname") or name)


def model_list(cfg: Settings, resolve: Any = address) -> dict[str, dict[str, Any]]:
    """litellm_models with each backend turned into an api_base URL (and its key's variable name)."""
    out = {}
    for name, m in cfg.litellm_models.items():
        b = cfg.litellm_backends[m["backend"]]
        secret = b.get("api_key_secret")
        out[name] = {"model": m["model"], "api_base": f"http://{resolve(b['host'])}:{b['port']}{b['path']}",
                     "api_key_env": secret.upper() if secret else "", "max_tokens": m.get("max_tokens"),
                     "description": m.get("description", ""), "mode": m.get("mode", "")}
    return out


def config_yaml(cfg: Settings, resolve: Any = address) -> str:
    return render("litellm-config.yaml.j2", models=model_list(cfg, resolve),
                  routing_strategy=cfg.litellm_routing_strategy, num_retries=cfg.litellm_num_retries,
                  request_timeout=cfg.litellm_request_timeout, fallbacks=cfg.litellm_fallbacks,
                  cache=cfg.litellm_cache, drop_params=cfg.litellm_drop_params, redis_host="redis", redis_port=6379,
                  cache_ttl=cfg.litellm_cache_ttl)


@deploy("G5 LiteLLM")
def litellm_gateway(cfg: Settings) -> list[OperationMeta]:
    """config.yaml and the secrets entrypoint in place; returns the ops whose change needs a LiteLLM restart."""
    files.directory(name="G5: litellm config directory", path=f"{cfg.stack_dir}/litellm", mode="755")
    conf = files.put(name="G5: litellm config.yaml from the inventory", dest=f"{cfg.stack_dir}/litellm/config.yaml",
                     src=StringIO(config_yaml(cfg)), mode="644")
    exports = {var: f"/run/secrets/{secret}" for var, secret in secret_env(cfg).items()}
    entry = files.put(name="G5: entrypoint that reads secrets from files", mode="755",
                      dest=f"{cfg.stack_dir}/litellm/secrets-env.sh",
                      src=StringIO(render("secrets-env.sh.j2", exports=exports)))
    return [conf, entry]


@deploy("G5 CPU fallback models")
def cpu_fallback_models(cfg: Settings) -> None:
    """Pull the CPU fallback's models into its container when missing (after the stack is up)."""
    listed = host.get_fact(Command, command=f"{compose(cfg, 'exec', '-T', 'ollama-cpu', 'ollama', 'list')} "
                                            "2>/dev/null || true") or ""
    have = {line.split()[0] for line in listed.splitlines()[1:] if line.strip()}
    missing = [m for m in cfg.ollama_cpu_models if m not in have and f"{m}:latest" not in have]
    if missing:
        pulls = " && ".join(f"{compose(cfg, 'exec', '-T', 'ollama-cpu', 'ollama', 'pull', m)} >/dev/null"
                            for m in missing)
        server.shell(name=f"G5: pull {', '.join(missing)} into the CPU fallback", commands=[pulls])
