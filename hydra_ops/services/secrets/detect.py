"""G3 on a live host, read-only: every secret file the host should have exists, 0600, with its owner.
The repository side is `hydra secrets check`."""

from __future__ import annotations

from pyinfra.api import Host
from pyinfra.facts.files import File

from hydra_ops.detectors import CLOSED, OPEN, UNKNOWN, Finding
from hydra_ops.services.secrets.options import options
from hydra_ops.validation import ValidationError


def detect(host: Host) -> Finding:
    """Open, closed or unknown (group data that does not validate), with the evidence for it."""
    try:
        o = options(host.data.dict(), host.name)
    except ValidationError as exc:
        return Finding(UNKNOWN, [str(exc)])
    if not o.secret_files:
        return Finding(CLOSED, ["no secret files configured for this host"])
    evidence, closed = [], True
    for item in o.secret_files:
        stat = host.get_fact(File, path=f"{o.secret_dir}/{item.secret}")
        ok = bool(stat) and stat.get("mode") == 600 and stat.get("user") == item.owner
        closed &= ok
        evidence.append(f"{item.secret}: " + (f"{stat.get('mode')} {stat.get('user')}" if stat else "absent"))
    return Finding(CLOSED if closed else OPEN, evidence)
