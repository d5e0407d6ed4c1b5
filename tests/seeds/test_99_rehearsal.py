"""Issue 19's rehearsal of day one on the seeds flavour: every host reset to its seed-faithful before state, then
only what an operator types (`hydra audit`, `hydra secrets migrate --host hydra-storage`, `hydra fix GAP` for every
gap in the runbook's order, `hydra audit`, `hydra verify`), no hand edits in between; a second round of fixes
changes nothing; both audits, of the before state and of the converged cluster, change nothing on any host (issue
21). Runs after the numbered files and before test_nixos_*.py (pytest's order), which start from the converged
hosts it leaves."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from devcluster.local.cluster import Cluster
from hydra_ops import PROJECT_ROOT
from hydra_ops.registry import gaps
from hydra_ops.runner import DeployResult, read_results
from tests.host_state import differences, snapshot
from tests.seeds.conftest import AI, COMPUTE

STORAGE = "hydra-storage"
#: the audit's gaps in the runbook's order (`hydra runbook` prints them in registry order)
GAPS = [g.id for g in gaps() if g.implemented and not g.optional]
#: how long monitors and probes may take to see services that the last fixes started (Uptime Kuma and the
#: blackbox exporter check them on their own schedule)
SETTLE = 180
TIMES: dict[str, float] = {}
OUTPUT: list[str] = []  #: everything the operator's commands printed, checked for secrets at the end


def hydra(*args: str, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    """The hydra CLI on the seeds cluster, chosen as an operator chooses it (HYDRA_CLUSTER, HYDRA_CLUSTER_FLAVOUR)."""
    env = dict(os.environ, HYDRA_CLUSTER="local", HYDRA_CLUSTER_FLAVOUR="seeds")
    proc = subprocess.run([str(Path(sys.executable).with_name("hydra")), *args], capture_output=True, text=True,
                          env=env, timeout=timeout, cwd=PROJECT_ROOT, stdin=subprocess.DEVNULL)
    OUTPUT.append(proc.stdout + proc.stderr)
    return proc


def redacted(text: str, cluster: Cluster) -> str:
    """Text for an assertion message, with every value of the store replaced by its name."""
    for name, value in cluster.secrets.read().items():
        if value:
            text = text.replace(value, f"<{name}>")
    return text


def audit_rows() -> tuple[int, list[dict[str, Any]]]:
    """`hydra audit --json`: its exit code and rows (an audit that printed no rows fails with what it said)."""
    proc = hydra("audit", "--json", timeout=600)
    try:
        return proc.returncode, json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise AssertionError(f"hydra audit exited {proc.returncode} without rows:\n{proc.stderr[-2000:]}") from None


def not_closed(rows: list[dict[str, Any]]) -> list[str]:
    return [f"{r['gap']} on {r['host']}: {r['status']} ({'; '.join(r['evidence'])})" for r in rows
            if r["status"] != "closed"]


def changes(result: DeployResult) -> list[str]:
    """'host: operation' for every change a `hydra fix --json` run reports."""
    try:
        ops = json.loads(result.stdout)["results"]["operations"]
    except (json.JSONDecodeError, KeyError, TypeError):
        return [f"no results (exit {result.returncode})"]
    return [f"{h}: {op['name']}" for op in ops for h in op.get("success", [])]


def fix(gap: str) -> DeployResult:
    started = time.monotonic()
    result = read_results(hydra("fix", gap, "--yes", "--json"))  # --yes: a script cannot answer the question
    TIMES[gap] = TIMES.get(gap, 0) + time.monotonic() - started
    return result


def read_only_audit(seeds: Cluster) -> tuple[int, list[dict[str, Any]], list[str], int]:
    """`hydra audit` between two snapshots of every host: (exit code, rows, what changed, lines compared)."""
    first = snapshot(seeds)
    code, rows = audit_rows()
    return code, rows, differences(first, snapshot(seeds)), sum(len(t.splitlines()) for t in first.values())


def operator_runs(seeds: Cluster) -> list[str]:
    """The resource monitor's runs that its schedule did not start (an audit must start none)."""
    from hydra_ops.services.monitoring import n8n
    from hydra_ops.services.monitoring.resource_monitor import n8n_url
    from hydra_ops.services.storage import storage
    from hydra_ops.targets import load_inventory

    inventory, _ = load_inventory(seeds.inventory)
    cfg = storage(inventory.get_host(STORAGE).data.dict(), STORAGE)
    o = cfg.monitoring
    api = n8n.connect(n8n_url(cfg), o.n8n_owner_email, seeds.secrets.read()["n8n_owner_password"])
    return [e["id"] for e in api.executions(o.resource_monitor_id, 100) if e["mode"] != "trigger"]


@pytest.fixture(scope="module")
def before(seeds: Cluster) -> dict[str, Any]:
    """Every host rebuilt into its before state, then the operator's first audit (which must change nothing)."""
    started = time.monotonic()
    for name in (COMPUTE, AI, STORAGE):
        seeds.reset(name, log=lambda *_: None)
    TIMES["reset"] = time.monotonic() - started
    code, rows, changed, compared = read_only_audit(seeds)
    return {"code": code, "rows": rows, "changed": changed, "compared": compared}


