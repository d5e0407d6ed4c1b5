"""NixOS-shaped hydra-compute and hydra-ai: converge from the audit's before state through modules and the
nixos-rebuild double (real Nix evaluation), never apt; idempotent; faults are refused or rolled back."""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import ollama
import pytest
import requests

from devcluster.local.cluster import Cluster
from hydra_ops.runner import DeployResult
from tests.integration.conftest import wait_for
from tests.seeds.conftest import AI, COMPUTE, current_system

PACKAGES = "dpkg-query -W | sha256sum"


@pytest.fixture(scope="module")
def before(seeds: Cluster) -> dict[str, Any]:
    """What the before state looks like, recorded before the first deploy."""
    for host in (COMPUTE, AI):
        seeds.reset(host, log=lambda *_: None)
    state = {host: {"packages": seeds.ssh(host, PACKAGES).stdout,
                    "generations": seeds.ssh(host, "nixos-rebuild list-generations --json").stdout}
             for host in (COMPUTE, AI)}
    env = seeds.ssh(COMPUTE, "systemctl show -p Environment --value ollama.service").stdout
    state["legacy"] = {"active": seeds.ssh(COMPUTE, "systemctl is-active ollama.service", check=False).stdout.strip(),
                       "env": env.split()}
    return state


@pytest.fixture(scope="module")
def converged(before: dict[str, Any], deploy: Callable[..., DeployResult]) -> DeployResult:
    result = deploy(target="deploys/site.py")
    assert result.ok, result.stderr[-4000:]
    return result


def test_the_before_state_is_the_audits(before: dict[str, Any]) -> None:
    assert before["legacy"]["active"] == "active"
    assert "CUDA_VISIBLE_DEVICES=0" in before["legacy"]["env"]
    assert "OLLAMA_HOST=0.0.0.0:11434" in before["legacy"]["env"]
    assert len(json.loads(before[COMPUTE]["generations"])) == 1


def test_converge_uses_modules_and_rebuild_never_apt(converged: DeployResult, before: dict[str, Any],
                                                     seeds: Cluster) -> None:
    names = " ".join(converged.changed)
    assert "NixOS module ollama.nix" in names and "NixOS module ollama-lb.nix" in names
    assert "NixOS module tabbyapi.nix" in names
    assert "apt" not in names.lower()
    for host in (COMPUTE, AI):
        assert seeds.ssh(host, PACKAGES).stdout == before[host]["packages"], f"{host}: Debian packages changed"
        config = seeds.ssh(host, "cat /etc/nixos/configuration.nix").stdout
        assert "./hydra-ops" in config
        assert len(json.loads(seeds.ssh(host, "nixos-rebuild list-generations --json").stdout)) >= 2
    units = seeds.ssh(COMPUTE, "systemctl is-active ollama.service ollama@11434 ollama@11435 nginx",
                      check=False).stdout.split()
    assert units == ["inactive", "active", "active", "active"]


def test_second_run_changes_nothing(converged: DeployResult, deploy: Callable[..., DeployResult]) -> None:
    again = deploy(target="deploys/site.py")
    assert again.ok, again.errors()
    assert again.no_op and again.ran > 20, (again.ran, again.changed)


def test_official_client_streams_through_the_lb(converged: DeployResult, compute_address: str) -> None:
    client = ollama.Client(host=f"http://{compute_address}:11400", timeout=60)
    chunks = list(client.generate(model="qwen2.5:7b", prompt="say hi", stream=True))
    assert len(chunks) > 2 and chunks[-1]["done"] is True


def test_kill9_under_load_loses_no_request(converged: DeployResult, seeds: Cluster, compute_address: str) -> None:
    victim = "ollama@11434.service"
    pid = seeds.ssh(COMPUTE, f"systemctl show -p MainPID --value {victim}").stdout.strip()
    body = {"model": "qwen2.5:7b", "prompt": "load", "stream": False}
    done: list[int] = []

    def one(n: int) -> bool:
        resp = requests.post(f"http://{compute_address}:11400/api/generate", json=body, timeout=120)
        done.append(n)
        return resp.status_code == 200 and resp.json().get("done") is True

    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(one, n) for n in range(200)]
        wait_for(lambda: len(done) >= 30, 60, "30 requests before the kill")
        seeds.ssh(COMPUTE, f"kill -9 {pid}")
        results = [f.result(timeout=180) for f in futures]
    assert results.count(False) == 0, f"{results.count(False)} of 200 requests failed"
    wait_for(lambda: seeds.ssh(COMPUTE, f"systemctl is-active {victim}", check=False).stdout.strip() == "active",
             30, "systemd to restart the instance")


def refused_with_operator_module(seeds: Cluster, deploy: Callable[..., DeployResult], tmp_path: Path,
                                 compute_address: str, module: str) -> str:
    """Deploy a settings change beside a broken operator module; it must be refused with the running generation,
    its generation list and its instances untouched. Returns the deploy's output."""
    generation = current_system(seeds)
    listed = seeds.ssh(COMPUTE, "nixos-rebuild list-generations --json").stdout
    broken = "/etc/nixos/hydra-ops/zz-operator.nix"
    seeds.ssh(COMPUTE, f"cat > {broken}", input=module)
    try:
        result = deploy(overrides="ollama_num_parallel = 3\n", tmp=tmp_path)
        output = result.stdout + result.stderr
        assert not result.ok
        assert "rolled back" not in output
        assert current_system(seeds) == generation
        assert seeds.ssh(COMPUTE, "nixos-rebuild list-generations --json").stdout == listed
        env = seeds.ssh(COMPUTE, "systemctl show -p Environment --value ollama@11434").stdout
        assert "OLLAMA_NUM_PARALLEL=4" in env.split()
        assert requests.get(f"http://{compute_address}:11400/api/version", timeout=10).ok
    finally:
        seeds.ssh(COMPUTE, f"rm -f {broken}")
    assert deploy().no_op
    return output


