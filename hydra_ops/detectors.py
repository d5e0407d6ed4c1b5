"""Gap detectors: read-only checks of a live host that say whether a gap is open, closed or unknown.

Each detector takes a connected pyinfra Host, reads facts only (nothing is changed) and returns a Finding with
the evidence an operator needs to believe it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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
