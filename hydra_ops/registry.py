"""The gap registry (registry.yaml) as typed records, plus the runbook generated from it."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

REGISTRY = Path(__file__).resolve().parent / "registry.yaml"


class UnknownGap(KeyError):
    """A gap id the registry does not have."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class Gap:
    id: str
    title: str
    impact: str
    priority: str
    group: str
    status: str
    bundle: str | None = None
    deploy: str | None = None
    detector: str | None = None
    templates: list[str] = field(default_factory=list)
    smoke: list[str] = field(default_factory=list)
    tracked_in: str | None = None
    platforms: list[str] = field(default_factory=list)
    services: list[str] = field(default_factory=list)
    pending: str | None = None
    optional: bool = False  # a system, not an audit gap: skipped where the inventory lacks its group
    fix_group: str | None = None  # where `hydra fix` runs the bundle when that is wider than the audited group

    @property
    def fixes(self) -> str:
        """The group whose hosts `hydra fix` runs the bundle on (all: every host)."""
        return self.fix_group or self.group

    @property
    def implemented(self) -> bool:
        return self.status == "implemented"

    def load(self, what: str) -> Callable[..., Any]:
        """Import the bundle or detector named "module:function"."""
        module, _, name = str(getattr(self, what)).partition(":")
        return getattr(importlib.import_module(module), name)


@cache
def gaps() -> tuple[Gap, ...]:
    return tuple(Gap(**entry) for entry in yaml.safe_load(REGISTRY.read_text())["gaps"])


def gap(gap_id: str) -> Gap:
    wanted = gap_id.upper()
    for g in gaps():
        if g.id == wanted:
            return g
    raise UnknownGap(f"unknown gap {gap_id!r}: one of {', '.join(g.id for g in gaps())}")


def runbook() -> str:
    """Markdown runbook: for each gap, how to detect it, fix it and verify the fix."""
    lines = ["# Hydra runbook (generated from hydra_ops/registry.yaml by `hydra runbook`)", ""]
    for g in gaps():
        lines += [f"## {g.id}: {g.title}", "", f"- Impact: {g.impact} (priority {g.priority}, group {g.group})"]
        if not g.implemented:
            lines += [f"- Status: planned, {g.tracked_in}. No automated fix yet.", ""]
            continue
        smoke = " ".join(g.smoke)
        lines += [
            f"- Detect: `hydra audit --gap {g.id}` (detector `{g.detector}`)",
            f"- Fix: `hydra fix {g.id}` (bundle `{g.bundle}`; also part of `hydra deploy {Path(str(g.deploy)).stem}`)",
            f"- Verify: `hydra verify -- {smoke}`",
            f"- Templates: {', '.join(g.templates)}",
            *([f"- Still missing: {g.pending}"] if g.pending else []),
            "",
        ]
    return "\n".join(lines)