def test_a_module_that_fails_evaluation_never_reaches_the_switch(
        converged: DeployResult, seeds: Cluster, deploy: Callable[..., DeployResult], tmp_path: Path,
        compute_address: str) -> None:
    output = refused_with_operator_module(seeds, deploy, tmp_path, compute_address,
                                          "{ ... }: { services.nginx.upstream.x = { }; }\n")
    assert "dry-build rejected the new modules" in output
    assert "The option `services.nginx.upstream' does not exist" in output


def test_a_build_failure_leaves_the_running_generation_current(
        converged: DeployResult, seeds: Cluster, deploy: Callable[..., DeployResult], tmp_path: Path,
        compute_address: str) -> None:
    # evaluates (dry-build passes) but its derivation's builder fails: only `nixos-rebuild build` can catch it
    output = refused_with_operator_module(
        seeds, deploy, tmp_path, compute_address,
        '{ pkgs, ... }: { environment.systemPackages = '
        '[ (pkgs.runCommand "operator-check" { } "echo operator check failed; exit 1") ]; }\n')
    assert "nixos-rebuild build failed; nothing was switched" in output
    assert "-operator-check.drv' failed with exit code 1" in output and "operator check failed" in output


def test_an_operators_failing_unit_is_reported_not_rolled_back(
        converged: DeployResult, seeds: Cluster, deploy: Callable[..., DeployResult], tmp_path: Path) -> None:
    generation = current_system(seeds)
    config = seeds.ssh(COMPUTE, "cat /etc/nixos/configuration.nix").stdout
    unit = "operator-broken.service"
    # the operator's own unit in configuration.nix, failing at start: switch-to-configuration exits 4 for it
    operator = config.rstrip().removesuffix("}") + (
        '  systemd.services.operator-broken = { wantedBy = [ "multi-user.target" ];\n'
        '    serviceConfig.ExecStart = "/bin/false"; };\n}\n')
    seeds.ssh(COMPUTE, "cat > /etc/nixos/configuration.nix", input=operator)
    try:
        result = deploy(overrides="ollama_num_parallel = 3\n", tmp=tmp_path)
        output = result.stdout + result.stderr
        assert result.ok, output[-4000:]
        assert "units hydra-ops does not manage are failed after the switch" in output and unit in output
        assert current_system(seeds) != generation  # the new generation stays
        env = seeds.ssh(COMPUTE, "systemctl show -p Environment --value ollama@11434").stdout
        assert "OLLAMA_NUM_PARALLEL=3" in env.split()
        assert seeds.ssh(COMPUTE, f"systemctl is-failed {unit}", check=False).stdout.strip() == "failed"
    finally:
        seeds.ssh(COMPUTE, "cat > /etc/nixos/configuration.nix", input=config)
    assert deploy().ok  # back to the defaults (the operator's unit leaves the generation)
    seeds.ssh(COMPUTE, f"systemctl reset-failed {unit}")
    assert deploy().no_op


def test_an_unhealthy_generation_is_rolled_back(converged: DeployResult, seeds: Cluster,
                                                deploy: Callable[..., DeployResult], tmp_path: Path,
                                                compute_address: str) -> None:
    generation = current_system(seeds)
    module = seeds.ssh(COMPUTE, "sha256sum /etc/nixos/hydra-ops/ollama.nix").stdout
    # a setting that evaluates and builds but makes every instance exit at start: the health check cannot pass
    bad = 'ollama_extra_env = {"OLLAMA_DOUBLE_TOKEN_DELAY_MS": "broken"}\nollama_ready_timeout = 15\n'
    result = deploy(overrides=bad, tmp=tmp_path)
    output = result.stdout + result.stderr
    assert not result.ok
    assert "the new generation is unhealthy" in output and "rolled back to the previous generation" in output
    assert current_system(seeds) == generation
    assert seeds.ssh(COMPUTE, "sha256sum /etc/nixos/hydra-ops/ollama.nix").stdout == module
    wait_for(lambda: requests.get(f"http://{compute_address}:11434/api/version", timeout=5).ok, 60,
             "the previous generation's instance to answer again")
    assert deploy().no_op


def test_an_unsupported_platform_stops_before_any_change(converged: DeployResult, seeds: Cluster,
                                                          deploy: Callable[..., DeployResult],
                                                          tmp_path: Path) -> None:
    generation = current_system(seeds)
    result = deploy('platform = "unraid"\n', tmp_path, target="deploys/site.py", group="ai")
    output = result.stdout + result.stderr
    assert not result.ok
    assert "hydra-ai: platform 'unraid' is not supported by these bundles" in output
    assert "Nothing was changed on any host" in output
    assert result.changed == [] and current_system(seeds) == generation


def test_audit_reports_g1_g2_g10_closed(converged: DeployResult) -> None:
    import subprocess
    import sys

    hydra = str(Path(sys.executable).parent / "hydra")
    out = subprocess.run([hydra, "audit", "--json"], capture_output=True, text=True, timeout=300)
    rows = {row["gap"]: row["status"] for row in json.loads(out.stdout) if row["host"] != "hydra-storage"}
    assert rows["G1"] == rows["G2"] == rows["G10"] == rows["G11"] == "closed", rows
