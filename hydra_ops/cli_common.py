"""Pieces shared by the `hydra` command modules (the --cluster option, the local cluster), apart to avoid cycles."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import click


def _inventory(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    """--inventory PATH: exported as HYDRA_INVENTORY, so pyinfra, pytest and the library all read the same file."""
    if value:
        os.environ["HYDRA_INVENTORY"] = os.path.abspath(value)


def cluster_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """--cluster (real by default; the lab only when chosen) and --inventory for a command that targets a cluster."""
    command = click.option(
        "--inventory", type=click.Path(dir_okay=False), expose_value=False, callback=_inventory, is_eager=True,
        help="The real cluster's inventory.py (its group_data/ beside it). Default: ./inventory.py. "
             "Env: HYDRA_INVENTORY.",
    )(command)
    return click.option(
        "--cluster", "cluster_name", type=click.Choice(["local", "real"]), default=None,
        help="Target cluster: real (default, the inventory) or local (the lab's nspawn hosts, from a checkout). "
             "Env: HYDRA_CLUSTER.",
    )(command)


def local_cluster():
    """The local cluster of the selected flavour (only in a checkout)."""
    from hydra_ops.targets import local_cluster as lab

    return lab()
