"""Smoke-suite fixtures: the compute hosts of the selected cluster and testinfra connections to them."""

from __future__ import annotations

from typing import Any

import pytest
import testinfra

from hydra_ops.services import Compute
from hydra_ops.services import compute as validate_compute
from hydra_ops.targets import Target, local_cluster, selected, targets


@pytest.fixture(scope="session")
def cluster_name(request: pytest.FixtureRequest) -> str:
    """The cluster checked: --hydra-cluster (a checkout's tests/conftest.py adds it), else $HYDRA_CLUSTER (set by
    `hydra verify`), else real; the lab is booted if it is not up (`up` is idempotent)."""
    name = selected(request.config.getoption("--hydra-cluster", default=None))
    if name == "local":
        local_cluster().up(log=lambda *_: None)
    return name


@pytest.fixture(scope="session")
def compute(cluster_name: str) -> list[tuple[Target, Compute, Any]]:
    """(target, validated config, testinfra host) for every host in the compute group."""
    out = []
    for target in targets(cluster_name):
        if "compute" in target.groups:
            out.append((target, validate_compute(target.data, target.name), testinfra.get_host(target.testinfra_url)))
    assert out, f"no compute host in the {cluster_name} inventory"
    return out


def unit_state(host: Any, unit: str) -> dict[str, str]:
    """systemctl show properties (is_enabled/exists in testinfra misread static units and prefixes)."""
    out = host.check_output(f"systemctl show --no-pager -p LoadState,ActiveState,SubState,UnitFileState,"
                            f"MainPID,InvocationID -- {unit}")
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
