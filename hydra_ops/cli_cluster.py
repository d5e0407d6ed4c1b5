"""`hydra cluster up|down|status`: the local three-host cluster's lifecycle, registered on `hydra` by cli.py."""

from __future__ import annotations

import os
import sys

import click

from hydra_ops.cli_common import local_cluster


@click.group()
@click.option("--flavour", type=click.Choice(["default", "seeds"]), default=None,
              help="default: Debian hosts; seeds: NixOS-shaped hydra-ai/hydra-compute as the seeds describe them. "
                   "Env: HYDRA_CLUSTER_FLAVOUR (other hydra commands and the tests read it too).")
def cluster(flavour: str | None) -> None:
    """The local three-host cluster (systemd-nspawn in network namespaces)."""
    if flavour:
        os.environ["HYDRA_CLUSTER_FLAVOUR"] = flavour


@cluster.command()
def up() -> None:
    """Boot hydra-ai, hydra-compute and hydra-storage (idempotent) and write .cluster/inventory.py."""
    c = local_cluster()
    c.up(log=click.echo)
    click.echo(f"inventory: {c.inventory}\nssh config: {c.ssh_config}")


@cluster.command()
def down() -> None:
    """Stop every local host and remove everything `up` made."""
    left = local_cluster().down(log=click.echo)
    if left:
        click.echo("left behind: " + ", ".join(left), err=True)
        sys.exit(1)
    click.echo("local cluster removed")


@cluster.command()
def status() -> None:
    """Show each local host, its address, its nspawn process and systemd's state."""
    for row in local_cluster().status():
        state = "running" if row["running"] else "stopped"
        click.echo(f"{row['host']:<15} {row['group']:<8} {row['address']:<13} {state:<8} {row['systemd']}")
