"""G7 CrewAI: the crew runtime as a service of the storage stack, pinned to its cores (seed 001 Part 4: 28-35)
and pointed at the LiteLLM gateway; crews are definitions under <stack_dir>/crewai."""

from __future__ import annotations

from pyinfra.api import deploy
from pyinfra.api.operation import OperationMeta

from hydra_ops.operations.agent_service import agent_service
from hydra_ops.validation import Settings


@deploy("G7 CrewAI")
def crewai(cfg: Settings) -> list[OperationMeta]:
    return agent_service("G7", cfg, "crewai")
