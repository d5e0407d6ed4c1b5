"""LiteLLM's desired state on any platform: config.yaml from the inventory (fast 7B models through the nginx LB,
70B through TabbyAPI, code and embeddings on their GPU's instance, a CPU fallback), and the entrypoint that
exports the secrets it reads from 0600 files."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from pyinfra import inventory

from hydra_ops.render import render
from hydra_ops.services.litellm.options import LitellmOptions, secret_env
from hydra_ops.validation import ValidationError


def address(name: str) -> str:
    """Where LiteLLM reaches an inventory host: its ssh_hostname, else its name."""
    target = inventory.get_host(name, None)
    if target is None:
        raise ValidationError("hydra-storage", [f"litellm_backends: host {name!r} is not in the inventory"])
    return str(target.data.get("ssh_hostname") or name)


def model_list(o: LitellmOptions, resolve: Callable[[str], str] = address,
               services: Collection[str] = ()) -> dict[str, dict[str, Any]]:
    """litellm_models with each backend turned into an api_base URL (and its key's variable name); a backend
    whose host is one of the stack's `services` is reached by that name on the stack's network."""
    out = {}
    for name, m in o.litellm_models.items():
        b = o.litellm_backends[m.backend]
        secret = b.api_key_secret
        where = b.host if b.host in services else resolve(b.host)
        out[name] = {"model": m.model, "api_base": f"http://{where}:{b.port}{b.path}",
                     "api_key_env": secret.upper() if secret else "", "max_tokens": m.max_tokens,
                     "description": m.description, "mode": m.mode}
    return out


def config_yaml(o: LitellmOptions, resolve: Callable[[str], str] = address, redis_host: str = "redis",
                services: Collection[str] = ()) -> str:
    """LiteLLM's config.yaml (redis_host: the stack's Redis service name; services: the stack's service names)."""
    return render("litellm-config.yaml.j2", models=model_list(o, resolve, services),
                  routing_strategy=o.litellm_routing_strategy, num_retries=o.litellm_num_retries,
                  request_timeout=o.litellm_request_timeout, fallbacks=o.litellm_fallbacks,
                  cache=o.litellm_cache, drop_params=o.litellm_drop_params, redis_host=redis_host, redis_port=6379,
                  cache_ttl=o.litellm_cache_ttl)


def entrypoint(o: LitellmOptions) -> str:
    """secrets-env.sh: exports each secret from its mounted file, then runs LiteLLM."""
    return render("secrets-env.sh.j2", exports={var: f"/run/secrets/{s}" for var, s in secret_env(o).items()})
