"""hydra-storage data and renders: the seeds' defaults pass, bad cpusets/sizes/secrets are named, and the
compose file, redis.conf and LiteLLM config say what group data says (and never a secret)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from devcluster.local.stack_images import local_builds
from hydra_ops import PROJECT_ROOT
from hydra_ops.services.litellm.options import secret_env
from hydra_ops.services.litellm.state import config_yaml
from hydra_ops.services.redis.options import check_secret_values, redis_bytes
from hydra_ops.services.redis.state import redis_conf
from hydra_ops.services.stack.capacity import check_host
from hydra_ops.services.stack.options import SEED_SERVICES, docker_bytes, parse_cpuset, pinned
from hydra_ops.services.stack.state import compose_yml
from hydra_ops.services.storage import storage as validate_storage
from hydra_ops.targets import load_inventory
from hydra_ops.validation import ValidationError

EPYC = {"cpus": list(range(112)), "mem_bytes": 251 * 1024 ** 3}
ADDRESSES = {"hydra-ai": "192.0.2.250", "hydra-compute": "192.0.2.203", "hydra-storage": "192.0.2.244"}


@pytest.fixture
def storage_data() -> dict[str, Any]:
    """hydra-storage's data from the real inventory + group_data (no connection is made)."""
    inventory, _ = load_inventory(PROJECT_ROOT / "inventory.py")
    return dict(inventory.get_host("hydra-storage").data.dict())


def test_parsers() -> None:
    assert parse_cpuset("8-11,20") == {8, 9, 10, 11, 20}
    assert parse_cpuset("0") == {0}
    for bad in ("11-8", "8-", "a", "", "1,,2", "0-99999", "8\n", "8-11\n"):
        with pytest.raises(ValueError):
            parse_cpuset(bad)
    assert docker_bytes("512m") == 512 * 1024 ** 2 and docker_bytes("32g") == 32 * 1024 ** 3
    assert redis_bytes("100gb") == 100 * 1024 ** 3 and redis_bytes("1g") == 10 ** 9 and redis_bytes("64mb") == 64 << 20
    assert pinned("redis:7.2.5-bookworm") and pinned("ghcr.io/x/y@sha256:" + "0" * 64)
    assert not pinned("redis") and not pinned("redis:latest") and not pinned("localhost:5000/redis")
    for bad in ("redis:7.2.5\n", "redis:7.2.5\nprivileged: true", "redis:7 #x", "Redis:7", "redis:7\"", ""):
        assert not pinned(bad), bad
    for bad in ("512m\n", "1t", "-1g", " 1g"):
        with pytest.raises(ValueError):
            docker_bytes(bad)


def test_production_defaults_follow_the_core_table(storage_data: dict[str, Any]) -> None:
    cfg = validate_storage(storage_data)
    check_host(cfg.stack, cfg.redis, EPYC)
    table = {name: svc.cpuset for name, svc in cfg.stack.stack_services.items()}
    assert table["postgres"] == "8-11" and table["redis"] == table["qdrant"] == "12-15"
    assert (table["n8n"], table["crewai"], table["langgraph"]) == ("20-27", "28-35", "36-43")
    assert table["prometheus"] == table["alertmanager"] == "16-19"  # seed 001 Part 4: observability
    r = cfg.redis
    assert r.redis_maxmemory == "100gb" and r.redis_maxmemory_policy == "allkeys-lru" and r.redis_appendonly


