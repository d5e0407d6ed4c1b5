"""The local clusters' hydra-ai has a models file system of its own at /mnt/models (seed 002's layout), so the
prestart's mount check runs on, never switched off by local group data."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

from devcluster.local.provision import disk_binds
from devcluster.local.spec import HERE, HostSpec, load_spec


def test_default_flavour_ai_gets_a_models_disk(tmp_path: Path) -> None:
    ai = next(h for h in load_spec(HERE / "cluster.yaml").hosts if h.name == "hydra-ai")
    assert ai.disks == ["/mnt/models"]
    assert disk_binds(tmp_path, ai) == [f"--bind={tmp_path}/disks/hydra-ai/mnt-models:/mnt/models"]
    assert (tmp_path / "disks/hydra-ai/mnt-models").is_dir()


def test_local_group_data_keeps_the_mount_check_and_the_seed_layout() -> None:
    data = runpy.run_path(str(HERE / "group_data" / "ai.py"))
    assert not {"tabby_require_mount", "tabby_model_dir", "model_download_dir"} & set(data)


@pytest.mark.parametrize("where", ["mnt/models", "/mnt/a:b", "/mnt/a,b", "/mnt/../etc"])
def test_a_disk_needs_a_plain_absolute_mount_point(tmp_path: Path, where: str) -> None:
    with pytest.raises(ValueError, match="must be an absolute path"):
        disk_binds(tmp_path, HostSpec(name="h", group="ai", address="10.0.0.1", disks=[where]))
