"""The agent runtimes, services of the storage stack pinned to their cores (seed 001 Part 4) and pointed at the
LiteLLM gateway: G7 CrewAI (28-35, crews under <stack_dir>/crewai) and G8 LangGraph (36-43, graphs under
<stack_dir>/langgraph).

options.py declares the settings, debian.py puts each service's files in place, detect.py reads the live host.
"""

from __future__ import annotations

from pyinfra.api import deploy
from pyinfra.api.operation import OperationMeta

from hydra_ops.services.agents.debian import agent_service

#: the gap each agent service closes
GAPS = {"crewai": "G7", "langgraph": "G8"}


@deploy("G7 CrewAI")
def crewai(stack_dir: str) -> list[OperationMeta]:
    return agent_service("G7", stack_dir, "crewai")


@deploy("G8 LangGraph")
def langgraph(stack_dir: str) -> list[OperationMeta]:
    return agent_service("G8", stack_dir, "langgraph")


def agent_files(service: str, stack_dir: str) -> list[OperationMeta]:
    """The files of one agent service (G7/G8 by name, any other agent service under its own name)."""
    if service == "crewai":
        return crewai(stack_dir)
    if service == "langgraph":
        return langgraph(stack_dir)
    return agent_service("Agents", stack_dir, service)
