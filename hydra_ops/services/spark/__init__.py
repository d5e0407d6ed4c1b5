"""Seed 004's vLLM cluster on the DGX Spark hosts: per host a compose stack of vLLM services sharing GPU 0
(ModernBERT embeddings :8001, HunyuanOCR :8003, GPT-OSS-20B :8004), and on traefik_host Traefik (:8000) balancing
the embeddings of every spark host with health checks.

options.py declares the settings and the checks across hosts, state.py the compose document and Traefik's
configuration, debian.py converges the stack, traefik.py installs and checks Traefik (with
hydra_ops/stack_files/traefik_check.py, run on the host), detect.py reads it all back.
"""

from __future__ import annotations

from pyinfra import host
from pyinfra.api import deploy

from hydra_ops import config

GROUP = "spark"


@deploy("Spark vLLM cluster")
def deploy_spark() -> None:
    """The host's vLLM stack, then Traefik if this is traefik_host (its backends: every spark host's balanced
    service, in inventory order). Every spark host's data is checked before any fact or operation."""
    from hydra_ops.platform import preflight
    from hydra_ops.services.spark import debian, traefik

    whole = config.host_config()
    everyone = whole.need(whole.spark, "spark")
    me = next(m for m in everyone if m.name == host.name)
    preflight("V1")  # a platform without a renderer stops the host before any change
    debian.apply(me.options, me.address)
    if me.options.traefik_host == host.name:
        backends = [(m.address, m.options.balanced.port) for m in everyone]
        traefik.apply(me.options, me.address, backends)
