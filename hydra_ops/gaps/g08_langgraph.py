"""G8 LangGraph: the graph executor as a service of the storage stack, pinned to its cores (seed 001 Part 4:
36-43) and pointed at the LiteLLM gateway; graphs are definitions under <stack_dir>/langgraph."""

from __future__ import annotations

from pyinfra.api import deploy
from pyinfra.api.operation import OperationMeta

from hydra_ops.operations.agent_service import agent_service
from hydra_ops.validation import Settings


@deploy("G8 LangGraph")
def langgraph(cfg: Settings) -> list[OperationMeta]:
    return agent_service("G8", cfg, "langgraph")
