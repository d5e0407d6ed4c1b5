"""The registry covers all eleven gaps and points at things that exist; the cluster switch targets correctly."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from devcluster.doubles.pack import pack_ollama
from hydra_ops import PROJECT_ROOT, TEMPLATES
from hydra_ops.registry import gap, gaps, runbook
from hydra_ops.services import compute
from hydra_ops.targets import targets


def test_all_eleven_gaps_are_registered_then_the_two_systems() -> None:
    assert [g.id for g in gaps()] == [*(f"G{n}" for n in range(1, 12)), "S1", "V1"]
    assert [g.id for g in gaps() if g.optional] == ["S1", "V1"]


def test_implemented_gaps_point_at_real_bundles_detectors_templates_and_tests() -> None:
    implemented = [g for g in gaps() if g.implemented]
    assert {g.id for g in implemented} == {*(f"G{n}" for n in range(1, 12)), "S1", "V1"}
    for g in implemented:
        assert callable(g.load("bundle")) and callable(g.load("detector"))
        assert (PROJECT_ROOT / str(g.deploy)).is_file()
        for template in g.templates or []:
            assert (TEMPLATES / template).is_file(), template
        for node in g.smoke:
            path, _, cls = node.partition("::")
            assert re.search(rf"^class {cls}\b", (PROJECT_ROOT / path).read_text(), re.M), node
    planned = [g for g in gaps() if not g.implemented]
    assert all(g.tracked_in for g in planned)


def test_runbook_lists_every_gap_with_its_commands() -> None:
    text = runbook()
    for g in gaps():
        assert f"## {g.id}: {g.title}" in text
    assert "hydra fix G1" in text and "hydra audit --gap G2" in text


def test_gap_lookup_is_case_insensitive() -> None:
    assert gap("g2").id == "G2"


def test_real_cluster_switch_targets_the_seed_addresses_without_connecting(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # where the real cluster's generated ssh_config goes
    real = {t.name: t for t in targets("real")}
    assert {n: t.address for n, t in real.items()} == {
        "hydra-ai": "192.168.1.250", "hydra-compute": "192.168.1.203", "hydra-storage": "192.168.1.244",
        "sollol-1": "10.9.66.154", "sollol-2": "10.9.66.250", "spark-1": "192.168.1.76", "spark-2": "192.168.1.63"}
    assert real["hydra-compute"].testinfra_url == f"ssh://hydra-compute?ssh_config={tmp_path}/hydra-ops/real/ssh_config"
    assert "HostName 192.168.1.203" in Path(real["hydra-compute"].ssh_config).read_text()
    assert "compute" in real["hydra-compute"].groups
    assert compute(real["hydra-compute"].data).ollama.ollama_release_url.startswith("https://github.com/ollama/ollama/")


def test_double_tarball_is_deterministic_and_shaped_like_upstream(tmp_path: Path) -> None:
    import tarfile

    path, sha = pack_ollama(tmp_path / "a")
    _, sha2 = pack_ollama(tmp_path / "b")
    assert sha == sha2 == hashlib.sha256(path.read_bytes()).hexdigest()
    with tarfile.open(path) as tar:
        names = {m.name: m for m in tar.getmembers()}
    assert set(names) == {"bin", "bin/ollama", "lib", "lib/ollama"}
    assert names["bin/ollama"].mode == 0o755


def test_validate_command_checks_every_host_of_the_real_inventory_without_connecting() -> None:
    from click.testing import CliRunner

    from hydra_ops.cli import main

    result = CliRunner().invoke(main, ["validate", "--cluster", "real"])
    assert result.exit_code == 1  # production TabbyAPI source and model files are not pinned yet
    assert "hydra-compute: ok" in result.output and "hydra-storage: ok" in result.output
    assert "tabby_source_sha256: '' is not set" in result.output
    assert "tabby_models[0].files: no files pinned" in result.output