@pytest.mark.parametrize(("override", "message"), [
    ({"crewai": {"cpuset": "20-29"}}, "crewai (20-29) and n8n (20-27) overlap on cores 20,21,22,23,24,25,26,27"),
    ({"crewai": {"cpuset": "6-9"}}, "overlaps host_reserved_cpuset '0-7' (cores 6,7)"),
    ({"crewai": {"cpuset": "35-28"}}, "runs backwards"),
    ({"crewai": {"cpuset": "8-11\n"}}, "stack_services.crewai.cpuset: '8-11\\n' is not a cpuset"),
    ({"crewai": {"image": "hydra/crewai:latest"}}, "stack_services.crewai.image: 'hydra/crewai:latest' is not pinned"),
    ({"crewai": {"image": "hydra/crewai"}}, "stack_services.crewai.image: 'hydra/crewai' is not pinned"),
    ({"crewai": {"image": "hydra/crewai:1.0\nprivileged: true"}}, "stack_services.crewai.image"),
    ({"crewai": {"mem_limit": "lots"}}, "stack_services.crewai.mem_limit: 'lots' is not a docker size"),
    ({"crewai": {"mem_limit": "1m"}}, "stack_services.crewai.mem_limit: '1m' is below docker's smallest"),
    ({"crewai": {"cpus": 4}}, "stack_services.crewai.cpus: extra inputs are not permitted"),
    ({"postgres": {"ports": ["everywhere"]}}, "stack_services.postgres.ports[0]: 'everywhere' is not a port mapping"),
    ({"postgres": {"ports": ["5432:70000"]}}, "stack_services.postgres.ports[0]: '5432:70000' is not a port"),
])
def test_bad_services_are_named(storage_data: dict[str, Any], override: dict[str, Any], message: str) -> None:
    services = {n: dict(s) for n, s in SEED_SERVICES.items()}
    for name, change in override.items():
        services[name].update(change)
    with pytest.raises(ValidationError) as err:
        validate_storage({**storage_data, "stack_services": services})
    assert message in str(err.value) and "nothing was changed" in str(err.value)


@pytest.mark.parametrize(("override", "message"), [
    ({"redis_maxmemory": "120gb"}, "redis_maxmemory: 120gb is not below stack_services.redis.mem_limit 110g"),
    ({"redis_maxmemory": "lots"}, "redis_maxmemory: 'lots' is not a Redis size"),
    ({"redis_maxmemory_policy": "lru"}, "redis_maxmemory_policy: 'lru': input should be 'allkeys-lru'"),
    ({"redis_maxmemory_polcy": "lru"}, "redis_maxmemory_polcy: unknown setting; did you mean redis_maxmemory_policy?"),
    ({"redis_appendfsync": "sometimes"}, "redis_appendfsync"),
    ({"litellm_fallbacks": {"gpt-4": ["gpt-5"]}},
     "litellm_fallbacks: gpt-4: ['gpt-5'] names models not in litellm_models: ['gpt-5']"),
    ({"litellm_models": {"x": {"backend": "nowhere", "model": "ollama/x"}}, "litellm_fallbacks": {}},
     "litellm_models: x.backend 'nowhere' is not in litellm_backends"),
    ({"secret_files": []}, "secret_files: 'litellm_master_key' lacks an entry LiteLLM reads"),
    ({"secret_files": [{"secret": "litellm_master_key", "owner": "root", "group": "root"},
                       {"secret": "redis_password", "owner": "root", "group": "root"}]},
     "litellm_backends.tabbyapi.api_key_secret: 'tabby_api_key' is not in secret_files"),
    ({"litellm_cache": True, "stack_services": {n: s for n, s in SEED_SERVICES.items() if n != "redis"}},
     "litellm_cache: true needs the redis service in stack_services"),
    ({"litellm_models": {"x": {"backend": "ollama_lb", "model": "ollama/x", "description": 'a "quote"'}}},
     "litellm_models.x.description: 'a \"quote\"' is not one line without quotes"),
    ({"compose_command": []}, "compose_command: list should have at least 1 item"),
    ({"docker_packages": ["docker.io\nx"]}, "docker_packages[0]"),
])
def test_bad_redis_and_litellm_settings_are_named(storage_data: dict[str, Any], override: dict[str, Any],
                                                  message: str) -> None:
    with pytest.raises(ValidationError) as err:
        validate_storage({**storage_data, **override})
    assert message in str(err.value)


