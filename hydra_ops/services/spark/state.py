"""The spark cluster's desired state, from plain values: the compose document of one host's vLLM services, and
Traefik's static and dynamic configuration balancing one service over every spark host (serialised, never pasted)."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import Any

import yaml

from hydra_ops.services.spark.options import SparkOptions

COMPOSE_FILE = "compose.yml"
HF_CACHE = "/root/.cache/huggingface"
HEADER = ("# Managed by hydra-ops: seed 004's vLLM services on this spark host, rewritten from group data on every\n"
          "# deploy (spark_services). No secret is written here.\n")
TRAEFIK_HEADER = "# Managed by hydra-ops: Traefik {what} (seed 004's embeddings load balancer).\n"


def compose(o: SparkOptions, *args: str) -> str:
    """A compose command line run in the project directory."""
    words = [*o.spark_compose_command, "--file", COMPOSE_FILE, "--project-name", o.spark_compose_project, *args]
    return f"cd {shlex.quote(o.spark_stack_dir)} && " + " ".join(shlex.quote(w) for w in words)


def compose_doc(o: SparkOptions, publish_address: str) -> dict[str, Any]:
    """One compose service per spark_services entry: `vllm serve` arguments, its port on publish_address only, its
    cores, memory cap and (with spark_gpu_runtime) its GPU; no capabilities, telemetry off."""
    services = {}
    env = {"VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1"}
    if o.spark_hf_offline:
        env["HF_HUB_OFFLINE"] = "1"
    for name, svc in o.spark_services.items():
        spec: dict[str, Any] = {
            "image": o.spark_vllm_image, "command": svc.command(), "restart": "unless-stopped",
            "ports": [f"{publish_address}:{svc.port}:{svc.port}"], "cpuset": svc.cpuset, "mem_limit": svc.mem_limit,
            "environment": dict(env), "volumes": [f"{o.spark_hf_cache_dir}:{HF_CACHE}"],
            "cap_drop": ["ALL"], "security_opt": ["no-new-privileges:true"],
            "healthcheck": {"test": ["CMD", "curl", "-fsS", "-o", "/dev/null", f"http://127.0.0.1:{svc.port}/health"],
                            "interval": "30s", "timeout": "5s", "retries": 3,
                            "start_period": f"{o.spark_ready_timeout}s"},
        }
        if o.spark_gpu_runtime:
            spec["deploy"] = {"resources": {"reservations": {"devices": [
                {"driver": "nvidia", "device_ids": [str(svc.gpu)], "capabilities": ["gpu"]}]}}}
        services[name] = spec
    return {"version": "2.4", "services": services}


def compose_yml(o: SparkOptions, publish_address: str) -> str:
    """compose.yml for the host."""
    return HEADER + yaml.safe_dump(compose_doc(o, publish_address), sort_keys=False, default_flow_style=False)


def health_urls(o: SparkOptions, publish_address: str) -> dict[str, str]:
    """service -> the /health URL the host itself reaches it on (its published address)."""
    return {name: f"http://{publish_address}:{svc.port}/health" for name, svc in o.spark_services.items()}


def traefik_static(o: SparkOptions, address: str) -> dict[str, Any]:
    """Traefik's static configuration: the balancer on address:traefik_port, API and ping on loopback only, the
    dynamic file watched, no version check or usage statistics."""
    return {
        "global": {"checkNewVersion": False, "sendAnonymousUsage": False},
        "entryPoints": {"web": {"address": f"{address}:{o.traefik_port}"},
                        "traefik": {"address": f"127.0.0.1:{o.traefik_api_port}"}},
        "api": {"insecure": True, "dashboard": False},  # insecure = served on the loopback `traefik` entrypoint
        "ping": {"entryPoint": "traefik"},
        "providers": {"file": {"filename": f"{o.traefik_install_root}/dynamic.yml", "watch": True}},
        "log": {"level": o.traefik_log_level},
    }


def traefik_dynamic(o: SparkOptions, backends: Sequence[tuple[str, int]]) -> dict[str, Any]:
    """Traefik's dynamic configuration: every request on `web` to the balanced service, one server per
    (address, port) in backends (the spark hosts in inventory order), each health-checked."""
    name = o.traefik_balanced_service
    return {"http": {
        "routers": {name: {"entryPoints": ["web"], "rule": "PathPrefix(`/`)", "service": name}},
        "services": {name: {"loadBalancer": {
            "servers": [{"url": f"http://{address}:{port}"} for address, port in backends],
            "healthCheck": {"path": o.traefik_health_path, "interval": o.traefik_health_interval,
                            "timeout": o.traefik_health_timeout}}}},
    }}


def traefik_yml(doc: dict[str, Any], what: str) -> str:
    return TRAEFIK_HEADER.format(what=what) + yaml.safe_dump(doc, sort_keys=False, default_flow_style=False)
