"""Bad group data for the two systems: a clear error naming the problem, and no host touched."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from devcluster.local.cluster import Cluster
from hydra_ops.runner import DeployResult
from tests.systems.conftest import snapshot

SPARK_OVER = '''
spark_services = {
    "embeddings": {"model": "answerdotai/ModernBERT-base", "port": 8001, "gpu_memory_utilization": 0.10,
                   "runner": "pooling", "cpuset": "0-1", "mem_limit": "128m"},
    "ocr": {"model": "tencent/HunyuanOCR", "port": 8003, "gpu_memory_utilization": 0.45, "runner": "generate",
            "cpuset": "0-1", "mem_limit": "128m"},
    "inference": {"model": "openai/gpt-oss-20b", "port": 8004, "gpu_memory_utilization": 0.45,
                  "runner": "generate", "cpuset": "0-1", "mem_limit": "128m"},
}
'''
TIER_TOO_BIG = '''
sollol_model_tiers = {"general": [{"model": "llama3.1:70b", "size_b": 70.0, "nodes": ["sollol-1", "sollol-2"]}]}
'''
CASES = [
    ("spark", SPARK_OVER, "GPU 0 is given 1 of its memory (embeddings 0.1 + ocr 0.45 + inference 0.45), more than "
                          "spark_gpu_memory_limit 0.95"),
    ("sollol", TIER_TOO_BIG, "tier general: llama3.1:70b (70B) is placed on sollol-1, which holds at most 34B"),
    ("sollol", 'sollol_routing_mode = "turbo"\n', "sollol_routing_mode: 'turbo' is not a routing mode SOLLOL has"),
    ("spark", 'spark_docker_packages = ["docker.io", "docker-compose", "curl"]\n',
     "spark_docker_packages: the host's Docker engine comes from docker-ce, docker-ce-cli, not from docker.io, "
     "docker-compose, curl; installing those would replace it"),
]


@pytest.mark.parametrize("group, overrides, message", CASES, ids=["gpu-fractions", "tier-too-big", "routing-mode",
                                                           "docker-io-over-docker-ce"])
def test_bad_data_is_refused_before_any_host_is_touched(first_runs: Any, systems: Cluster,
                                                       deploy: Callable[..., DeployResult], tmp_path: Path,
                                                       group: str, overrides: str, message: str) -> None:
    before = snapshot(systems)
    result = deploy(overrides, tmp_path, target=f"deploys/{group}.py", group=group)
    assert not result.ok
    assert message in result.stderr + result.stdout, (result.stderr + result.stdout)[-3000:]
    assert "nothing was changed" in (result.stderr + result.stdout).lower()
    assert snapshot(systems) == before