def test_host_facts_bound_cpus_and_memory(storage_data: dict[str, Any]) -> None:
    cfg = validate_storage(storage_data)
    with pytest.raises(ValidationError) as err:
        check_host(cfg.stack, cfg.redis, {"cpus": [0, 1], "mem_bytes": 24 * 1024 ** 3})
    text = str(err.value)
    assert "stack_services.postgres.cpuset: '8-11' names cores 8,9,10,11 the host does not have" in text
    assert "mem_limits add up to 225.9 GiB + host_memory_headroom 24.0 GiB" in text
    assert "redis_maxmemory: 100gb + host_memory_headroom leaves the host no room" in text


def test_secret_values_must_be_plain_tokens() -> None:
    check_secret_values({"redis_password": "A" * 43})
    with pytest.raises(ValidationError) as err:
        check_secret_values({"redis_password": 'has "quotes" and spaces'})
    assert "secret redis_password" in str(err.value) and "quotes" not in str(err.value)


def test_compose_file_pins_every_service_and_holds_no_secret(storage_data: dict[str, Any]) -> None:
    cfg = validate_storage(storage_data)
    compose = yaml.safe_load(compose_yml(cfg))
    services = compose["services"]
    for name, svc in cfg.stack.stack_services.items():
        assert (services[name]["cpuset"], services[name]["mem_limit"], services[name]["image"]) == \
               (svc.cpuset, svc.mem_limit, svc.image)
    redis = services["redis"]
    auth = "/mnt/user/appdata/hydra-secrets/redis-auth.conf:/run/secrets/redis-auth.conf:ro"
    assert redis["user"] == "999:999" and auth in redis["volumes"]
    litellm = services["litellm"]
    assert litellm["entrypoint"] == ["/bin/sh", "/hydra/secrets-env.sh"] and "environment" not in litellm
    assert {v.split(":")[1] for v in litellm["volumes"] if v.startswith("/mnt/user/appdata/hydra-secrets")} == \
           {f"/run/secrets/{s}" for s in secret_env(cfg.litellm).values()}
    assert services["postgres"]["environment"] == {"POSTGRES_PASSWORD_FILE": "/run/secrets/postgres_password"}
    assert set(compose["volumes"]) == {f"{n}-data" for n in ("redis", "postgres", "ollama-cpu", "qdrant", "n8n",
                                                              "prometheus", "alertmanager", "uptime-kuma")}
    # unauthenticated admin APIs go on the host's loopback only (issue 21)
    assert services["ollama-cpu"]["ports"] == ["127.0.0.1:11500:11434"]
    assert services["prometheus"]["ports"] == ["127.0.0.1:9090:9090"]
    assert services["alertmanager"]["ports"] == ["127.0.0.1:9093:9093"]


def test_every_port_has_an_address_and_every_container_is_hardened(storage_data: dict[str, Any]) -> None:
    services = yaml.safe_load(compose_yml(validate_storage(storage_data)))["services"]
    ports = {name: s.get("ports", []) for name, s in services.items()}
    assert all(p.count(":") == 2 and not p.startswith("0.0.0.0") for ps in ports.values() for p in ps), ports
    assert ports["postgres"] == ["127.0.0.1:5432:5432"] and ports["qdrant"] == ["127.0.0.1:6333:6333"]
    assert ports["redis"] == ["192.168.1.244:6379:6379"] and ports["litellm"] == ["192.168.1.244:4000:4000"]
    for name, s in services.items():
        assert s["cap_drop"] == ["ALL"] and s["security_opt"] == ["no-new-privileges:true"], name
        assert "privileged" not in s
    assert services["postgres"]["cap_add"] == ["CHOWN", "DAC_OVERRIDE", "FOWNER", "SETGID", "SETUID"]
    assert all("cap_add" not in s for n, s in services.items() if n != "postgres")
    assert services["redis"]["read_only"] is True and services["redis"]["tmpfs"] == ["/tmp"]
    qdrant, n8n = services["qdrant"], services["n8n"]
    assert qdrant["entrypoint"] == ["/bin/sh", "/hydra/secrets-env.sh"] and qdrant["command"] == ["./entrypoint.sh"]
    assert "/mnt/user/appdata/hydra-secrets/qdrant_api_key:/run/secrets/qdrant_api_key:ro" in qdrant["volumes"]
    assert "qdrant-data:/qdrant/storage" in qdrant["volumes"]
    # n8n reads its key from its settings file only: the store's value, mounted there (0600, read-only)
    assert "/mnt/user/appdata/hydra-secrets/n8n-settings.json:/home/node/.n8n/config:ro" in n8n["volumes"]
    assert not any("ENCRYPTION" in k for k in n8n["environment"])
    assert n8n["environment"]["N8N_COMMUNITY_PACKAGES_ENABLED"] == "false"
    # nothing n8n would send outside the cluster: telemetry, version checks, templates
    assert all(n8n["environment"][k] == "false" for k in ("N8N_DIAGNOSTICS_ENABLED", "N8N_TEMPLATES_ENABLED",
                                                         "N8N_VERSION_NOTIFICATIONS_ENABLED"))
    # on loopback (where the deploy makes its owner) and, once it has one, on the LAN address
    assert n8n["ports"] == ["127.0.0.1:5678:5678", "192.168.1.244:5678:5678"]
    assert "./n8n/workflows:/hydra/workflows:ro" in n8n["volumes"]
    assert n8n["user"] == "1000:1000" and "n8n-data:/home/node/.n8n" in n8n["volumes"]


