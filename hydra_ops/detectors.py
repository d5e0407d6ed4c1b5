"""Gap detectors: read-only checks of a live host that say whether a gap is open, closed or unknown.

Each detector takes a connected pyinfra Host, reads facts only (nothing is changed) and returns a Finding with
the evidence an operator needs to believe it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pyinfra.api import Host
from pyinfra.facts.server import Command

from facts.gpus import NvidiaGpus
from facts.systemd_units import SystemdUnitState
from hydra_ops.validation import ValidationError

OPEN, CLOSED, UNKNOWN = "open", "closed", "unknown"


@dataclass
class Finding:
    status: str
    evidence: list[str] = field(default_factory=list)


def gpu_count(gpus: list[dict[str, Any]], expected: object) -> tuple[bool, str]:
    """(matches, evidence): nvidia-smi's GPU count against the host's expected_gpu_count (None: not checked),
    so a host with a card missing, dead or added is reported instead of passing on the GPUs it still has."""
    names = ", ".join(f"{g['index']}: {g['name']}" for g in gpus) or "none"
    if expected is None:
        return True, f"nvidia-smi: {len(gpus)} GPU(s) ({names}); expected_gpu_count not set"
    ok = len(gpus) == expected
    return ok, (f"nvidia-smi: {len(gpus)} GPU(s) ({names}), expected_gpu_count {expected}"
                f"{'' if ok else ' (GPU COUNT DIFFERS)'}")


def running(state: dict[str, str]) -> bool:
    """Active now and started at boot."""
    return state.get("ActiveState") == "active" and state.get("UnitFileState") == "enabled"


def secret_files(host: Host) -> Finding:
    """G3 (host side) is closed when every secret file the host should have exists, 0600, with its owner.
    The repository side is `hydra secrets check`."""
    from pyinfra.facts.files import File

    from hydra_ops.validation import validate_secrets

    try:
        cfg = validate_secrets(host.data.dict(), host.name)
    except ValidationError as exc:
        return Finding(UNKNOWN, [str(exc)])
    if not cfg.files:
        return Finding(CLOSED, ["no secret files configured for this host"])
    evidence, closed = [], True
    for item in cfg.files:
        stat = host.get_fact(File, path=f"{cfg.secret_dir}/{item['secret']}")
        ok = bool(stat) and stat.get("mode") == 600 and stat.get("user") == item["owner"]
        closed &= ok
        evidence.append(f"{item['secret']}: " + (f"{stat.get('mode')} {stat.get('user')}" if stat else "absent"))
    return Finding(CLOSED if closed else OPEN, evidence)


def tabbyapi(host: Host) -> Finding:
    """G10 (service part) is closed when tabbyapi.service runs, is enabled, has a prestart and restart limits,
    answers /health, and nvidia-smi lists expected_gpu_count GPUs."""
    gpus_ok, gpu_line = gpu_count(host.get_fact(NvidiaGpus), host.data.get("expected_gpu_count"))
    state = host.get_fact(SystemdUnitState, unit="tabbyapi.service")
    if state.get("LoadState") != "loaded":
        return Finding(OPEN, ["tabbyapi.service: not installed", gpu_line])
    burst = state.get("StartLimitBurst", "?")
    port = host.data.get("tabby_port", 5000)
    health = host.get_fact(Command, command=f"curl -s -o /dev/null -w '%{{http_code}}' "
                                            f"http://127.0.0.1:{port}/health || true") or ""
    has_prestart = "prestart" in state.get("ExecStartPre", "")
    evidence = [f"tabbyapi.service: {state.get('ActiveState')}/{state.get('UnitFileState')}",
                f"prestart: {'yes' if has_prestart else 'no'}; StartLimitBurst={burst}",
                f"/health: {health or 'no answer'}", gpu_line]
    closed = running(state) and has_prestart and health == "200" and gpus_ok
    return Finding(CLOSED if closed else OPEN, evidence)


def models(host: Host) -> Finding:
    """G11 is closed when every configured model was fetched completely (its marker matches the pinned files)."""
    import hashlib

    from hydra_ops.gaps.g11_models import manifest

    entries = host.data.get("tabby_models") or []
    if not entries or any(not m.get("files") for m in entries):
        return Finding(UNKNOWN, ["tabby_models lists no pinned files to check against"])
    evidence, closed = [], True
    for m in entries:
        want = hashlib.sha256(manifest(m).encode()).hexdigest()
        path = f"{host.data.get('tabby_model_dir')}/{m['dest']}/.hydra-fetched"
        have = host.get_fact(Command, command=f"cat {path} 2>/dev/null || true") or ""
        closed &= have == want
        evidence.append(f"{m['dest']}: {'complete' if have == want else 'missing or incomplete'}")
    return Finding(CLOSED if closed else OPEN, evidence)
