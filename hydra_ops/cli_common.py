"""Pieces shared by the `hydra` command modules (the --cluster option, the local cluster), apart to avoid cycles."""

from __future__ import annotations

import click

cluster_option = click.option(
    "--cluster", "cluster_name", type=click.Choice(["local", "real"]), default=None,
    help="Target cluster: local (default, the nspawn hosts) or real (inventory.py). Env: HYDRA_CLUSTER.",
)


def local_cluster():
    """The local cluster of the selected flavour."""
    from devcluster.local.cluster import Cluster

    return Cluster()
