"""Facts parse the real output formats (the fake nvidia-smi prints them the same way)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from devcluster.local import fake_nvidia_smi
from hydra_ops.facts.gpus import QUERY, parse_gpu_csv
from hydra_ops.facts.ollama import OllamaModels
from hydra_ops.facts.ports import PortCheckUnavailable, PortHolders
from hydra_ops.facts.systemd_units import parse_show

SMI = Path(fake_nvidia_smi.__file__)


def test_gpu_csv_from_nvidia_smi_format() -> None:
    rows = parse_gpu_csv(["0, GPU-aaa, NVIDIA GeForce RTX 5090, 32607, 32000, 00000000:01:00.0",
                          "1, GPU-bbb, NVIDIA GeForce RTX 4090, 24564, 24000, 00000000:41:00.0"])
    assert rows[1] == {"index": 1, "uuid": "GPU-bbb", "name": "NVIDIA GeForce RTX 4090",
                       "memory_total_mib": 24564, "memory_free_mib": 24000, "bus_id": "00000000:41:00.0"}


def test_fake_nvidia_smi_prints_what_the_fact_parses(tmp_path: Path, monkeypatch) -> None:
    spec = tmp_path / "gpus.json"
    spec.write_text(json.dumps({"gpus": [
        {"index": 0, "uuid": "GPU-x", "name": "NVIDIA GeForce RTX 5070 Ti", "memory_mib": 16303,
         "memory_used_mib": 303, "bus_id": "00000000:01:00.0"}]}))
    code = SMI.read_text().replace('SPEC = "/etc/hydra-ops/fake-gpus.json"', f'SPEC = "{spec}"')
    script = tmp_path / "nvidia-smi"
    script.write_text(code)

    def smi(*args: str) -> str:
        return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True,
                              check=True).stdout

    assert parse_gpu_csv(smi(f"--query-gpu={QUERY}", "--format=csv,noheader,nounits").splitlines()) == [
        {"index": 0, "uuid": "GPU-x", "name": "NVIDIA GeForce RTX 5070 Ti", "memory_total_mib": 16303,
         "memory_free_mib": 16000, "bus_id": "00000000:01:00.0"}]
    assert smi("--query-gpu=memory.free", "--format=csv").splitlines() == ["memory.free [MiB]", "16000 MiB"]
    assert smi("-L").strip() == "GPU 0: NVIDIA GeForce RTX 5070 Ti (UUID: GPU-x)"
    assert "|   0  NVIDIA GeForce RTX 5070 Ti" in smi()


def test_systemctl_show_parsing() -> None:
    state = parse_show(["LoadState=loaded", "ActiveState=active", "UnitFileState=enabled", "MainPID=42"])
    assert state == {"LoadState": "loaded", "ActiveState": "active", "UnitFileState": "enabled", "MainPID": "42"}
    pre = parse_show(["StartLimitBurst=5", "ExecStartPre={ path=/usr/local/lib/p.sh ; argv[]=/usr/local/lib/p.sh }"])
    assert pre == {"StartLimitBurst": "5", "ExecStartPre": "{ path=/usr/local/lib/p.sh ; argv[]=/usr/local/lib/p.sh }"}


def test_ollama_models_from_manifest_paths() -> None:
    fact = OllamaModels()
    assert fact.process(["./qwen2.5/7b", "./llama3.2/latest", "./x/y.partial"]) == ["llama3.2:latest",
                                                                                    "qwen2.5:7b"]


def test_litellm_targets_reads_routes_fallbacks_and_cache() -> None:
    from hydra_ops.facts.litellm import summarize

    audit_state = summarize("model_list:\n  - model_name: gpt-3.5-turbo\n    litellm_params:\n"
                            "      model: ollama/qwen2.5:7b\n      api_base: http://192.0.2.203:11434\n"
                            "litellm_settings:\n  cache: false\n")
    assert audit_state == {"routes": {"gpt-3.5-turbo": "http://192.0.2.203:11434"}, "fallbacks": {},
                           "cache": False, "cache_type": None}
    fixed = summarize("model_list:\n  - model_name: gpt-3.5-turbo\n    litellm_params:\n"
                      "      api_base: http://192.0.2.203:11400\nlitellm_settings:\n"
                      "  fallbacks:\n    - {\"gpt-3.5-turbo\": [\"cpu-fallback\"]}\n  cache: true\n"
                      "  cache_params:\n    type: redis\n")
    assert fixed["routes"]["gpt-3.5-turbo"].endswith(":11400") and fixed["cache"] and fixed["cache_type"] == "redis"
    assert fixed["fallbacks"] == {"gpt-3.5-turbo": ["cpu-fallback"]}


def test_nginx_dump_reads_included_upstream_lines_in_place() -> None:
    """`nginx -T` prints each included file after a marker; the LB's per-instance server lines live there."""
    from hydra_ops.facts.nginx import summarize

    dump = ("# configuration file /etc/nginx/conf.d/lb.conf:\nupstream ollama_backend {\n    least_conn;\n"
            "    include /etc/nginx/hydra-ollama/11434.conf;  # drained there\n    keepalive 32;\n}\n"
            "upstream ollama_11434 {\n    include /etc/nginx/hydra-ollama/11434.conf;\n"
            "    server 127.0.0.1:21435 backup;\n}\nserver { listen 0.0.0.0:11400; }\n"
            "# configuration file /etc/nginx/hydra-ollama/11434.conf:\n"
            "server 127.0.0.1:21434 max_fails=2 fail_timeout=10s;\n")
    summary = summarize(dump)
    assert summary["upstreams"]["ollama_backend"] == {"method": "least_conn", "servers": ["127.0.0.1:21434"]}
    assert summary["upstreams"]["ollama_11434"]["servers"] == ["127.0.0.1:21434", "127.0.0.1:21435"]
    assert summary["listen"] == [11400]


def _port_fact(tmp_path: Path, ss: str | None) -> subprocess.CompletedProcess[str]:
    """Run PortHolders' command in a shell whose PATH holds only a fake `ss` (or none at all)."""
    bindir = tmp_path / "bin"
    bindir.mkdir(parents=True)
    if ss is not None:
        (bindir / "ss").write_text(f"#!/bin/sh\n{ss}\n")
        (bindir / "ss").chmod(0o755)
    return subprocess.run(["/bin/bash", "-c", PortHolders().command()], capture_output=True, text=True,
                          env={"PATH": str(bindir)})


def test_port_holders_fail_loudly_without_ss(tmp_path: Path) -> None:
    proc = _port_fact(tmp_path, None)
    assert proc.returncode == 0, proc.stderr
    with pytest.raises(PortCheckUnavailable, match=r"`ss` \(iproute2\) is not installed"):
        PortHolders().process(proc.stdout.splitlines())


def test_port_holders_fail_when_ss_fails_and_parse_when_it_works(tmp_path: Path) -> None:
    assert _port_fact(tmp_path, "exit 3").returncode != 0  # pyinfra then reports "could not load fact"
    line = 'LISTEN 0 4096 0.0.0.0:6379 0.0.0.0:* users:(("redis-server",pid=42,fd=6))'
    proc = _port_fact(tmp_path / "ok", f"echo '{line}'")
    assert proc.returncode == 0, proc.stderr
    assert PortHolders().process(proc.stdout.splitlines()) == {
        6379: {"process": "redis-server", "pid": 42, "container": "", "project": "", "service": ""}}
