"""An agent service on Debian (the same files on any host running the stack): a definitions directory mounted
read-only, and the worker that reports health and LiteLLM reachability."""

from __future__ import annotations

from pyinfra.api.operation import OperationMeta
from pyinfra.operations import files

from hydra_ops import PROJECT_ROOT

WORKER = PROJECT_ROOT / "hydra_ops" / "stack_files" / "agent_worker.py"


def agent_service(gap: str, stack_dir: str, service: str) -> list[OperationMeta]:
    """Worker and definitions directory for one agent service; returns the ops whose change needs a restart."""
    files.directory(name=f"{gap}: {service} definitions directory", path=f"{stack_dir}/{service}", mode="755")
    files.directory(name=f"{gap}: agent runtime directory", path=f"{stack_dir}/agents", mode="755")
    worker = files.put(name=f"{gap}: agent worker for {service}", src=str(WORKER),
                       dest=f"{stack_dir}/agents/agent_worker.py", mode="644")
    return [worker]
