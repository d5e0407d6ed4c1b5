"""`hydra`: bring up the local cluster, deploy, audit, fix and verify gaps."""

from __future__ import annotations

import sys

import click

from hydra_ops.local.cluster import Cluster


@click.group()
def main() -> None:
    """hydra-ops: close the Hydra audit's gaps with pyinfra and prove it with testinfra."""


@main.group()
def cluster() -> None:
    """The local three-host cluster (systemd-nspawn in network namespaces)."""


@cluster.command()
def up() -> None:
    """Boot hydra-ai, hydra-compute and hydra-storage (idempotent) and write .cluster/inventory.py."""
    c = Cluster()
    c.up(log=click.echo)
    click.echo(f"inventory: {c.inventory}\nssh config: {c.ssh_config}")


@cluster.command()
def down() -> None:
    """Stop every local host and remove everything `up` made."""
    left = Cluster().down(log=click.echo)
    if left:
        click.echo("left behind: " + ", ".join(left), err=True)
        sys.exit(1)
    click.echo("local cluster removed")


@cluster.command()
def status() -> None:
    """Show each local host, its address, its nspawn process and systemd's state."""
    for row in Cluster().status():
        state = "running" if row["running"] else "stopped"
        click.echo(f"{row['host']:<15} {row['group']:<8} {row['address']:<13} {state:<8} {row['systemd']}")
