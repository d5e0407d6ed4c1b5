"""The local cluster's declared shape (hosts, network, flavours), read from cluster.yaml so every module shares it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from devcluster.local.network import Net

HERE = Path(__file__).resolve().parent
SPEC_FILE = HERE / "cluster.yaml"
#: Flavours of the local cluster: "default" (Debian hosts) and "seeds" (NixOS-shaped compute and ai, Unraid-shaped
#: storage, as the seeds describe the real hosts). Chosen by HYDRA_CLUSTER_FLAVOUR; each has its own spec, bridge
#: and state directory.
FLAVOURS = {"default": ("cluster.yaml", ".cluster"), "seeds": ("cluster-seeds.yaml", ".cluster-seeds"),
            "systems": ("cluster-systems.yaml", ".cluster-systems")}


@dataclass(frozen=True)
class HostSpec:
    """One local host as cluster.yaml declares it."""

    name: str
    group: str
    address: str
    gpus: list[dict[str, Any]] = field(default_factory=list)
    before: str | None = None
    docker: bool = False
    platform: str = "debian"
    #: Mount points that get a file system of their own (a directory of the cluster's bind-mounted there, e.g.
    #: hydra-ai's /mnt/models, the models disk of seed 002), so a check for "not on /" sees a real mount.
    disks: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Spec:
    net: Net
    artifact_port: int
    hosts: list[HostSpec]

    @property
    def artifact_base(self) -> str:
        return f"http://{self.net.gateway}:{self.artifact_port}"


def load_spec(path: Path = SPEC_FILE) -> Spec:
    raw = yaml.safe_load(path.read_text())
    n = raw["network"]
    hosts = [HostSpec(name=name, **h) for name, h in raw["hosts"].items()]
    return Spec(Net(n["bridge"], n["gateway"], int(n["prefix"])), int(n["artifact_port"]), hosts)
