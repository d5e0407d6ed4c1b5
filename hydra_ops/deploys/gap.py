"""One gap's bundle on the hosts of its group: `pyinfra INVENTORY deploys/gap.py --data hydra_gap=G1`.

`hydra fix G1` runs this; the gap id is looked up in hydra_ops/registry.yaml.
"""

from pyinfra import host

from hydra_ops.config import host_config
from hydra_ops.platform import preflight
from hydra_ops.registry import gap

_gap = gap(str(host.data.get("hydra_gap") or ""))
if not _gap.implemented:
    raise SystemExit(f"{_gap.id} has no bundle yet ({_gap.tracked_in})")
if _gap.fixes == "all" or _gap.fixes in host.groups:
    host_config()  # every option of the host checked, once, before any fact or operation
    preflight(_gap.id)
    _gap.load("bundle")()
