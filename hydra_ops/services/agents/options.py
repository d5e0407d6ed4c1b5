"""The agent runtimes (G7 CrewAI, G8 LangGraph): which stack services run the agent worker, and the framework
each imports; declared once."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from hydra_ops.services.stack.options import Name
from hydra_ops.settings import Options

Module = Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)*$")]


class AgentsOptions(Options):
    """Agent services of the storage stack: each runs the worker that imports its framework and checks LiteLLM."""

    prefixes = ("agent_",)

    agent_frameworks: dict[Name, Module] = Field(
        default_factory=lambda: {"crewai": "crewai", "langgraph": "langgraph"},
        description="Stack service -> Python module its worker imports (crews/graphs under <stack_dir>/<service>).")
