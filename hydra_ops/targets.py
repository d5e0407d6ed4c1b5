"""Which cluster a command targets: the local one (default) or the real one, read without connecting."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyinfra.api import Config, Inventory, State
from pyinfra.context import ctx_inventory, ctx_state
from pyinfra_cli.inventory import make_inventory

from hydra_ops import PROJECT_ROOT
from hydra_ops.local.cluster import Cluster

CLUSTERS = ("local", "real")


def selected(cluster: str | None = None) -> str:
    """The cluster named, else $HYDRA_CLUSTER, else "local" (the embedded default)."""
    name = cluster or os.environ.get("HYDRA_CLUSTER") or "local"
    if name not in CLUSTERS:
        raise ValueError(f"unknown cluster {name!r}: choose one of {', '.join(CLUSTERS)}")
    return name


def inventory_path(cluster: str | None = None) -> Path:
    if selected(cluster) == "real":
        return PROJECT_ROOT / "inventory.py"
    path = Cluster().inventory
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: run `hydra cluster up` first")
    return path


def load_inventory(path: Path | str, group_data: list[str] | None = None) -> tuple[Inventory, State]:
    """Load an inventory and its group data exactly as the pyinfra CLI does, without connecting to anything."""
    state = State(check_for_changes=False)
    state.cwd = str(PROJECT_ROOT)
    with ctx_state.use(state):
        inventory = make_inventory(str(path), cwd=str(PROJECT_ROOT), group_data_directories=group_data)
    with ctx_inventory.use(inventory):
        state.init(inventory, Config())
    return inventory, state


@dataclass(frozen=True)
class Target:
    """One host as the smoke suite and the audit reach it."""

    name: str
    groups: tuple[str, ...]
    address: str
    data: dict[str, Any]
    testinfra_url: str


def targets(cluster: str | None = None) -> list[Target]:
    """Every host of the selected cluster with its address, data and testinfra connection URL."""
    name = selected(cluster)
    inventory, _ = load_inventory(inventory_path(name))
    ssh_config = Cluster().ssh_config if name == "local" else os.environ.get("HYDRA_SSH_CONFIG")
    out = []
    for host in inventory:
        data = host.data.dict()
        address = data.get("ssh_hostname") or host.name
        if name == "local":
            url = f"ssh://{host.name}"
        else:
            url = f"ssh://{data.get('ssh_user', 'root')}@{address}:{data.get('ssh_port', 22)}"
        if ssh_config:
            url += f"?ssh_config={ssh_config}"
        groups = tuple(host.groups)
        out.append(Target(host.name, groups, address, data, url))
    return out


def ssh_command(target: Target, cluster: str | None = None) -> list[str]:
    """The ssh argv that reaches a target (for commands that need stdin, e.g. searching for secret values)."""
    if selected(cluster) == "local":
        return Cluster().ssh_argv(target.name)
    cmd = ["ssh", "-o", "BatchMode=yes", "-p", str(target.data.get("ssh_port", 22))]
    if os.environ.get("HYDRA_SSH_CONFIG"):
        cmd += ["-F", os.environ["HYDRA_SSH_CONFIG"]]
    if target.data.get("ssh_key"):
        cmd += ["-i", str(target.data["ssh_key"])]
    return [*cmd, f"{target.data.get('ssh_user', 'root')}@{target.address}"]
