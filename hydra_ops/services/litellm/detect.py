"""G5 on a live host, read-only: LiteLLM runs pinned and its config routes a model through the LB port with the
Redis cache on (the audit found it pointing at one Ollama, caching off)."""

from __future__ import annotations

from pyinfra.api import Host

from hydra_ops.detectors import CLOSED, OPEN, Finding
from hydra_ops.facts.litellm import LiteLLMTargets
from hydra_ops.services.stack.detect import service


def detect(host: Host) -> Finding:
    """Open, closed or unknown (group data that does not validate), with the evidence for it."""
    found = service(host, "litellm")
    if isinstance(found, Finding):
        return found
    cfg, ok, line = found
    conf = host.get_fact(LiteLLMTargets, path=f"{cfg.stack.stack_dir}/litellm/config.yaml") or {"routes": {}}
    lb = cfg.litellm.litellm_backends["ollama_lb"].port
    via_lb = sorted(m for m, base in conf["routes"].items() if base.rstrip("/").endswith(f":{lb}"))
    cache = conf.get("cache") and conf.get("cache_type") == "redis"
    evidence = [line, f"models via the LB (:{lb}): {', '.join(via_lb) or 'none'}", f"Redis cache: {bool(cache)}"]
    return Finding(CLOSED if ok and via_lb and cache else OPEN, evidence)
