"""`hydra cluster up|down|status|reset|reboot`: the local cluster's lifecycle, registered on `hydra` by cli.py."""

from __future__ import annotations

import os
import sys

import click

from hydra_ops.cli_common import local_cluster


@click.group()
@click.option("--flavour", type=click.Choice(["default", "seeds", "systems"]), default=None,
              help="default: Debian hosts; seeds: NixOS-shaped hydra-ai/hydra-compute and an Unraid-shaped "
                   "hydra-storage, as the seeds describe them. "
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


def _host(name: str) -> str:
    names = [h.name for h in local_cluster().spec.hosts]
    if name not in names:
        raise click.BadParameter(f"{name!r} is not a host of this cluster ({', '.join(names)})")
    return name


@cluster.command()
@click.argument("host")
def reset(host: str) -> None:
    """Rebuild HOST from its image into the audit's before state (its disk is thrown away)."""
    local_cluster().reset(_host(host), log=click.echo)


@cluster.command()
@click.argument("host")
def reboot(host: str) -> None:
    """Power HOST off and boot it again: its disk stays, what lives in RAM goes (Unraid shape: /opt, /etc/hydra)."""
    local_cluster().reboot(_host(host), log=click.echo)
