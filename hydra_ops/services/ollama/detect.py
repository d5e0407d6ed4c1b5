"""G1 on a live host, read-only: every configured instance runs, is enabled and is pinned to an existing GPU;
nvidia-smi lists the expected number of GPUs; the audit's single instance neither runs nor starts at boot."""

from __future__ import annotations

from pyinfra.api import Host

from hydra_ops.detectors import CLOSED, OPEN, UNKNOWN, Finding, gpu_count, running
from hydra_ops.facts.gpus import NvidiaGpus
from hydra_ops.facts.systemd_units import SystemdUnitState, UnitEnvironment
from hydra_ops.services.ollama.options import OllamaOptions
from hydra_ops.settings import load
from hydra_ops.validation import ValidationError


def detect(host: Host) -> Finding:
    """Open, closed or unknown (group data that does not validate), with the evidence for it."""
    try:
        o = load(OllamaOptions, host.data.dict(), host.name)
    except ValidationError as exc:
        return Finding(UNKNOWN, [str(exc)])
    listed = host.get_fact(NvidiaGpus)
    closed, line = gpu_count(listed, host.data.get("expected_gpu_count"))
    evidence, gpus = [line], {g["index"]: g for g in listed}
    for inst in o.instances:
        state = host.get_fact(SystemdUnitState, unit=inst.unit)
        pinned = host.get_fact(UnitEnvironment, unit=inst.unit).get("CUDA_VISIBLE_DEVICES") == str(inst.gpu)
        ok = running(state) and pinned and inst.gpu in gpus
        closed &= ok
        evidence.append(f"{inst.unit}: {state.get('ActiveState', '?')}/{state.get('UnitFileState', '?')}, "
                        f"GPU {inst.gpu} {'pinned' if pinned else 'NOT pinned'}"
                        f"{'' if inst.gpu in gpus else ' (GPU missing)'}")
    legacy = host.get_fact(SystemdUnitState, unit=o.ollama_legacy_unit)
    if legacy.get("LoadState") != "not-found":
        retired = legacy.get("ActiveState") != "active" and legacy.get("UnitFileState") != "enabled"
        closed &= retired
        evidence.append(f"{o.ollama_legacy_unit}: {legacy.get('ActiveState')}/{legacy.get('UnitFileState')}"
                        f"{'' if retired else ' (single instance still in service)'}")
    return Finding(CLOSED if closed else OPEN, evidence)
