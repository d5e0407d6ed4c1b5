"""G11 on the local cluster: a wrong checksum never reaches the model directory; an interrupted download resumes."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest

from devcluster.doubles.pack import FAKE_MODEL
from devcluster.local.cluster import Cluster
from hydra_ops.runner import DeployResult

AI = "hydra-ai"
MODELS, INCOMING = "/mnt/models/exl2", "/mnt/models/.incoming"  # the defaults: seed 002's models disk
SHARD = "output-00001-of-00002.safetensors"


@pytest.fixture(scope="module")
def model_entry(local_cluster: Cluster, deploy: Callable[..., DeployResult]) -> dict:
    result = deploy(target="deploys/ai.py")
    assert result.ok, result.errors()
    files = {}
    mirror = local_cluster.dir / "artifacts/hf" / FAKE_MODEL["repo"] / "resolve" / FAKE_MODEL["revision"]
    for path in sorted(mirror.iterdir()):
        files[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return {**FAKE_MODEL, "files": files}


def override(entry: dict, dest: str) -> str:
    return f"tabby_models = [{dict(entry, dest=dest)!r}]\n"


def exists(cluster: Cluster, path: str) -> bool:
    return cluster.ssh(AI, f"test -e {path}", check=False).returncode == 0


def test_the_configured_model_is_complete_and_marked(model_entry: dict, local_cluster: Cluster) -> None:
    out = local_cluster.ssh(AI, f"cd {MODELS}/{FAKE_MODEL['dest']} && sha256sum *").stdout
    assert {line.split()[1]: line.split()[0] for line in out.splitlines()} == model_entry["files"]
    assert exists(local_cluster, f"{MODELS}/{FAKE_MODEL['dest']}/.hydra-fetched")


def test_a_file_with_a_wrong_checksum_is_refused(model_entry: dict, local_cluster: Cluster,
                                                 deploy: Callable[..., DeployResult], tmp_path: Path) -> None:
    bad = dict(model_entry, files={**model_entry["files"], SHARD: "0" * 64})
    try:
        result = deploy(override(bad, "Bad-Model"), tmp_path, target="deploys/ai.py", group="ai")
        output = result.stdout + result.stderr
        assert not result.ok
        assert f"sha256 mismatch for {SHARD} (expected {'0' * 64}" in output and "refused" in output
        assert not exists(local_cluster, f"{MODELS}/Bad-Model")
        assert not exists(local_cluster, f"{INCOMING}/Bad-Model/{SHARD}")
        assert not exists(local_cluster, f"{INCOMING}/Bad-Model/{SHARD}.part")
    finally:
        local_cluster.ssh(AI, f"rm -rf {INCOMING}/Bad-Model {MODELS}/Bad-Model")


def test_an_interrupted_download_resumes(model_entry: dict, local_cluster: Cluster,
                                         deploy: Callable[..., DeployResult], tmp_path: Path) -> None:
    half = 1024 * 1024
    local_cluster.ssh(AI, f"mkdir -p {INCOMING}/Resume-Model && head -c {half} "
                          f"{MODELS}/{FAKE_MODEL['dest']}/{SHARD} > {INCOMING}/Resume-Model/{SHARD}.part")
    log = local_cluster.dir / "artifact-server.log"
    seen = log.stat().st_size
    try:
        result = deploy(override(model_entry, "Resume-Model"), tmp_path, target="deploys/ai.py", group="ai")
        assert result.ok, result.errors()
        with log.open() as fh:
            fh.seek(seen)
            requests = fh.read()
        assert f"/{SHARD} range=bytes={half}- 206" in requests, requests[-800:]
        out = local_cluster.ssh(AI, f"sha256sum {MODELS}/Resume-Model/{SHARD}").stdout.split()[0]
        assert out == model_entry["files"][SHARD]
        assert not exists(local_cluster, f"{INCOMING}/Resume-Model")
        again = deploy(override(model_entry, "Resume-Model"), tmp_path, target="deploys/ai.py", group="ai")
        assert again.no_op
    finally:
        local_cluster.ssh(AI, f"rm -rf {INCOMING}/Resume-Model {MODELS}/Resume-Model")
