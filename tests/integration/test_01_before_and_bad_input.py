"""hydra-compute starts as the audit found it; bad group data is refused before anything changes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from devcluster.local.cluster import Cluster
from hydra_ops.audit import audit
from hydra_ops.runner import DeployResult
from tests.integration.conftest import COMPUTE, snapshot

ADDR = "10.213.7.11"


def test_compute_starts_in_the_audit_state(compute_before: Cluster) -> None:
    assert compute_before.ssh(COMPUTE, "systemctl is-active ollama.service").stdout.strip() == "active"
    assert requests.get(f"http://{ADDR}:11434/api/version", timeout=10).ok
    for port in (11435, 11400):
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://{ADDR}:{port}/api/version", timeout=5)
    found = {(r.gap, r.status) for r in audit(compute_before.inventory, ["G1", "G2"])}
    assert found == {("G1", "open"), ("G2", "open")}


@pytest.mark.parametrize(("overrides", "message"), [
    ('ollama_instances = [{"gpu": 0, "port": 11434}, {"gpu": 1, "port": 11434}]', "port 11434 is used twice"),
    ('ollama_instances = [{"gpu": 0, "port": 11434}, {"gpu": 7, "port": 11435}]',
     "GPU 7 (port 11435) does not exist on hydra-compute"),
    ('ollama_instances = [{"gpu": 0, "port": 11434}, {"gpu": 1, "port": 65536}]',
     "ollama_instances[1].port: 65536: input should be less than or equal to 65535"),
    ('lb_method = "fastest"', "lb_method: 'fastest': input should be 'least_conn', 'round_robin' or 'ip_hash'"),
    ('ollama_release_url = "https://h/x?a=\';id;\'"',
     "ollama_release_url: \"https://h/x?a=';id;'\" is not an http(s) URL"),
    ('ollama_num_paralel = 2', "ollama_num_paralel: unknown setting; did you mean ollama_num_parallel?"),
])
def test_bad_group_data_is_refused_and_touches_no_host(
    compute_before: Cluster, deploy: Callable[..., DeployResult], tmp_path: Path, overrides: str, message: str,
) -> None:
    before = {h.name: snapshot(compute_before, h.name) for h in compute_before.spec.hosts}
    result = deploy(overrides, tmp_path)
    output = result.stdout + result.stderr
    assert not result.ok
    assert message in output and "nothing was changed" in output
    assert result.changed == []
    assert {h.name: snapshot(compute_before, h.name) for h in compute_before.spec.hosts} == before


def test_a_login_account_is_never_made_a_service_user(
    compute_before: Cluster, deploy: Callable[..., DeployResult], tmp_path: Path,
) -> None:
    """ollama_user naming someone's login: refused on the host's own passwd entry, before any change (the deploy
    would have set its shell to nologin and locked its owner out)."""
    compute_before.ssh(COMPUTE, "useradd --create-home --shell /bin/bash operator1")
    try:
        before = {h.name: snapshot(compute_before, h.name) for h in compute_before.spec.hosts}
        result = deploy('ollama_user = "operator1"', tmp_path)
        output = result.stdout + result.stderr
        assert not result.ok
        assert "ollama_user: 'operator1' is a login account here" in output and "nothing was changed" in output
        assert result.changed == []
        assert {h.name: snapshot(compute_before, h.name) for h in compute_before.spec.hosts} == before
        assert compute_before.ssh(COMPUTE, "getent passwd operator1").stdout.strip().endswith(":/bin/bash")
    finally:
        compute_before.ssh(COMPUTE, "userdel --remove operator1")
