"""The stack's unauthenticated admin APIs (CPU Ollama, Prometheus, Alertmanager) are published on the storage host's
loopback only; group data that would publish them elsewhere, or route LiteLLM to their loopback port, is refused."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from hydra_ops import PROJECT_ROOT
from hydra_ops.services.stack.state import compose_doc, readiness
from hydra_ops.services.storage import storage
from hydra_ops.targets import load_inventory
from hydra_ops.validation import ValidationError


@pytest.fixture
def data() -> dict[str, Any]:
    inventory, _ = load_inventory(PROJECT_ROOT / "inventory.py")
    return dict(inventory.get_host("hydra-storage").data.dict())


def _with_ports(data: dict[str, Any], name: str, ports: list[str]) -> dict[str, Any]:
    from hydra_ops.services.stack.options import SEED_SERVICES

    services = {n: dict(s) for n, s in (data.get("stack_services") or SEED_SERVICES).items()}
    services[name]["ports"] = ports
    return {**data, "stack_services": services}


def test_admin_roles_publish_on_loopback_and_the_rest_on_the_lan(data: dict[str, Any]) -> None:
    cfg = storage(data)
    ports = {n: s.get("ports", []) for n, s in compose_doc(cfg)["services"].items()}
    assert ports["ollama-cpu"] == ["127.0.0.1:11500:11434"]
    assert ports["prometheus"] == ["127.0.0.1:9090:9090"] and ports["alertmanager"] == ["127.0.0.1:9093:9093"]
    assert ports["litellm"] == [f"{cfg.publish_address}:4000:4000"]
    checks = readiness(cfg)
    assert "http://127.0.0.1:9090/-/ready" in checks["prometheus"]
    assert f"http://{cfg.publish_address}:4000/" in checks["litellm"]


@pytest.mark.parametrize("mapping", ["192.168.1.244:11500:11434", "10.0.0.1:11500:11434"])
def test_an_admin_api_on_another_address_is_refused(data: dict[str, Any], mapping: str) -> None:
    with pytest.raises(ValidationError) as exc:
        storage(_with_ports(data, "ollama-cpu", [mapping]))
    assert any(p.startswith("stack_services.ollama-cpu.ports:") and "loopback" in p for p in exc.value.problems), \
        exc.value.problems


def test_an_explicit_loopback_mapping_is_kept(data: dict[str, Any]) -> None:
    cfg = storage(_with_ports(data, "ollama-cpu", ["127.0.0.1:11600:11434"]))
    assert compose_doc(cfg)["services"]["ollama-cpu"]["ports"] == ["127.0.0.1:11600:11434"]


def test_litellm_through_the_loopback_port_is_refused_with_the_service_to_name(data: dict[str, Any]) -> None:
    backends = {"ollama_lb": {"host": "hydra-compute", "port": 11400, "path": ""},
                "ollama_gpu0": {"host": "hydra-compute", "port": 11434, "path": ""},
                "ollama_gpu1": {"host": "hydra-compute", "port": 11435, "path": ""},
                "tabbyapi": {"host": "hydra-ai", "port": 5000, "path": "/v1", "api_key_secret": "tabby_api_key"},
                "ollama_cpu": {"host": "hydra-storage", "port": 11500, "path": ""}}
    with pytest.raises(ValidationError) as exc:
        storage({**data, "litellm_backends": backends})
    assert [p for p in exc.value.problems if p.startswith("litellm_backends.ollama_cpu:")] == [
        "litellm_backends.ollama_cpu: hydra-storage:11500 is ollama-cpu, published on the host's loopback only; "
        "name the service instead (host: ollama-cpu, port: 11434)"]


def test_litellm_reaches_a_stack_service_by_name(data: dict[str, Any]) -> None:
    from hydra_ops.services.litellm.state import config_yaml

    cfg = storage(data)
    conf = yaml.safe_load(config_yaml(cfg.litellm, resolve=lambda h: f"addr-of-{h}",
                                      services=cfg.stack.stack_services))
    bases = {m["model_name"]: m["litellm_params"]["api_base"] for m in conf["model_list"]}
    assert bases["cpu-fallback"] == "http://ollama-cpu:11434"
    assert bases["gpt-3.5-turbo"] == "http://addr-of-hydra-compute:11400"


def test_claimed_roles_go_beyond_loopback_only_once_they_have_their_owner(data: dict[str, Any]) -> None:
    cfg = storage(data)
    first = compose_doc(cfg, unclaimed={"n8n", "uptime-kuma"})["services"]
    assert first["n8n"]["ports"] == ["127.0.0.1:5678:5678"]
    assert first["uptime-kuma"]["ports"] == ["127.0.0.1:3001:3001"]
    owned = compose_doc(cfg)["services"]
    assert owned["n8n"]["ports"] == ["127.0.0.1:5678:5678", f"{cfg.publish_address}:5678:5678"]
    assert owned["uptime-kuma"]["ports"] == ["127.0.0.1:3001:3001", f"{cfg.publish_address}:3001:3001"]
    assert first["litellm"]["ports"] == owned["litellm"]["ports"]  # other services are published at once
    assert "http://127.0.0.1:5678/" in readiness(cfg)["n8n"]  # checked on the host, in both phases
