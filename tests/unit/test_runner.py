"""Reading pyinfra's --json results, and the failure summary that assertion messages quote."""

from __future__ import annotations

import json
import subprocess

import pytest

from hydra_ops.runner import read_results


def finished(code: int, stdout: str, stderr: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.CompletedProcess(["pyinfra"], code, stdout, stderr)


def test_changed_and_failed_operations_are_named() -> None:
    ops = [{"name": "a", "success": ["h1"]}, {"name": "b", "success": []}, {"name": "c", "error": ["h2"]}]
    result = read_results(finished(1, json.dumps({"results": {"operations": ops}})))
    assert (result.ran, result.changed, result.failed, result.ok, result.no_op) == (3, ["a"], ["c"], False, False)


def test_a_successful_run_without_readable_results_is_an_error_not_no_change() -> None:
    with pytest.raises(RuntimeError, match="could not be read"):
        read_results(finished(0, "not json"))


def test_the_error_summary_keeps_the_failure_not_the_skipped_tail() -> None:
    skipped = "\n".join(f"--> Starting operation: op {n}\n    [h1]  Skipped" for n in range(200))
    stderr = "--> Starting operation: venv\n    [h1]  Error: pip exited 1: no matching distribution\n" + skipped
    summary = read_results(finished(1, "", stderr)).errors()
    assert "no matching distribution" in summary
    assert "op 199" not in summary
