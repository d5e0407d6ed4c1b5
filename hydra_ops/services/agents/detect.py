"""G7/G8 on a live host, read-only: the agent runtime's container runs pinned to its cores."""

from __future__ import annotations

from pyinfra.api import Host

from hydra_ops.detectors import CLOSED, OPEN, Finding
from hydra_ops.services.stack.detect import service


def _agent(host: Host, name: str) -> Finding:
    found = service(host, name)
    return found if isinstance(found, Finding) else Finding(CLOSED if found[1] else OPEN, [found[2]])


def crewai(host: Host) -> Finding:
    """G7 is closed when the CrewAI runtime runs pinned to its cores."""
    return _agent(host, "crewai")


def langgraph(host: Host) -> Finding:
    """G8 is closed when the LangGraph runtime runs pinned to its cores."""
    return _agent(host, "langgraph")
