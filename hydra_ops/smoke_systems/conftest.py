"""Smoke fixtures for the seeds' two other systems: the SOLLOL nodes and gateway, the spark hosts and Traefik."""

from __future__ import annotations

from typing import Any, NamedTuple

import pytest
import testinfra

from hydra_ops.services.sollol import inventory_nodes, sollol
from hydra_ops.services.sollol.options import SollolOptions
from hydra_ops.services.spark.options import Member, cluster
from hydra_ops.targets import inventory_path, load_inventory, targets

from ..smoke.conftest import cluster_name  # noqa: F401  (the same cluster switch as the Hydra smoke suite)


class Sollol(NamedTuple):
    options: SollolOptions
    gateway: str                       # http://address:port of the gateway
    endpoints: dict[str, str]          # node name -> "address:port" of its Ollama
    hosts: dict[str, Any]              # node name -> testinfra host


@pytest.fixture(scope="session")
def sollol_cluster(cluster_name: str) -> Sollol:  # noqa: F811
    """The SOLLOL nodes of the selected cluster, validated as the deploy validates them."""
    inventory, _ = load_inventory(inventory_path(cluster_name))
    nodes = inventory_nodes(inventory)
    assert nodes, f"no host of group sollol in the {cluster_name} inventory"
    picked = [t for t in targets(cluster_name) if "sollol" in t.groups]
    o = sollol(picked[0].data, picked[0].name, nodes)
    gateway = f"http://{nodes[o.sollol_gateway_host][0]}:{o.sollol_port}"
    return Sollol(o, gateway, {n: f"{a}:{p}" for n, (a, p) in nodes.items()},
                  {t.name: testinfra.get_host(t.testinfra_url) for t in picked})


class Spark(NamedTuple):
    members: list[Member]
    hosts: dict[str, Any]              # spark host name -> testinfra host

    @property
    def traefik(self) -> Member:
        return next(m for m in self.members if m.name == self.members[0].options.traefik_host)


@pytest.fixture(scope="session")
def spark_cluster(cluster_name: str) -> Spark:  # noqa: F811
    """The spark hosts of the selected cluster, validated together as the deploy validates them."""
    picked = [t for t in targets(cluster_name) if "spark" in t.groups]
    assert picked, f"no host of group spark in the {cluster_name} inventory"
    members = cluster([(t.name, t.data) for t in picked], picked[0].name)
    return Spark(members, {t.name: testinfra.get_host(t.testinfra_url) for t in picked})
