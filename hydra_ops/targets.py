"""Which cluster a command targets: the real one (default) or the local lab, read without connecting."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from pyinfra.api import Config, Inventory, State
from pyinfra.context import ctx_inventory, ctx_state
from pyinfra_cli.inventory import make_inventory

from hydra_ops import PROJECT_ROOT

CLUSTERS = ("local", "real")


class UnknownCluster(ValueError):
    """A cluster name that is neither local nor real (from --cluster or $HYDRA_CLUSTER)."""


def selected(cluster: str | None = None) -> str:
    """The cluster named, else $HYDRA_CLUSTER, else "real": the lab (local) is only ever chosen explicitly."""
    name = cluster or os.environ.get("HYDRA_CLUSTER") or "real"
    if name not in CLUSTERS:
        raise UnknownCluster(f"unknown cluster {name!r}: choose one of {', '.join(CLUSTERS)}")
    return name


def real_inventory() -> Path:
    """The operator's inventory: $HYDRA_INVENTORY (set by --inventory), else inventory.py in the current directory;
    its group_data/ is the folder beside it, as pyinfra reads it."""
    path = Path(os.environ.get("HYDRA_INVENTORY") or "inventory.py").expanduser().resolve()
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: run hydra in the folder holding your inventory.py and "
                                "group_data/, or pass --inventory PATH (env HYDRA_INVENTORY)")
    return path


def inventory_workdir(path: Path | str) -> Path:
    """The folder pyinfra runs in for an inventory: the checkout for one inside it (the lab's inventories there add
    their group_data/ to the checkout's), else the inventory's own folder with its group_data/."""
    path = Path(path).resolve()
    return PROJECT_ROOT if in_checkout() and path.is_relative_to(PROJECT_ROOT) else path.parent


def site_dir() -> Path:
    """The folder whose group_data/ the CLI reads and against which relative secrets paths resolve: the real
    inventory's (inventory_workdir), or a checkout's root when no inventory is in reach there."""
    try:
        return inventory_workdir(real_inventory())
    except FileNotFoundError:
        if in_checkout():
            return PROJECT_ROOT
        raise


def inventory_path(cluster: str | None = None) -> Path:
    if selected(cluster) == "real":
        return real_inventory()
    path = local_cluster().inventory
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: run `hydra cluster up` first")
    return path


def load_inventory(path: Path | str, group_data: list[str] | None = None) -> tuple[Inventory, State]:
    """Load an inventory and its group data exactly as the pyinfra CLI does, without connecting to anything."""
    state = State(check_for_changes=False)
    state.cwd = str(inventory_workdir(path))
    with ctx_state.use(state):
        inventory = make_inventory(str(path), cwd=state.cwd, group_data_directories=group_data)
    with ctx_inventory.use(inventory):
        state.init(inventory, Config())
    return inventory, state


@dataclass(frozen=True)
class Target:
    """One host as the smoke suite, the audit and the leak checks reach it."""

    name: str
    groups: tuple[str, ...]
    address: str
    data: dict[str, Any]
    testinfra_url: str
    ssh_config: str = ""

    @property
    def sudo(self) -> bool:
        """A non-root login that reaches root through passwordless sudo (inventory data `_sudo`)."""
        return bool(self.data.get("_sudo"))


@dataclass(frozen=True)
class SshSpec:
    """How OpenSSH reaches one real host: the inventory data pyinfra connects with (inventory.py's `_ssh`),
    with host keys checked against known_hosts and no prompt ever (BatchMode), so every tool connects alike."""

    alias: str
    hostname: str
    user: str
    port: int
    key: str | None
    known_hosts: str

    @classmethod
    def from_data(cls, name: str, data: dict[str, Any]) -> SshSpec:
        """Read ssh_hostname/user/port/key/known_hosts_file; refuse anything but strict host key checking."""
        strict = str(data.get("ssh_strict_host_key_checking", "yes"))
        if strict != "yes":
            raise ValueError(f"{name}: ssh_strict_host_key_checking is {strict!r}; hydra-ops only connects with 'yes'")
        key = data.get("ssh_key")
        return cls(name, str(data.get("ssh_hostname") or name), str(data.get("ssh_user") or "root"),
                   int(data.get("ssh_port") or 22), os.path.expanduser(str(key)) if key else None,
                   os.path.expanduser(str(data.get("ssh_known_hosts_file") or "~/.ssh/known_hosts")))

    def config_block(self, control_dir: Path) -> str:
        """This host's `Host` block for an ssh_config file (what `ssh -F`, testinfra and the leak checks read)."""
        lines = [f"Host {_word(self.alias)}", f"  HostName {_word(self.hostname)}", f"  User {_word(self.user)}",
                 f"  Port {self.port}", "  BatchMode yes", "  StrictHostKeyChecking yes",
                 f"  UserKnownHostsFile {_word(self.known_hosts, path=True)}"]
        if self.key:
            lines += [f"  IdentityFile {_word(self.key, path=True)}", "  IdentitiesOnly yes"]
        lines += ["  ControlMaster auto", f"  ControlPath {_word(str(control_dir), path=True)}/%C",
                  "  ControlPersist 60s", "  ConnectTimeout 10"]
        return "\n".join(lines) + "\n"


def _word(value: str, path: bool = False) -> str:
    """One ssh_config argument: quoted when it has spaces, % escaped in paths (ssh expands %-tokens there)."""
    if any(c in value for c in '"\n\r'):
        raise ValueError(f"cannot put {value!r} in an ssh_config file")
    value = value.replace("%", "%%") if path else value
    return f'"{value}"' if any(c.isspace() for c in value) else value


def real_ssh_dir() -> Path:
    """Where the real cluster's generated ssh_config and control sockets live (outside the repository)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(base) / "hydra-ops" / "real"


def write_ssh_config(specs: list[SshSpec], folder: Path | None = None) -> Path:
    """Write (0600) the ssh_config for these hosts and return its path; rewritten on every use, never edited."""
    folder = folder or real_ssh_dir()
    control = folder / "cm"
    control.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / "ssh_config"
    text = "# Written by hydra-ops from inventory.py's host data on every run; do not edit.\n\n"
    text += "\n".join(spec.config_block(control) for spec in specs)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.unlink(missing_ok=True)
    tmp.touch(mode=0o600)
    tmp.write_text(text)
    tmp.replace(path)
    return path


def targets(cluster: str | None = None) -> list[Target]:
    """Every host of the selected cluster with its address, data and testinfra connection URL (no connection)."""
    name = selected(cluster)
    inventory, _ = load_inventory(inventory_path(name))
    hosts = [(host, host.data.dict()) for host in inventory]
    if name == "local":
        ssh_config = str(local_cluster().ssh_config)
    else:
        ssh_config = str(write_ssh_config([SshSpec.from_data(host.name, data) for host, data in hosts]))
    return [Target(host.name, tuple(host.groups), data.get("ssh_hostname") or host.name, data,
                   f"ssh://{host.name}?ssh_config={quote(ssh_config)}" + ("&sudo=true" if data.get("_sudo") else ""),
                   ssh_config) for host, data in hosts]


def ssh_command(target: Target, cluster: str | None = None) -> list[str]:
    """The ssh argv that reaches a target (for commands that need stdin, e.g. searching for secret values)."""
    if selected(cluster) == "local":
        return local_cluster().ssh_argv(target.name)
    # through sudo the remote command must be one word for `sh -c` (hydra_ops.leaks quotes it)
    return ["ssh", "-F", target.ssh_config, target.name, *(["sudo", "-n", "sh", "-c"] if target.sudo else [])]


def in_checkout() -> bool:
    """Whether hydra_ops runs from a checkout (devcluster/, the lab, beside the package) rather than an install."""
    return (PROJECT_ROOT / "devcluster" / "local").is_dir()


def lab_checkout() -> Path:
    """The checkout the lab runs from; an installed package has no lab."""
    if not in_checkout():
        raise FileNotFoundError("the local cluster (--cluster local) runs from a checkout of hydra-ops only; "
                                "an installed hydra targets the real inventory")
    return PROJECT_ROOT


def local_cluster():
    """The local cluster of the selected flavour. devcluster is not part of the package: it is imported from the
    checkout, by this process and by the lab's own child processes (`python -m devcluster...`)."""
    checkout = str(lab_checkout())
    if checkout not in sys.path:
        sys.path.append(checkout)
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if checkout not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([*paths, checkout])
    from devcluster.local.cluster import Cluster

    return Cluster()
