"""nginx facts: the upstream servers and listen ports a config file declares (used by the G2 detector)."""

from __future__ import annotations

import re
from typing import Any

from pyinfra.api import FactBase


class NginxSiteSummary(FactBase[dict[str, Any] | None]):
    """``{"upstreams": {"ollama_backend": {"method": "least_conn", "servers": ["127.0.0.1:11434", ..]}},
    "listen": [11400]}`` for a config file; None when it does not exist."""

    def command(self, path: str) -> str:
        return f"test -f {path} && cat {path} || echo __absent__"

    def process(self, output: list[str]) -> dict[str, Any] | None:
        if output == ["__absent__"]:
            return None
        return summarize("\n".join(output))


def summarize(text: str) -> dict[str, Any]:
    text = re.sub(r"#.*", "", text)
    upstreams: dict[str, Any] = {}
    for name, body in re.findall(r"upstream\s+(\S+)\s*\{(.*?)\}", text, re.S):
        method = next((m for m in ("least_conn", "ip_hash", "hash", "random") if re.search(rf"\b{m}\b", body)),
                      "round_robin")
        servers = re.findall(r"^\s*server\s+(\S+?)[\s;]", body, re.M)
        upstreams[name] = {"method": method, "servers": servers}
    listen = [int(p) for p in re.findall(r"listen\s+(?:[\w.\[\]:]*:)?(\d+)", text)]
    return {"upstreams": upstreams, "listen": listen}
