"""Host resources the stack is sized against: online CPUs and total RAM, straight from the kernel."""

from __future__ import annotations

from typing import Any

from pyinfra.api import FactBase

from hydra_ops.services.stack.options import parse_cpuset


class HostResources(FactBase[dict[str, Any]]):
    """``{"cpus": [0, 1, ...], "mem_bytes": 270000000000}``: /sys/devices/system/cpu/online and MemTotal."""

    def command(self) -> str:
        return "cat /sys/devices/system/cpu/online; awk '/^MemTotal:/ {print $2}' /proc/meminfo"

    def process(self, output: list[str]) -> dict[str, Any]:
        online, kib = output[0].strip(), output[1].strip()
        return {"cpus": sorted(parse_cpuset(online)), "mem_bytes": int(kib) * 1024}
