"""The Unraid-shaped hydra-storage without a cluster: its before-state files render with the audit's shape, the
Postgres image's entrypoint survives being inlined in its Dockerfile, and the boot shims behave."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import yaml

from devcluster.local import unraid_before, unraid_host
from devcluster.local.spec import HERE, load_spec
from hydra_ops import PROJECT_ROOT, TEMPLATES
from hydra_ops.render import render

ARTIFACTS = {"wheels": "http://10.213.8.1:8809/wheels/", "ollama_url": "http://10.213.8.1:8809/o.tgz",
             "ollama_sha256": "0" * 64}
#: The seeds, read relative to the repository (<repo>/../shared/seeds); a test without its input fails.
SEEDS = PROJECT_ROOT.parent / "shared" / "seeds"
VALUES = {"LITELLM_KEY": "m-key", "REDIS_PASSWORD": "r-pass", "POSTGRES_PASSWORD": "p-pass"}


def test_seeds_spec_has_an_unraid_storage_host() -> None:
    spec = load_spec(HERE / "cluster-seeds.yaml")
    storage = next(h for h in spec.hosts if h.name == "hydra-storage")
    assert (storage.group, storage.address, storage.platform, storage.docker, storage.before, storage.gpus) == \
        ("storage", "10.213.8.12", "unraid", True, "seed002_stack", [])
    assert {h.platform for h in spec.hosts if h.name != "hydra-storage"} == {"nixos"}


def test_compose_project_has_seed_002_shape() -> None:
    text = yaml.safe_dump(unraid_before.compose_project())
    services = yaml.safe_load(text)["services"]
    assert set(services) == {"litellm", "ollama", "redis", "postgres", "letta"}
    assert all(s["restart"] == "unless-stopped" and s["container_name"] == name for name, s in services.items())
    assert services["litellm"]["environment"] == ["LITELLM_MASTER_KEY=${LITELLM_KEY}"]
    assert services["litellm"]["volumes"] == ["./litellm/config.yaml:/app/config.yaml"]
    assert services["redis"]["user"] == "999:999" and services["redis"]["ports"] == ["6379:6379"]
    entry = services["redis"]["entrypoint"]
    assert entry[:2] == ["sh", "-c"] and '"$$REDIS_PASSWORD"' in entry[2] and "exec redis-server" in entry[2]
    assert "maxmemory" not in entry[2] and "appendonly yes" in entry[2]
    assert "ports" not in services["postgres"] and "POSTGRES_DB=hydra" in services["postgres"]["environment"]
    assert services["ollama"]["volumes"] == ["/mnt/user/appdata/ollama:/root/.ollama"]
    assert not any(v for v in VALUES.values() if v in text)  # secrets live in .env only


def test_litellm_config_is_seed_002_with_local_addresses() -> None:
    addresses = {"192.168.1.250": "10.213.8.10", "192.168.1.203": "10.213.8.11", "192.168.1.244": "10.213.8.12"}
    config = unraid_before.litellm_config(addresses)
    bases = {m["model_name"]: m["litellm_params"]["api_base"] for m in config["model_list"]}
    assert bases == {"llama-70b": "http://10.213.8.10:5000/v1", "gpt-4": "http://10.213.8.10:5000/v1",
                     "llama-8b": "http://10.213.8.11:11434", "qwen-14b": "http://10.213.8.11:11434",
                     "text-embedding-nomic": "http://10.213.8.11:11434",
                     "llama-7b-cpu": "http://10.213.8.12:11434"}
    assert config["router_settings"]["routing_strategy"] == "simple-shuffle"
    assert "192.168." not in yaml.safe_dump(config)


def test_seed_002_config_matches_the_seed() -> None:
    seeds = sorted(SEEDS.glob("002_*.txt"))
    assert seeds, f"seed 002 is missing: expected {SEEDS}/002_*.txt (the seeds live beside the repository)"
    block = seeds[0].read_text().split("/litellm/config.yaml\n", 1)[1].split("```", 1)[0]
    ours = (HERE / "unraid" / "seed002-litellm-config.yaml").read_text()
    assert yaml.safe_load(block) == yaml.safe_load(ours)


def test_router_config_and_env_hold_the_plaintext_secrets() -> None:
    router = unraid_before.router_config(VALUES)
    assert router == {
        "router_settings": {"routing_strategy": "simple-shuffle", "redis_host": "redis", "redis_port": 6379,
                            "redis_password": "r-pass"},
        "general_settings": {"master_key": "m-key", "database_url": "postgresql://postgres@postgres:5432/hydra",
                             "database_password": "p-pass"}}
    assert unraid_before.env_file(VALUES) == "LITELLM_KEY=m-key\nREDIS_PASSWORD=r-pass\nPOSTGRES_PASSWORD=p-pass\n"


def test_before_builds_are_the_deploys_own_plus_postgres() -> None:
    builds = unraid_before.builds(ARTIFACTS, "10.213.8.1")
    assert list(builds) == [*unraid_before.BEFORE_BUILDS, unraid_before.POSTGRES_TAG]
    assert not any("crewai" in t or "langgraph" in t for t in builds)
    assert unraid_before.context_dir("hydra-local/redis:7.0.15") == \
        "/mnt/user/appdata/hydra-stack/build/hydra-local_redis_7.0.15"
    for spec in builds.values():
        assert (TEMPLATES / "images" / spec["template"]).is_file()


def test_postgres_entrypoint_round_trips_through_its_dockerfile(tmp_path: Path) -> None:
    dockerfile = render("images/debian-postgres.Dockerfile.j2", base="hydra-local/base:bookworm-v1")
    assert "<<" not in dockerfile and "COPY" not in dockerfile and "postgresql-15" in dockerfile
    run = re.search(r"^RUN (printf '%s\\n' \\\n.*?)^    > /usr/local/bin/docker-entrypoint.sh", dockerfile,
                    re.S | re.M)
    assert run, dockerfile
    out = tmp_path / "entrypoint.sh"
    subprocess.run(["sh", "-c", f"{run.group(1)}    > {out}"], check=True)
    assert out.read_text() == (TEMPLATES / "images" / "postgres-entrypoint.sh").read_text()
    script = out.read_text()
    assert "--pwfile" in script and "scram-sha-256" in script and "exec postgres" in script
    assert not re.search(r"(initdb|postgres|psql)[^\n]*\$POSTGRES_PASSWORD\b", script)  # never in argv


def test_sysctl_shim_records_writes(tmp_path: Path) -> None:
    shim = (HERE / "unraid" / "sysctl").read_text().replace("/run/hydra-unraid", str(tmp_path))
    path = tmp_path / "sysctl-shim"
    path.write_text(shim)
    path.chmod(0o755)
    first = subprocess.run([str(path), "-w", "vm.overcommit_memory=0"], capture_output=True, text=True, check=True)
    assert first.stdout == "vm.overcommit_memory = 0\n"
    subprocess.run([str(path), "-q", "-w", "net/core/somaxconn=1024", "vm.overcommit_memory=1"], check=True)
    assert (tmp_path / "sysctl").read_text().splitlines() == ["net.core.somaxconn=1024", "vm.overcommit_memory=1"]


def test_apt_stub_logs_and_fails(tmp_path: Path) -> None:
    stub = (HERE / "unraid" / "apt-stub").read_text().replace("/var/log/hydra-unraid-apt.log", str(tmp_path / "log"))
    path = tmp_path / "apt-get"
    path.write_text(stub)
    path.chmod(0o755)
    proc = subprocess.run([str(path), "install", "-y", "redis"], capture_output=True, text=True,
                          env={**os.environ, "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 100
    assert proc.stderr == "apt-get: not found on Unraid (hydra-ops local Unraid shape)\n"
    assert (tmp_path / "log").read_text() == "apt-get install -y redis\n"


def test_boot_units_order_ram_before_docker_and_go_after() -> None:
    ram = (HERE / "unraid" / "unraid-ram.service").read_text()
    go = (HERE / "unraid" / "unraid-go.service").read_text()
    assert "docker.service" in ram.split("Before=", 1)[1].splitlines()[0] and "tmpfs" in ram
    assert "After=docker.service" in go and "Type=oneshot" in go and "RemainAfterExit=yes" in go
    assert go.index(unraid_host.SHIM_DIR) < go.index("ExecStart")
    assert (HERE / "unraid" / "go").read_text() == "#!/bin/bash\n# Start the Management Utility\n" \
        "/usr/local/sbin/emhttp &\n"
