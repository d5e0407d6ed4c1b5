"""G10 on a live host, read-only: tabbyapi.service is hydra-ops' (its prestart, not an operator's own unit such as
seed 002's), runs, is enabled, has restart limits, answers /health, and nvidia-smi lists expected_gpu_count GPUs."""

from __future__ import annotations

import re

from pyinfra.api import Host
from pyinfra.facts.server import Command

from hydra_ops.detectors import CLOSED, OPEN, UNKNOWN, Finding, gpu_count, running
from hydra_ops.facts.gpus import NvidiaGpus
from hydra_ops.facts.systemd_units import SystemdUnitState
from hydra_ops.platform import PlatformOptions
from hydra_ops.services.tabbyapi.options import setting
from hydra_ops.services.tabbyapi.state import UNIT, prestart_path
from hydra_ops.settings import load
from hydra_ops.validation import ValidationError


def detect(host: Host) -> Finding:
    """Open, closed or unknown (group data that does not validate), with the evidence for it."""
    data = host.data.dict()
    try:
        platform = load(PlatformOptions, data, host.name)
        expected = platform.expected_gpu_count
        port = setting(data, "tabby_port", host.name)
    except ValidationError as exc:
        return Finding(UNKNOWN, [str(exc)])
    gpus_ok, gpu_line = gpu_count(host.get_fact(NvidiaGpus), expected)
    state = host.get_fact(SystemdUnitState, unit=UNIT)
    if state.get("LoadState") != "loaded":
        return Finding(OPEN, [f"{UNIT}: not installed", gpu_line])
    burst = state.get("StartLimitBurst", "?")
    health = host.get_fact(Command, command=f"curl -s -o /dev/null -w '%{{http_code}}' "
                                            f"http://127.0.0.1:{port}/health || true") or ""
    ours = re.search(rf"(?<![\w/.-]){re.escape(prestart_path(platform.hydra_lib_dir, UNIT))}(?![\w/.-])",
                     state.get("ExecStartPre", "")) is not None
    evidence = [f"{UNIT}: {state.get('ActiveState')}/{state.get('UnitFileState')}",
                f"hydra-ops' prestart: {'yes' if ours else 'no (not hydra-ops unit)'}; StartLimitBurst={burst}",
                f"/health: {health or 'no answer'}", gpu_line]
    closed = running(state) and ours and health == "200" and gpus_ok
    return Finding(CLOSED if closed else OPEN, evidence)
