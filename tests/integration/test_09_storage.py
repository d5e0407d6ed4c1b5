"""hydra-storage on the local cluster (G4, G5, G7, G8): the official openai client through LiteLLM reaches both
Ollama instances via the LB, repeats come from Redis, Redis evicts under pressure and keeps its AOF, secrets
never leak (output, ps, docker inspect, readable files), rotation keeps caching, bad data changes nothing."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from pathlib import Path

import openai
import pytest
import redis

from devcluster.local.cluster import Cluster
from hydra_ops.audit import audit
from hydra_ops.leaks import files_containing, modes, process_args_containing, secret_bearing_files
from hydra_ops.runner import DeployResult
from tests.integration.conftest import converged, store_copy, wait_for

STORAGE, COMPUTE = "hydra-storage", "hydra-compute"
GATEWAY = "http://10.213.7.12:4000/v1"
LB = "http://10.213.7.11:11400"
COMPOSE = "cd /opt/hydra-stack && docker-compose --project-name hydra-stack"


@pytest.fixture(scope="module")
def stack(local_cluster: Cluster, deploy: Callable[..., DeployResult]) -> DeployResult:
    """The whole cluster converged (LiteLLM's backends live on hydra-compute and hydra-ai)."""
    return converged(deploy, "deploys/site.py")


def client(cluster: Cluster) -> openai.OpenAI:
    return openai.OpenAI(base_url=GATEWAY, api_key=cluster.secrets.read()["litellm_master_key"], max_retries=0,
                         timeout=60)


def redis_client(cluster: Cluster) -> redis.Redis:
    return redis.Redis(host="10.213.7.12", port=6379, password=cluster.secrets.read()["redis_password"],
                       socket_timeout=10)


def served(cluster: Cluster) -> dict[int, int]:
    """Per Ollama instance on hydra-compute, how many generate calls its journal has logged."""
    out = cluster.ssh(COMPUTE, "for p in 11434 11435; do echo $p $(journalctl -u ollama@$p -o cat --no-pager "
                               "| grep -c 'POST /api/generate'); done").stdout
    return {int(p): int(n) for p, n in (line.split() for line in out.splitlines())}


def chat(c: openai.OpenAI, model: str, prompt: str) -> tuple[str, dict[str, str]]:
    raw = c.chat.completions.with_raw_response.create(model=model, messages=[{"role": "user", "content": prompt}])
    return raw.parse().choices[0].message.content or "", dict(raw.headers)


def test_second_storage_run_changes_nothing(stack: DeployResult, deploy: Callable[..., DeployResult]) -> None:
    again = deploy(target="deploys/storage.py")
    assert again.no_op, again.changed


def test_audit_reports_the_storage_gaps_closed(stack: DeployResult, local_cluster: Cluster) -> None:
    found = {r.gap: r.status for r in audit(local_cluster.inventory, ["G4", "G5", "G7", "G8"])}
    assert found == {"G4": "closed", "G5": "closed", "G7": "closed", "G8": "closed"}


def test_runbook_fix_of_a_closed_storage_gap_changes_nothing(stack: DeployResult,
                                                              deploy: Callable[..., DeployResult]) -> None:
    result = deploy(target="deploys/gap.py", data=["hydra_gap=G5"])
    assert result.no_op, result.changed


def test_litellm_reaches_both_ollama_instances_through_the_lb(stack: DeployResult, local_cluster: Cluster) -> None:
    c, before = client(local_cluster), served(local_cluster)
    for i in range(8):
        text, headers = chat(c, "gpt-3.5-turbo", f"lb spread {uuid.uuid4()} #{i}")
        assert text and headers["x-litellm-model-api-base"] == LB
    after = served(local_cluster)
    assert after[11434] > before[11434] and after[11435] > before[11435], (before, after)
    assert sum(after.values()) - sum(before.values()) == 8


def test_code_and_embedding_models_use_their_gpus_instance(stack: DeployResult, local_cluster: Cluster) -> None:
    c = client(local_cluster)
    _, headers = chat(c, "codellama", f"write a loop {uuid.uuid4()}")
    assert headers["x-litellm-model-api-base"] == "http://10.213.7.11:11434"
    raw = c.embeddings.with_raw_response.create(model="text-embedding-ada-002", input=f"embed {uuid.uuid4()}")
    assert raw.headers["x-litellm-model-api-base"] == "http://10.213.7.11:11435" and raw.parse().data[0].embedding
    _, headers = chat(c, "gpt-4", f"think hard {uuid.uuid4()}")
    assert headers["x-litellm-model-api-base"] == "http://10.213.7.10:5000/v1"


def test_fast_models_fall_back_to_the_cpu_instance_when_the_lb_is_down(stack: DeployResult,
                                                                      local_cluster: Cluster) -> None:
    c = client(local_cluster)
    local_cluster.ssh(COMPUTE, "systemctl stop nginx")
    try:
        text, headers = chat(c, "gpt-3.5-turbo", f"fallback {uuid.uuid4()}")
    finally:
        local_cluster.ssh(COMPUTE, "systemctl start nginx")
    assert text and headers["x-litellm-model-api-base"] == "http://ollama-cpu:11434"  # by name, on the stack's net
    assert (headers["x-litellm-model-group"], headers["x-litellm-attempted-fallbacks"]) == ("cpu-fallback", "1")
    _, headers = chat(c, "gpt-3.5-turbo", f"lb back {uuid.uuid4()}")
    assert headers["x-litellm-model-api-base"] == LB


def test_a_repeated_request_is_served_from_redis(stack: DeployResult, local_cluster: Cluster) -> None:
    c, prompt = client(local_cluster), f"cache me {uuid.uuid4()}"
    first, _ = chat(c, "gpt-3.5-turbo", prompt)
    before = served(local_cluster)
    second, headers = chat(c, "gpt-3.5-turbo", prompt)
    assert second == first and served(local_cluster) == before  # no backend saw the repeat
    assert redis_client(local_cluster).exists(headers["x-litellm-cache-key"]) == 1


def test_redis_filled_to_twice_maxmemory_evicts_without_errors(stack: DeployResult, local_cluster: Cluster) -> None:
    r = redis_client(local_cluster)
    assert r.config_get("maxmemory-policy") == {"maxmemory-policy": "allkeys-lru"}
    maxmemory = int(r.config_get("maxmemory")["maxmemory"])
    assert maxmemory == 64 * 1024 * 1024
    evicted_before, value, errors = r.info("stats")["evicted_keys"], b"x" * 65536, 0
    for batch in range(2 * maxmemory // len(value) // 64):  # 2x maxmemory in pipelines of 64 writes
        pipe = r.pipeline(transaction=False)
        for i in range(64):
            pipe.set(f"fill:{batch}:{i}", value)
        errors += sum(1 for res in pipe.execute(raise_on_error=False) if isinstance(res, Exception))
    assert errors == 0
    assert r.info("stats")["evicted_keys"] > evicted_before
    assert r.info("memory")["used_memory"] <= maxmemory * 1.05


def test_aof_persisted_keys_survive_a_restart(stack: DeployResult, local_cluster: Cluster) -> None:
    r, token = redis_client(local_cluster), uuid.uuid4().hex
    assert r.config_get("appendonly") == {"appendonly": "yes"}
    r.set("hydra:aof-probe", token)
    local_cluster.ssh(STORAGE, f"{COMPOSE} restart redis")

    def answers() -> bool:
        try:
            return r.ping()
        except (redis.ConnectionError, redis.BusyLoadingError, redis.TimeoutError):
            return False
    wait_for(answers, 60, "redis to answer after its restart")
    assert r.get("hydra:aof-probe") == token.encode()


def test_rotated_redis_password_rolls_out_keeps_caching_and_leaks_nowhere(
    stack: DeployResult, local_cluster: Cluster, deploy: Callable[..., DeployResult],
) -> None:
    old = local_cluster.secrets.read()
    local_cluster.secrets.rotate(["redis_password"])
    new = local_cluster.secrets.read()
    assert new["redis_password"] != old["redis_password"]
    result = deploy(target="deploys/storage.py", extra=["--diff", "-vvv", "--debug"])
    assert result.ok, "deploy after rotation failed"
    values = {f"{n} (old)": v for n, v in old.items()} | new
    leaked = [n for n, v in values.items() if v in result.stdout + result.stderr]
    assert leaked == [], f"values of {leaked} appear in pyinfra output"
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(host="10.213.7.12", port=6379, password=old["redis_password"], socket_timeout=10).ping()
    c, prompt = client(local_cluster), f"after rotation {uuid.uuid4()}"
    chat(c, "gpt-3.5-turbo", prompt)
    _, headers = chat(c, "gpt-3.5-turbo", prompt)
    assert redis_client(local_cluster).exists(headers["x-litellm-cache-key"]) == 1
    inspect = local_cluster.ssh(STORAGE, "docker inspect $(docker ps -aq)").stdout
    assert [n for n, v in values.items() if v in inspect] == []
    for host in (h.name for h in local_cluster.spec.hosts):
        ssh = local_cluster.ssh_argv(host)
        holders = files_containing(ssh, values)
        data = {"secret_dir": "/etc/hydra/secrets", "secret_files": []}
        assert set(holders) <= secret_bearing_files(ssh, data), f"{host}: {holders}"
        assert all(m.startswith("600 ") for m in modes(ssh, sorted(holders)).values())
        assert process_args_containing(ssh, values) == []


def storage_state(cluster: Cluster) -> str:
    """A digest of what a storage deploy could change: stack files, secrets, sysctls, containers and images."""
    out = cluster.ssh(STORAGE, "ls -laR --time-style=full-iso /opt/hydra-stack /etc/hydra /etc/sysctl.d; "
                               "cd /etc/hydra/secrets && sha256sum *; "
                               "docker ps -aq | xargs docker inspect -f '{{.Id}} {{.State.StartedAt}}'; "
                               "docker images -q | sort").stdout
    return hashlib.sha256(out.encode()).hexdigest()


@pytest.mark.parametrize(("overrides", "message"), [
    ('stack_services = {"redis": {"image": "hydra-local/redis:7.0.15", "cpuset": "0", "mem_limit": "256m"},\n'
     '                  "litellm": {"image": "hydra-local/litellm:1.106.2", "cpuset": "0-1", "mem_limit": "1g"}}\n',
     "litellm (0-1) and redis (0) overlap on cores 0"),
    ('stack_services = {"redis": {"image": "hydra-local/redis:7.0.15", "cpuset": "0-3", "mem_limit": "256m"}}\n',
     "stack_services.redis.cpuset: '0-3' names cores 2,3 the host does not have"),
    ('stack_services = {"redis": {"image": "hydra-local/redis:7.0.15", "cpuset": "0", "mem_limit": "200g"}}\n'
     'redis_maxmemory = "100gb"\n',
     "redis_maxmemory: 100gb + host_memory_headroom leaves the host no room"),
])
def test_bad_storage_data_is_refused_before_any_change(
    stack: DeployResult, local_cluster: Cluster, deploy: Callable[..., DeployResult], tmp_path: Path,
    overrides: str, message: str,
) -> None:
    before = storage_state(local_cluster)
    result = deploy(overrides, tmp_path, target="deploys/storage.py",
                    group="storage")
    output = result.stdout + result.stderr
    assert not result.ok and message in output and "nothing was changed" in output
    assert storage_state(local_cluster) == before


def test_a_secret_the_templates_need_missing_from_the_file_changes_nothing(
    stack: DeployResult, local_cluster: Cluster, deploy: Callable[..., DeployResult], tmp_path: Path,
) -> None:
    copy = store_copy(local_cluster, tmp_path)
    values = local_cluster.secrets.read()
    del values["redis_password"]
    values["litellm_master_key"] = values["litellm_master_key"][::-1]  # a deploy that ignored the gap would change
    copy.write(values)
    before = storage_state(local_cluster)
    result = deploy(f'secrets_file = "{copy.file}"\nsops_config = "{copy.config}"\n', tmp_path,
                    target="deploys/storage.py", group="all")
    output = result.stdout + result.stderr
    assert not result.ok and "lacks secrets the deploy needs: redis_password" in output
    assert storage_state(local_cluster) == before