def test_ports_never_go_on_every_interface_by_default(storage_data: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="stack_publish_address: not set, and the inventory address 'hydra-"):
        validate_storage({**storage_data, "ssh_hostname": "hydra-storage.lan"})
    assert validate_storage({**storage_data, "stack_publish_address": "10.0.0.5"}).publish_address == "10.0.0.5"


def test_redis_conf_includes_the_password_file_and_never_the_password(storage_data: dict[str, Any]) -> None:
    text = redis_conf(validate_storage(storage_data).redis)
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert {"maxmemory 100gb", "maxmemory-policy allkeys-lru", "appendonly yes", "appendfsync everysec",
            "include /run/secrets/redis-auth.conf"} <= set(lines)
    assert not any(line.startswith("requirepass") for line in lines)


def test_litellm_config_routes_by_inventory_and_caches(storage_data: dict[str, Any]) -> None:
    cfg = validate_storage(storage_data)
    conf = yaml.safe_load(config_yaml(cfg.litellm, resolve=ADDRESSES.__getitem__,
                                      services=cfg.stack.stack_services))
    routes = {m["model_name"]: m["litellm_params"] for m in conf["model_list"]}
    assert routes["gpt-3.5-turbo"]["api_base"] == routes["llama-7b"]["api_base"] == "http://192.0.2.203:11400"
    assert routes["gpt-4"] == {"model": "openai/default", "api_base": "http://192.0.2.250:5000/v1",
                               "api_key": "os.environ/TABBY_API_KEY"}
    assert routes["codellama"]["api_base"] == "http://192.0.2.203:11434"
    assert routes["text-embedding-ada-002"]["api_base"] == "http://192.0.2.203:11435"
    assert routes["cpu-fallback"]["api_base"] == "http://ollama-cpu:11434"  # on the stack's network
    settings = conf["litellm_settings"]
    assert settings["cache"] is True and settings["cache_params"]["type"] == "redis"
    assert settings["cache_params"]["password"] == "os.environ/REDIS_PASSWORD"
    assert {"gpt-4": ["gpt-3.5-turbo"]} in settings["fallbacks"] and settings["num_retries"] == 2
    assert conf["general_settings"]["master_key"] == "os.environ/LITELLM_MASTER_KEY"


def test_local_builds_are_valid_stack_builds(storage_data: dict[str, Any]) -> None:
    builds = local_builds("http://10.213.7.1:8808/wheels/", "10.213.7.1",
                          "http://10.213.7.1:8808/ollama/ollama-linux-amd64.tgz", "0" * 64)
    validate_storage({**storage_data, "stack_builds": builds})
    assert all(pinned(tag) for tag in builds)
