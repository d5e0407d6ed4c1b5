"""Issue 12, real-cluster readiness: GPU counts against expected_gpu_count in the audit. Connects to no host."""

from __future__ import annotations

import runpy
from typing import Any

import pytest

from hydra_ops import PROJECT_ROOT

# -- 6. expected_gpu_count -------------------------------------------------------------------------------------------
GPUS = [{"index": 0, "name": "NVIDIA GeForce RTX 5090"}, {"index": 1, "name": "NVIDIA GeForce RTX 4090"}]


def test_gpu_count_is_compared_with_expected_gpu_count() -> None:
    from hydra_ops.detectors import gpu_count

    assert gpu_count(GPUS, 2) == (True, "nvidia-smi: 2 GPU(s) (0: NVIDIA GeForce RTX 5090, 1: NVIDIA GeForce RTX "
                                        "4090), expected_gpu_count 2")
    ok, line = gpu_count(GPUS[:1], 2)
    assert not ok and line.endswith("expected_gpu_count 2 (GPU COUNT DIFFERS)")
    assert gpu_count([], 0)[0] and not gpu_count(GPUS, 0)[0]
    assert gpu_count(GPUS, None) == (True, "nvidia-smi: 2 GPU(s) (0: NVIDIA GeForce RTX 5090, 1: NVIDIA GeForce "
                                           "RTX 4090); expected_gpu_count not set")


class _Host:
    """Just enough of a pyinfra Host for a detector: canned facts and host data."""

    name = "hydra-ai"

    def __init__(self, data: dict[str, Any], gpus: list[dict[str, Any]]) -> None:
        self.data, self.gpus = _Data(data), gpus

    def get_fact(self, fact: type, **kwargs: Any) -> Any:
        from hydra_ops.facts.gpus import NvidiaGpus
        from hydra_ops.facts.systemd_units import SystemdUnitState

        if fact is NvidiaGpus:
            return self.gpus
        if fact is SystemdUnitState:
            return {"LoadState": "loaded", "ActiveState": "active", "UnitFileState": "enabled",
                    "StartLimitBurst": "5", "ExecStartPre": "/usr/local/lib/hydra-ops/tabbyapi-prestart.sh"}
        return "200"


class _Data(dict):
    def dict(self) -> dict[str, Any]:
        return dict(self)


@pytest.mark.parametrize(("gpus", "status"), [(GPUS, "closed"), (GPUS[:1], "open")])
def test_g10_detector_reports_a_host_whose_gpu_count_differs(gpus: list[dict[str, Any]], status: str) -> None:
    from hydra_ops.services.tabbyapi.detect import detect as tabbyapi

    data = runpy.run_path(str(PROJECT_ROOT / "group_data" / "ai.py"))
    finding = tabbyapi(_Host({"tabby_port": 5000, "expected_gpu_count": data["expected_gpu_count"]}, gpus))
    assert finding.status == status
    assert any(line.startswith(f"nvidia-smi: {len(gpus)} GPU(s)") for line in finding.evidence)


@pytest.mark.parametrize("gpus", [GPUS, [*GPUS, {"index": 2, "name": "NVIDIA GeForce RTX 5070 Ti"}], GPUS[:1]])
def test_g1_detector_reports_a_host_whose_gpu_count_differs(compute_data: dict[str, Any],
                                                           gpus: list[dict[str, Any]]) -> None:
    from hydra_ops.registry import gap

    class Compute(_Host):
        name = "hydra-compute"

        def get_fact(self, fact: type, **kwargs: Any) -> Any:
            from hydra_ops.facts.gpus import NvidiaGpus
            from hydra_ops.facts.systemd_units import SystemdUnitState

            if fact in (NvidiaGpus, SystemdUnitState):
                return super().get_fact(fact, **kwargs)
            return "" if "command" in kwargs else {}  # anything else the detector reads: empty

    assert compute_data["expected_gpu_count"] == 2
    finding = gap("G1").load("detector")(Compute(compute_data, gpus))
    differs = len(gpus) != 2
    assert finding.evidence[0] == gpu_count_line(gpus, 2)
    assert ("GPU COUNT DIFFERS" in finding.evidence[0]) is differs and (finding.status == "open" or not differs)


def gpu_count_line(gpus: list[dict[str, Any]], expected: int) -> str:
    from hydra_ops.detectors import gpu_count

    return gpu_count(gpus, expected)[1]
