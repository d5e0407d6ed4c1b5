"""Adopting an existing compose project (seed 002's, as on hydra-storage), naming a port's holder, and the checks
Unraid needs before any change: all pure functions over parsed files and fact outputs."""

from __future__ import annotations

import runpy
from typing import Any

import pytest
import yaml

from hydra_ops import PROJECT_ROOT
from hydra_ops.facts.ports import parse
from hydra_ops.services.stack.adopt import MANAGED_LABEL, ComposeError, check, dropped
from hydra_ops.services.stack.capacity import check_ports
from hydra_ops.services.stack.state import compose_doc, compose_yml
from hydra_ops.services.stack.unraid import engine_problems, path_problems
from hydra_ops.services.storage import storage as validate_storage
from hydra_ops.validation import ValidationError

#: seed 002's project as the audit found it (values are references to .env, as there)
BEFORE = {
    "services": {
        "litellm": {"image": "hydra-local/litellm:1.106.2", "container_name": "litellm", "ports": ["4000:4000"],
                    "volumes": ["./litellm/config.yaml:/app/config.yaml"],
                    "environment": ["LITELLM_MASTER_KEY=${LITELLM_KEY}"], "restart": "unless-stopped"},
        "ollama": {"image": "hydra-local/ollama-cpu:0.8.0-double", "container_name": "ollama",
                   "ports": ["11434:11434"], "volumes": ["/mnt/user/appdata/ollama:/root/.ollama"],
                   "environment": ["OLLAMA_HOST=0.0.0.0"], "restart": "unless-stopped"},
        "redis": {"image": "hydra-local/redis:7.0.15", "container_name": "redis", "user": "999:999",
                  "volumes": ["/mnt/user/appdata/redis:/data"], "environment": ["REDIS_PASSWORD=${REDIS_PASSWORD}"],
                  "entrypoint": ["sh", "-c", "exec redis-server"]},
        "postgres": {"image": "hydra-local/postgres:15-bookworm", "container_name": "postgres",
                     "environment": {"POSTGRES_PASSWORD": "${POSTGRES_PASSWORD}", "POSTGRES_DB": "hydra"},
                     "volumes": ["/mnt/user/appdata/postgres:/var/lib/postgresql/data"]},
        "letta": {"image": "hydra-local/base:bookworm-v1", "container_name": "letta", "ports": ["8283:8283"],
                  "command": ["python3", "-m", "http.server", "8283"]},
    },
}


@pytest.fixture
def seeds_cfg() -> Any:
    """The seeds flavour's hydra-storage: real group data plus the local overrides (Unraid layout)."""
    data: dict[str, Any] = {"ssh_hostname": "10.213.8.12"}
    for path in ("group_data/all.py", "group_data/storage.py", "devcluster/local/group_data.seeds/storage.py"):
        data.update({k: v for k, v in runpy.run_path(str(PROJECT_ROOT / path)).items() if not k.startswith("_")})
    return validate_storage(data)


def test_adoption_keeps_names_data_and_unmanaged_services(seeds_cfg: Any) -> None:
    doc = compose_doc(seeds_cfg, BEFORE)
    services = doc["services"]
    assert {n: s.get("container_name") for n, s in services.items() if n in BEFORE["services"]} == \
           {n: n for n in BEFORE["services"]}
    assert services["letta"] == BEFORE["services"]["letta"]
    assert "/mnt/user/appdata/redis:/data" in services["redis"]["volumes"]
    assert "/mnt/user/appdata/postgres:/var/lib/postgresql/data" in services["postgres"]["volumes"]
    assert "/mnt/user/appdata/ollama:/root/.ollama" in services["ollama"]["volumes"]
    # every adopted data mount was a bind mount and stays one: a named volume only for a service new to the project
    adopted = set(BEFORE["services"]) & set(services)
    assert not {name.removesuffix("-data") for name in doc.get("volumes", {})} & adopted, doc.get("volumes")
    # secrets from .env are gone; what is not a secret stays; ours replace the rest
    assert services["postgres"]["environment"] == {"POSTGRES_DB": "hydra",
                                                   "POSTGRES_PASSWORD_FILE": "/run/secrets/postgres_password"}
    assert "environment" not in services["litellm"] and "entrypoint" not in services["redis"]
    assert services["ollama"]["environment"] == {"OLLAMA_HOST": "0.0.0.0:11434"}
    assert all(services[n]["labels"] == {MANAGED_LABEL: "true"} for n in seeds_cfg.stack.stack_services)
    assert {"crewai", "langgraph"} <= set(services)
    text = compose_yml(seeds_cfg, BEFORE)
    assert "${" not in text and yaml.safe_load(text)["services"]["letta"] == BEFORE["services"]["letta"]


