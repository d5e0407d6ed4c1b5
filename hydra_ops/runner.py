"""Run pyinfra deploys as a user would (`pyinfra -y INVENTORY DEPLOY`) and read back what changed."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hydra_ops import deploy_file
from hydra_ops.targets import inventory_workdir


@dataclass
class DeployResult:
    """Exit code, output and the names of operations that changed something (from pyinfra --json)."""

    returncode: int
    stdout: str
    stderr: str
    changed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    ran: int = 0  #: operations pyinfra reported on (a "0 changes" claim means nothing when none ran)

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def no_op(self) -> bool:
        """Succeeded, ran operations, and none of them changed anything (what an idempotent re-run must be)."""
        return self.ok and self.ran > 0 and not self.changed

    def errors(self, context: int = 8, limit: int = 80) -> str:
        """What pyinfra said about each failure: every output line naming an error, with the lines before it (the
        tail of the output when no line does). For assertion messages: a failed run's last lines are mostly the
        operations skipped after the failure."""
        lines = (self.stderr + self.stdout).splitlines()
        picked = sorted({n for i, line in enumerate(lines) if "rror" in line or "failed" in line.lower()
                         for n in range(max(0, i - context), i + 1)})
        return "\n".join(lines[n] for n in picked[-limit:]) or "\n".join(lines[-30:])


def run_deploy(inventory: Path | str, deploy: str, *, limit: str | None = None,
               group_data: Sequence[Path] = (), data: Sequence[str] = (), extra: Sequence[str] = (),
               timeout: float = 900) -> DeployResult:
    """Run deploys/<deploy> against an inventory with --json and collect per-operation results."""
    cmd = [sys.executable, "-P", "-m", "pyinfra", "-y", "--json", str(inventory), deploy_file(deploy)]
    if limit:
        cmd += ["--limit", limit]
    for path in group_data:
        cmd += ["--group-data", str(path)]
    for item in data:
        cmd += ["--data", item]
    cmd += list(extra)
    proc = subprocess.run(cmd, cwd=inventory_workdir(inventory), capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)
    return read_results(proc)


def read_results(proc: subprocess.CompletedProcess[str]) -> DeployResult:
    """A finished `pyinfra --json` run (also `hydra fix GAP --json`) as a DeployResult."""
    result = DeployResult(proc.returncode, proc.stdout, proc.stderr)
    try:
        ops = json.loads(proc.stdout)["results"]["operations"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        if proc.returncode != 0:
            return result  # a run that failed before printing results: callers read stderr
        raise RuntimeError(f"pyinfra succeeded but its --json output could not be read ({exc}); "
                           f"stdout starts: {proc.stdout[:300]!r}") from None
    result.ran = len(ops)
    result.changed = [op["name"] for op in ops if op.get("success")]
    result.failed = [op["name"] for op in ops if op.get("error")]
    return result
