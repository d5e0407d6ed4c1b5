"""nginx facts: the upstream servers and listen ports a config file declares (used by the G2 detector)."""

from __future__ import annotations

import re
from typing import Any

from pyinfra.api import FactBase

from hydra_ops.facts.file_summary import FileSummary

#: The configuration nginx.service runs with, includes expanded (`nginx -T`): the file its ExecStart names with
#: -c (NixOS: a generated file), else nginx's default (Debian: /etc/nginx/nginx.conf and conf.d/).
LIVE_CONFIG = ("conf=$(systemctl show -p ExecStart --value nginx.service 2>/dev/null | grep -o -- '-c [^ ;]*' "
               "| head -n1 | cut -c4-); nginx -T ${conf:+-c \"$conf\"} 2>/dev/null")


class NginxSiteSummary(FileSummary):
    """``{"upstreams": {"ollama_backend": {"method": "least_conn", "servers": ["127.0.0.1:11434", ..]}},
    "listen": [11400]}`` for a config file; None when it does not exist."""

    summarize = staticmethod(lambda text: summarize(text))


def summarize(text: str) -> dict[str, Any]:
    """Upstreams (method, servers) and listen ports; in an `nginx -T` dump, includes are read in place."""
    dumped = dict(re.findall(r"^# configuration file (\S+):\n(.*?)(?=^# configuration file |\Z)", text, re.S | re.M))
    text = re.sub(r"\binclude\s+([^\s;]+)\s*;", lambda m: dumped.get(m[1], m[0]), text)
    text = re.sub(r"#.*", "", text)
    upstreams: dict[str, Any] = {}
    for name, body in re.findall(r"upstream\s+(\S+)\s*\{(.*?)\}", text, re.S):
        method = next((m for m in ("least_conn", "ip_hash", "hash", "random") if re.search(rf"\b{m}\b", body)),
                      "round_robin")
        servers = re.findall(r"^\s*server\s+(\S+?)[\s;]", body, re.M)
        upstreams[name] = {"method": method, "servers": servers}
    listen = [int(p) for p in re.findall(r"listen\s+(?:[\w.\[\]:]*:)?(\d+)", text)]
    return {"upstreams": upstreams, "listen": listen}


class NginxLiveSummary(FactBase[dict[str, Any] | None]):
    """The same summary for the configuration nginx runs (see LIVE_CONFIG); None when nginx cannot show one."""

    def command(self) -> str:
        return f"{LIVE_CONFIG} || echo __absent__"

    def process(self, output: list[str]) -> dict[str, Any] | None:
        return None if output[-1:] == ["__absent__"] else summarize("\n".join(output))
