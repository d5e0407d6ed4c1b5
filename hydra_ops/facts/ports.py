"""Who holds each listening TCP port on a host: the process (name, pid) from `ss`, and the container when a
Docker container publishes it (with its compose project and service), so a deploy can name the holder."""

from __future__ import annotations

import re
from typing import Any

from pyinfra.api import FactBase
from pyinfra.api.exceptions import PyinfraError

_SS = re.compile(r"\S+\s+\d+\s+\d+\s+(?P<addr>\S+):(?P<port>\d+)\s+\S+(?:\s+users:\(\((?P<users>.*)\)\))?")
_USER = re.compile(r'"(?P<name>[^"]+)",pid=(?P<pid>\d+)')
_PUBLISHED = re.compile(r"(?:[0-9a-fA-F.:\[\]]*):(?P<port>\d+)(?:-(?P<end>\d+))?->")
SEP = "--- docker ---"
#: Printed instead of ss's output when ss is not installed: the fact then fails instead of reporting "no holders".
NO_SS = "--- no ss ---"


class PortCheckUnavailable(PyinfraError):
    """The listening ports cannot be read (no `ss` on the host): a port check that cannot run must not pass."""


class PortHolders(FactBase[dict[int, dict[str, Any]]]):
    """port -> {"process": name or "", "pid": int or None, "container": name or "", "project": ..., "service":
    ...} for every listening TCP port (IPv4 and IPv6 merged); {} when nothing listens."""

    def default(self) -> dict[int, dict[str, Any]]:
        return {}

    def command(self) -> str:
        fmt = '{{.Names}}\\t{{.Label "com.docker.compose.project"}}\\t{{.Label "com.docker.compose.service"}}\\t' \
              '{{.Ports}}'
        # no requires_command: pyinfra would return the default ({}, "nothing listens") when ss is missing
        return (f"if command -v ss >/dev/null 2>&1; then ss -Hltnp || exit 1; else echo '{NO_SS}'; fi; "
                f"echo '{SEP}'; "
                f"! command -v docker >/dev/null 2>&1 || docker ps --format '{fmt}' 2>/dev/null || true")

    def process(self, output: list[str]) -> dict[int, dict[str, Any]]:
        return parse(output)


def parse(output: list[str]) -> dict[int, dict[str, Any]]:
    """The fact's parser: ss lines, the separator, then docker ps lines. Raises PortCheckUnavailable without ss."""
    if NO_SS in (line.strip() for line in output):
        raise PortCheckUnavailable("`ss` (iproute2) is not installed on this host, so the ports the deploy "
                                   "publishes cannot be checked for other holders; install iproute2 and re-run")
    holders: dict[int, dict[str, Any]] = {}
    lines = iter(output)
    for line in lines:
        if line.strip() == SEP:
            break
        m = _SS.match(line.strip())
        if not m:
            continue
        user = _USER.search(m["users"] or "")
        entry = holders.setdefault(int(m["port"]), {"process": "", "pid": None, "container": "", "project": "",
                                                    "service": ""})
        if user and not entry["process"]:
            entry.update(process=user["name"], pid=int(user["pid"]))
    for line in lines:
        fields = line.split("\t")
        if len(fields) != 4:
            continue
        name, project, service, ports = fields
        for m in _PUBLISHED.finditer(ports):
            for port in range(int(m["port"]), int(m["end"] or m["port"]) + 1):
                entry = holders.setdefault(port, {"process": "docker-proxy", "pid": None, "container": "",
                                                  "project": "", "service": ""})
                entry.update(container=name, project=project, service=service)
    return holders


def holder(entry: dict[str, Any]) -> str:
    """How an error names a port's holder."""
    if entry.get("container"):
        where = f", compose project {entry['project']!r} service {entry['service']!r}" if entry["project"] else ""
        return f"container {entry['container']!r}{where}"
    pid = f" (pid {entry['pid']})" if entry.get("pid") else ""
    return f"process {entry.get('process') or 'unknown'!r}{pid}"
