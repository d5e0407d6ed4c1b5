"""G3 on the local cluster: secret files land 0600, rotate rolls out, nothing leaks, bad secrets change nothing."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from devcluster.local.cluster import Cluster
from hydra_ops import PROJECT_ROOT
from hydra_ops.leaks import files_containing, modes, process_args_containing, secret_bearing_files
from hydra_ops.runner import DeployResult
from hydra_ops.secrets import generate
from tests.integration.conftest import converged, snapshot, store_copy

FILES = {"hydra-storage": ["redis_password", "litellm_master_key", "postgres_password"],
         "hydra-ai": ["tabby_api_key", "tabby_admin_key"]}


@pytest.fixture(scope="module")
def secrets_deployed(local_cluster: Cluster, deploy: Callable[..., DeployResult]) -> DeployResult:
    return converged(deploy, "deploys/site.py")


def host_digests(cluster: Cluster, host: str) -> dict[str, str]:
    """{secret file name: sha256} on a host."""
    out = cluster.ssh(host, "cd /etc/hydra/secrets && sha256sum *").stdout
    return {line.split()[1]: line.split()[0] for line in out.splitlines()}


def test_secret_files_are_0600_and_hold_the_decrypted_values(secrets_deployed: DeployResult,
                                                             local_cluster: Cluster) -> None:
    values = local_cluster.secrets.read()
    for host, names in FILES.items():
        got = host_digests(local_cluster, host)
        for name in names:
            assert got[name] == hashlib.sha256((values[name] + "\n").encode()).hexdigest(), f"{host}:{name}"
        out = local_cluster.ssh(host, "stat -c '%n %a %U' /etc/hydra/secrets /etc/hydra/secrets/*").stdout
        modes = dict((line.split()[0], line.split()[1:]) for line in out.splitlines())
        assert modes["/etc/hydra/secrets"] == ["700", "root"]
        assert all(modes[f"/etc/hydra/secrets/{n}"] == ["600", "root"] for n in names), modes
    assert local_cluster.ssh("hydra-compute", "test -e /etc/hydra/secrets", check=False).returncode != 0


def test_second_site_run_reports_zero_changes(secrets_deployed: DeployResult,
                                              deploy: Callable[..., DeployResult]) -> None:
    again = deploy(target="deploys/site.py")
    assert again.no_op


def test_rotation_rolls_out_and_no_output_process_or_readable_file_shows_a_value(
    secrets_deployed: DeployResult, local_cluster: Cluster, deploy: Callable[..., DeployResult],
) -> None:
    old = local_cluster.secrets.read()
    local_cluster.secrets.rotate(list(old))
    new = local_cluster.secrets.read()
    result = deploy(target="deploys/site.py", extra=["--diff", "-vvv", "--debug"])
    assert result.ok, "deploy after rotation failed"
    output = result.stdout + result.stderr
    leaked = [n for n, v in {**old, **new}.items() if v in output]
    assert leaked == [], f"values of {leaked} appear in pyinfra output"
    assert len(result.changed) >= 2  # at least one secret file per host was rewritten
    for host, names in FILES.items():
        got = host_digests(local_cluster, host)
        assert all(got[n] == hashlib.sha256((new[n] + "\n").encode()).hexdigest() for n in names)
    for host in (h.name for h in local_cluster.spec.hosts):
        ssh = local_cluster.ssh_argv(host)
        holders = files_containing(ssh, {**old, **new})
        data = {"secret_dir": "/etc/hydra/secrets", "secret_files": [{"secret": n} for n in FILES.get(host, [])]}
        assert set(holders) <= secret_bearing_files(ssh, data), f"{host}: {holders}"
        assert all(m.startswith("600 ") for m in modes(ssh, sorted(holders)).values())
        assert process_args_containing(ssh, {**old, **new}) == []


def test_a_secret_missing_from_the_file_stops_the_deploy_before_any_change(
    secrets_deployed: DeployResult, local_cluster: Cluster, deploy: Callable[..., DeployResult], tmp_path: Path,
) -> None:
    copy = store_copy(local_cluster, tmp_path)
    values = local_cluster.secrets.read()
    del values["postgres_password"]
    values["redis_password"] = generate()  # so that a deploy that ignored the gap would change something
    copy.write(values)
    before = {h.name: snapshot(local_cluster, h.name) for h in local_cluster.spec.hosts}
    result = deploy(f'secrets_file = "{copy.file}"\nsops_config = "{copy.config}"\n', tmp_path,
                    target="deploys/site.py", group="all")
    output = result.stdout + result.stderr
    assert not result.ok and "lacks secrets the deploy needs: postgres_password" in output
    assert {h.name: snapshot(local_cluster, h.name) for h in local_cluster.spec.hosts} == before


def test_an_age_key_that_cannot_decrypt_stops_the_deploy_before_any_change(
    secrets_deployed: DeployResult, local_cluster: Cluster, deploy: Callable[..., DeployResult], tmp_path: Path,
) -> None:
    import subprocess

    wrong = tmp_path / "wrong.key"
    subprocess.run(["age-keygen", "-o", str(wrong)], check=True, capture_output=True)
    before = {h.name: snapshot(local_cluster, h.name) for h in local_cluster.spec.hosts}
    result = deploy(f'age_key_file = "{wrong}"\n', tmp_path, target="deploys/site.py", group="all")
    output = result.stdout + result.stderr
    assert not result.ok and f"the age key {wrong} cannot decrypt" in output
    assert {h.name: snapshot(local_cluster, h.name) for h in local_cluster.spec.hosts} == before



def raw_ai_deploy(cluster: Cluster, *args: str) -> subprocess.CompletedProcess[str]:
    """pyinfra exactly as an operator types it (no --json added), on hydra-ai only."""
    return subprocess.run([sys.executable, "-m", "pyinfra", "-y", str(cluster.inventory), "deploys/ai.py",
                           "--limit", "hydra-ai", *args], cwd=PROJECT_ROOT, capture_output=True, text=True,
                          timeout=600, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("mode", [["--debug-operations"], ["--debug-facts"], ["--dry"], ["--json"], ["-vv"],
                                  ["--diff", "-vvv", "--debug"]])
def test_no_output_mode_shows_a_secret_that_this_run_writes(
    mode: list[str], secrets_deployed: DeployResult, local_cluster: Cluster,
) -> None:
    """Each pyinfra output mode, with a freshly rotated key that the run must write (or plan to write)."""
    old = local_cluster.secrets.read()
    local_cluster.secrets.rotate(["tabby_admin_key"])
    new = local_cluster.secrets.read()["tabby_admin_key"]
    try:
        proc = raw_ai_deploy(local_cluster, *mode)
        output = proc.stdout + proc.stderr
        assert proc.returncode == 0, f"{mode}: {proc.stderr[-2000:]}"
        if mode not in (["--debug-facts"], ["--dry"]):  # those print facts / no line per operation
            assert "secret file tabby_admin_key" in output  # the operation carrying the value was planned
        leaked = [n for n, v in {**old, "new tabby_admin_key": new}.items() if v in output]
        assert leaked == [], f"{mode}: values of {leaked} appear in pyinfra output"
    finally:
        assert raw_ai_deploy(local_cluster).returncode == 0  # the rotated key rolled out either way


def test_a_failing_secret_operation_shows_no_value(secrets_deployed: DeployResult, local_cluster: Cluster,
                                                   deploy: Callable[..., DeployResult], tmp_path: Path) -> None:
    """The secret op itself fails (an owner the host does not have): its error output carries no value."""
    local_cluster.secrets.rotate(["tabby_api_key"])
    values = local_cluster.secrets.read()
    bad = ('secret_files = [{"secret": "tabby_api_key", "owner": "nosuchuser", "group": "root"},\n'
           '                {"secret": "tabby_admin_key", "owner": "root", "group": "root"}]\n')
    result = deploy(bad, tmp_path, target="deploys/ai.py", group="ai", limit="hydra-ai",
                    extra=["--diff", "-vvv", "--debug"])
    output = result.stdout + result.stderr
    assert not result.ok and "secret file tabby_api_key" in output and "nosuchuser" in output
    assert [n for n, v in values.items() if v in output] == []
    assert deploy(target="deploys/ai.py", limit="hydra-ai").ok