def test_adopting_our_own_file_again_rewrites_nothing(seeds_cfg: Any) -> None:
    """A re-run reads back the file the last run wrote: same text, key for key and in the same order (the node
    exporter's network_mode and pid included)."""
    first = compose_yml(seeds_cfg, BEFORE)
    second = compose_yml(seeds_cfg, yaml.safe_load(first))
    assert second == first
    node = yaml.safe_load(first)["services"]["node-exporter"]
    assert (node["network_mode"], node["pid"], node["read_only"]) == ("host", "host", True)
    hand_edited = yaml.safe_load(first)
    hand_edited["services"]["redis"]["network_mode"] = "host"  # group data decides the network of a managed service
    assert "network_mode" not in yaml.safe_load(compose_yml(seeds_cfg, hand_edited))["services"]["redis"]


def test_a_service_we_labelled_and_group_data_dropped_goes_others_stay(seeds_cfg: Any) -> None:
    ours = compose_doc(seeds_cfg, BEFORE)
    earlier = {"services": {**ours["services"], "old-agent": {"image": "x:1", "labels": {MANAGED_LABEL: "true"}}}}
    assert dropped(earlier, compose_doc(seeds_cfg, earlier)) == ["old-agent"]
    assert "old-agent" not in compose_doc(seeds_cfg, earlier)["services"]
    assert dropped(BEFORE, ours) == []


def test_unadoptable_files_are_named() -> None:
    for bad in (["a list"], {"services": ["x"]}, {"services": {"a": "string"}}):
        with pytest.raises(ComposeError, match=r"/x/docker-compose\.yml"):
            check(bad, "/x/docker-compose.yml")


SS = [
    'LISTEN 0 4096 0.0.0.0:4000 0.0.0.0:* users:(("docker-proxy",pid=812,fd=4))',
    'LISTEN 0 4096 [::]:4000 [::]:* users:(("docker-proxy",pid=818,fd=4))',
    'LISTEN 0 5 0.0.0.0:18080 0.0.0.0:* users:(("python3",pid=999,fd=3))',
    'LISTEN 0 128 0.0.0.0:22 0.0.0.0:* users:(("sshd",pid=90,fd=3))',
    "--- docker ---",
    "litellm\thydra-stack\tlitellm\t0.0.0.0:4000->4000/tcp, :::4000->4000/tcp",
    "plex\t\t\t0.0.0.0:32400->32400/tcp",
]


def test_port_holders_name_processes_and_containers() -> None:
    holders = parse(SS)
    assert holders[4000]["container"] == "litellm" and holders[4000]["service"] == "litellm"
    assert holders[18080] == {"process": "python3", "pid": 999, "container": "", "project": "", "service": ""}
    assert holders[32400]["container"] == "plex"


def test_a_port_held_by_anyone_else_is_refused_naming_the_holder(seeds_cfg: Any) -> None:
    doc = compose_doc(seeds_cfg, BEFORE)
    check_ports(doc, seeds_cfg.stack.stack_services, "hydra-stack", parse(SS))  # litellm holds its own port
    doc["services"]["ollama"]["ports"] = ["18080:11434"]
    doc["services"]["crewai"]["ports"] = ["32400:80"]
    with pytest.raises(ValidationError) as err:
        check_ports(doc, seeds_cfg.stack.stack_services, "hydra-stack", parse(SS))
    text = str(err.value)
    assert "host port 18080 is already held by process 'python3' (pid 999)" in text
    assert "host port 32400 is already held by container 'plex'" in text
    other_project = [line.replace("\thydra-stack\t", "\tother\t") for line in SS]
    with pytest.raises(ValidationError, match="4000 is already held by container 'litellm', compose project 'oth"):
        check_ports(compose_doc(seeds_cfg, BEFORE), seeds_cfg.stack.stack_services, "hydra-stack",
                    parse(other_project))


def test_unraid_engine_and_paths() -> None:
    ok = {"docker": True, "daemon": "20.10.24", "compose": "2.26.1"}
    assert engine_problems(ok, ["docker", "compose"]) == []
    assert engine_problems({**ok, "compose": "v5.0.0"}, ["docker", "compose"]) == []
    missing = engine_problems({**ok, "compose": None}, ["docker", "compose"])
    assert len(missing) == 1 and "Compose v2 plugin is missing" in missing[0]
    assert "v2 or later" in engine_problems({**ok, "compose": "1.29.2"}, ["docker-compose"])[0]
    assert "daemon" in engine_problems({**ok, "daemon": None}, ["docker", "compose"])[0]
    assert "no docker command" in engine_problems({"docker": False, "daemon": None, "compose": None},
                                                  ["docker", "compose"])[0]
    paths = {"stack_dir": "/mnt/user/appdata/hydra-stack", "secret_dir": "/etc/hydra/secrets"}
    problems = path_problems(paths, {"/mnt/user/appdata/hydra-stack": "xfs", "/etc/hydra/secrets": "rootfs"})
    assert len(problems) == 1 and problems[0].startswith("secret_dir: /etc/hydra/secrets is not under /mnt/")
    assert "is on vfat" in path_problems({"secret_dir": "/mnt/flash/s"}, {"/mnt/flash/s": "vfat"})[0]
