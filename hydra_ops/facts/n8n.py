"""n8n facts: a workflow as n8n's own CLI exports it, from inside the running n8n container of a compose project."""

from __future__ import annotations

import json
import shlex
from typing import Any

from pyinfra.api import FactBase

NOT_RUNNING, ABSENT = "HYDRA-N8N-NOT-RUNNING", "HYDRA-N8N-NO-SUCH-WORKFLOW"


class N8nWorkflow(FactBase[dict[str, Any] | None]):
    """The exported workflow (name, active, nodes, connections, settings...); {} when n8n has no workflow with
    that id; None when the service's container is not running. Any other failure of the export is an error."""

    def requires_command(self, project: str, service: str, workflow_id: str) -> str:
        return "docker"

    def command(self, project: str, service: str, workflow_id: str) -> str:
        """Export inside the service's running container, or say why there is nothing to export."""
        q = shlex.quote
        # a scratch file of its own: an audit and a deploy may export at the same time
        export = (f"f=$(mktemp) && out=$(n8n export:workflow --id={q(workflow_id)} --output=$f 2>&1); rc=$?; "
                  "if [ $rc = 0 ]; then cat $f; rm -f $f; "
                  f"elif echo \"$out\" | grep -q 'No workflows found'; then rm -f $f; echo {ABSENT}; "
                  "else rm -f $f; echo \"$out\" | tail -5 >&2; exit $rc; fi")
        return (f"cid=$(docker ps -q --filter label=com.docker.compose.project={q(project)} "
                f"--filter label=com.docker.compose.service={q(service)} --filter status=running | head -n1); "
                f"if [ -z \"$cid\" ]; then echo {NOT_RUNNING}; else docker exec $cid sh -c {q(export)}; fi")

    def process(self, output: list[str]) -> dict[str, Any] | None:
        """The one exported workflow; anything unexpected is an error, never "nothing there"."""
        text = "\n".join(output).strip()
        if text == NOT_RUNNING:
            return None
        if text == ABSENT:
            return {}
        try:
            found = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"n8n's export is not JSON ({exc})") from None
        if not (isinstance(found, list) and len(found) == 1 and isinstance(found[0], dict)):
            raise ValueError("n8n's export is not one workflow")
        return found[0]
