"""`hydra audit`: run every registered detector against a cluster and tabulate open/closed gaps."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pyinfra.api.connect import connect_all
from pyinfra.context import ctx_host, ctx_inventory, ctx_state

from hydra_ops.detectors import UNKNOWN, Finding
from hydra_ops.registry import gaps
from hydra_ops.targets import load_inventory


@dataclass
class AuditRow:
    gap: str
    title: str
    host: str
    status: str
    evidence: list[str]


def audit(inventory_path: Path | str, only: list[str] | None = None) -> list[AuditRow]:
    """Connect to every host of the inventory and run the detectors of the selected gaps (read-only)."""
    inventory, state = load_inventory(inventory_path)
    wanted = [g for g in gaps() if not only or g.id in {o.upper() for o in only}]
    rows: list[AuditRow] = []
    with ctx_state.use(state), ctx_inventory.use(inventory):
        connect_all(state)
        for g in wanted:
            hosts = [h for h in inventory if g.group == "all" or g.group in h.groups]
            for host in hosts:
                finding = _detect(g, host, state)
                rows.append(AuditRow(g.id, g.title, host.name, finding.status, finding.evidence))
            if not hosts and not g.optional:
                rows.append(AuditRow(g.id, g.title, "-", UNKNOWN, [f"no host in group {g.group}"]))
    return rows


def _detect(g: Any, host: Any, state: Any) -> Finding:
    if not g.implemented:
        return Finding(UNKNOWN, [f"no detector yet ({g.tracked_in})"])
    if host not in state.activated_hosts:
        return Finding(UNKNOWN, [f"{host.name} unreachable"])
    with ctx_host.use(host):
        return g.load("detector")(host)


def as_table(rows: list[AuditRow]) -> str:
    out = [f"{'gap':<4} {'host':<14} {'status':<8} title / evidence"]
    for r in rows:
        out.append(f"{r.gap:<4} {r.host:<14} {r.status:<8} {r.title}")
        out += [f"{'':<28} - {line}" for line in r.evidence]
    return "\n".join(out)


def as_json(rows: list[AuditRow]) -> list[dict[str, Any]]:
    return [asdict(r) for r in rows]
