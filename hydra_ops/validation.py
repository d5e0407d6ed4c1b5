"""The error every group-data check raises (each service's options load through hydra_ops.settings), and the
check of configured GPUs against the ones a host shows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pyinfra.api.exceptions import PyinfraError


class ValidationError(PyinfraError):
    """Group data that cannot be deployed; the message lists every problem found."""

    def __init__(self, host: str, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid group data for {host} (nothing was changed):\n{lines}")


@dataclass(frozen=True)
class Settings:
    """A host's validated group data (attribute access to every key), plus derived Ollama instances for compute."""

    data: Mapping[str, Any]
    instances: tuple[Any, ...] = ()

    def __getattr__(self, name: str) -> Any:
        return self.data[name]


def check_gpus(instances: Sequence[Any], gpus: list[dict[str, Any]], host: str = "hydra-compute") -> None:
    """Every instance's GPU index must be one nvidia-smi shows on the host."""
    present = {g["index"] for g in gpus}
    problems = [
        f"ollama_instances: GPU {i.gpu} (port {i.port}) does not exist on {host}; nvidia-smi shows "
        + (", ".join(f"{g['index']} ({g['name']})" for g in gpus) or "no GPUs")
        for i in instances if i.gpu not in present
    ]
    if problems:
        raise ValidationError(host, problems)
