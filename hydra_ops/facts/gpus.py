"""GPU facts read from nvidia-smi (the real one, or the local cluster's fake that prints the same format)."""

from __future__ import annotations

from typing import Any

from pyinfra.api import FactBase

QUERY = "index,uuid,name,memory.total,memory.free,pci.bus_id"


class NvidiaGpus(FactBase[list[dict[str, Any]]]):
    """GPUs by nvidia-smi index: ``[{"index": 0, "uuid": "GPU-..", "name": .., "memory_total_mib": ..,
    "memory_free_mib": .., "bus_id": ..}]``; an empty list when nvidia-smi is absent."""

    def requires_command(self) -> str:
        return "nvidia-smi"

    def command(self) -> str:
        return f"nvidia-smi --query-gpu={QUERY} --format=csv,noheader,nounits"

    def default(self) -> list[dict[str, Any]]:
        return []

    def process(self, output: list[str]) -> list[dict[str, Any]]:
        return parse_gpu_csv(output)


def parse_gpu_csv(lines: list[str]) -> list[dict[str, Any]]:
    """Parse nvidia-smi's `--format=csv,noheader,nounits` rows for QUERY's fields."""
    gpus = []
    for line in lines:
        if not line.strip():
            continue
        index, uuid, name, total, free, bus = (f.strip() for f in line.split(","))
        gpus.append({"index": int(index), "uuid": uuid, "name": name, "memory_total_mib": int(total),
                     "memory_free_mib": int(free), "bus_id": bus})
    return gpus
