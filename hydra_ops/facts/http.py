"""What a local HTTP endpoint of a host answers, read on the host with curl (detectors of services that only
listen on loopback, or whose answer on the host's own address is what matters)."""

from __future__ import annotations

import json
import shlex
from typing import Any

from pyinfra.api import FactBase


class HttpJson(FactBase[dict[str, Any] | None]):
    """``{"status": 200, "body": <parsed JSON or None>}``, or None when nothing answers (refused, timed out).
    The JSON is parsed only when the endpoint answered 2xx with a JSON body; an unparsable body is an error."""

    def requires_command(self, url: str, timeout: int = 5) -> str:
        return "curl"

    def command(self, url: str, timeout: int = 5) -> str:
        q = shlex.quote
        return (f"body=$(curl -sS -m {int(timeout)} -o - -w '\\n%{{http_code}}' {q(url)} 2>/dev/null) "
                "|| { echo 000; exit 0; }; printf '%s\\n' \"$body\" | tail -n 1; printf '%s\\n' \"$body\" | sed '$d'")

    def process(self, output: list[str]) -> dict[str, Any] | None:
        status = int(output[0]) if output and output[0].isdigit() else 0
        if status == 0:
            return None
        text = "\n".join(output[1:]).strip()
        body = json.loads(text) if text and 200 <= status < 300 and text[0] in "[{" else None
        return {"status": status, "body": body}
