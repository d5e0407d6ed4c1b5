"""`up` then `down` of a separate one-host cluster leaves no process, namespace, veth, bridge or NAT rule."""

from __future__ import annotations

from pathlib import Path

from devcluster.local.cluster import Cluster, HostSpec, Spec
from devcluster.local.network import Net, leftovers
from devcluster.local.procs import nspawn_pids


def test_up_status_down_leaves_nothing_behind(tmp_path: Path) -> None:
    # a subnet and artifact port of its own: the three flavours' clusters may be up beside it (scripts/test.sh)
    spec = Spec(Net("hydrabrT", "10.213.99.1", 24), 8899, [HostSpec("hydra-probe", "compute", "10.213.99.20")])
    cluster = Cluster(state_dir=tmp_path / "probe", spec=spec)
    try:
        cluster.up(log=lambda *_: None)
        rows = cluster.status()
        assert [(r["host"], r["running"], r["systemd"]) for r in rows] == [("hydra-probe", True, "running")]
        assert cluster.ssh("hydra-probe", "hostname").stdout.strip() == "hydra-probe"
        assert cluster.ssh("hydra-probe", "nvidia-smi", check=False).returncode != 0  # a GPU-less host
    finally:
        left = cluster.down(log=lambda *_: None)
    assert left == []
    assert leftovers(spec.net, ["hydra-probe"]) == []
    assert nspawn_pids(cluster.dir) == []
    assert not cluster.machine_dir("hydra-probe").exists()