@pytest.fixture(scope="module")
def fixed(before: dict[str, Any], seeds: Cluster) -> dict[str, DeployResult]:
    """The plaintext migrated into the store as the README says, then `hydra fix` for every gap in order."""
    migrate = hydra("secrets", "migrate", "--host", STORAGE, "--replace")
    assert migrate.returncode == 0, redacted(migrate.stdout + migrate.stderr, seeds)[-3000:]
    return {gap: fix(gap) for gap in GAPS}


@pytest.fixture(scope="module")
def audited(fixed: dict[str, DeployResult], seeds: Cluster) -> tuple[int, list[dict[str, Any]]]:
    """`hydra audit` after the fixes, repeated (bounded) until it exits 0 or SETTLE has passed: Uptime Kuma's
    monitors and the blackbox probes see the last started services only at their next check."""
    deadline = time.monotonic() + SETTLE
    code, rows = audit_rows()
    while code != 0 and time.monotonic() < deadline:
        time.sleep(5)
        code, rows = audit_rows()
    return code, rows


def test_the_before_state_has_every_gap_open(before: dict[str, Any], seeds: Cluster) -> None:
    assert before["code"] == 1
    still_closed = [g for g in GAPS if all(r["status"] == "closed" for r in before["rows"] if r["gap"] == g)]
    assert still_closed == [], redacted(f"gaps closed before any fix: {still_closed}", seeds)


def test_an_audit_of_the_before_state_changes_nothing(before: dict[str, Any], seeds: Cluster) -> None:
    assert before["compared"] > 1000  # accounts, units, containers and files of three hosts
    assert before["changed"] == [], redacted("\n".join(before["changed"]), seeds)
    print(f"\nbefore state: {before['compared']} lines of host state identical around `hydra audit`")


def test_every_fix_succeeds(fixed: dict[str, DeployResult], seeds: Cluster) -> None:
    failed = {gap: (r.failed, r.errors()) for gap, r in fixed.items() if not r.ok}
    assert failed == {}, redacted("\n".join(f"hydra fix {gap} failed: operations {ops}\n{tail}"
                                            for gap, (ops, tail) in failed.items()), seeds)


def test_the_audit_exits_0_after_the_fixes(audited: tuple[int, list[dict[str, Any]]], seeds: Cluster) -> None:
    code, rows = audited
    assert {r["gap"] for r in rows} >= set(GAPS)
    assert (code, not_closed(rows)) == (0, []), redacted("\n".join(not_closed(rows)), seeds)


def test_an_audit_of_the_converged_cluster_changes_nothing(audited: tuple[int, list[dict[str, Any]]],
                                                           seeds: Cluster) -> None:
    """No account, file, unit, container or workflow run comes from an audit (n8n and Uptime Kuma run now)."""
    runs = operator_runs(seeds)
    code, _, changed, compared = read_only_audit(seeds)
    assert code == 0 and changed == [], redacted("\n".join(changed), seeds)
    assert operator_runs(seeds) == runs
    print(f"\nconverged: {compared} lines of host state and {len(runs)} operator-started workflow runs identical "
          "around `hydra audit`")


def test_the_smoke_suite_passes(audited: tuple[int, list[dict[str, Any]]], seeds: Cluster) -> None:
    started = time.monotonic()
    proc = hydra("verify", "--act", "-q", "-rf", timeout=1800)  # the lab's Activity API is a double
    TIMES["verify"] = time.monotonic() - started
    failures = [line for line in proc.stdout.splitlines() if line.startswith(("FAILED", "ERROR"))]
    assert proc.returncode == 0, redacted("\n".join(failures) + "\n" + proc.stdout[-4000:], seeds)
    assert " passed" in proc.stdout.splitlines()[-1]


def test_no_admin_surface_is_open_after_day_one(audited: tuple[int, list[dict[str, Any]]], seeds: Cluster) -> None:
    """Every socket beyond loopback is a service of group data (or the operator's own); admin calls are refused."""
    from tests.admin_surfaces import survey

    rows, findings = survey(seeds)
    print("\n" + "\n".join(rows))
    assert len(rows) >= 12 and findings == [], "\n".join(findings)


def test_a_second_run_of_every_fix_changes_nothing(audited: tuple[int, list[dict[str, Any]]],
                                                   seeds: Cluster) -> None:
    first = dict(TIMES)
    again = {gap: fix(gap) for gap in GAPS}
    changed = {gap: changes(r) for gap, r in again.items() if not r.no_op}
    assert changed == {}, redacted(json.dumps(changed, indent=1), seeds)
    print(f"\nrehearsal: reset {first['reset']:.0f}s, fixes " +
          ", ".join(f"{g} {first[g]:.0f}s" for g in GAPS) + f", verify {first.get('verify', 0):.0f}s; "
          f"second round {sum(TIMES[g] - first[g] for g in GAPS):.0f}s")


def test_no_command_printed_a_secret(audited: tuple[int, list[dict[str, Any]]], seeds: Cluster) -> None:
    printed = "\n".join(OUTPUT)
    assert [name for name, value in seeds.secrets.read().items() if value and value in printed] == []
