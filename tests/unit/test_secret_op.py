"""The secret operation on this machine (pyinfra's @local connector): every output mode pyinfra has, with a value
the run writes (or plans to), shows no trace of it; the file lands 0600 with the value."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from hydra_ops import PROJECT_ROOT

DEPLOY = """import os
from hydra_ops.operations.secret import secret_file
secret_file(name="test: secret file", content=os.environ["HYDRA_TEST_SECRET"], dest=os.environ["HYDRA_TEST_DEST"],
            user=os.environ.get("HYDRA_TEST_OWNER", "root"))
"""


def run(tmp_path: Path, value: str, *mode: str, owner: str = "root") -> subprocess.CompletedProcess[str]:
    deploy = tmp_path / "deploy.py"
    deploy.write_text(DEPLOY)
    env = {**os.environ, "HYDRA_TEST_SECRET": value, "HYDRA_TEST_DEST": str(tmp_path / "out" / "secret"),
           "HYDRA_TEST_OWNER": owner}
    return subprocess.run([sys.executable, "-m", "pyinfra", "-y", "@local", str(deploy), *mode], cwd=PROJECT_ROOT,
                          env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("mode", [[], ["--debug-operations"], ["--debug-facts"], ["--dry"], ["--json"], ["-vv"],
                                  ["-vvv", "--diff", "--debug"]])
def test_no_output_mode_shows_the_value(tmp_path: Path, mode: list[str]) -> None:
    value = "s3cr3t-" + secrets.token_hex(12)
    proc = run(tmp_path, value, *mode)
    assert proc.returncode == 0, proc.stderr[-2000:]
    if mode not in (["--debug-facts"], ["--dry"]):  # those two print facts / nothing per operation
        assert "test: secret file" in proc.stdout + proc.stderr
    assert value not in proc.stdout + proc.stderr, f"{mode}: the value appears in pyinfra's output"
    written = tmp_path / "out" / "secret"
    if mode in ([], ["--json"], ["-vv"], ["-vvv", "--diff", "--debug"]):  # the runs that execute operations
        assert oct(written.stat().st_mode & 0o777) == "0o600" and written.read_text() == value + "\n"
    else:
        assert not written.exists()


def test_a_failing_secret_operation_shows_no_value(tmp_path: Path) -> None:
    value = "s3cr3t-" + secrets.token_hex(12)
    proc = run(tmp_path, value, "-vvv", "--debug", owner="no-such-user-here")
    assert proc.returncode != 0 and "no-such-user-here" in proc.stdout + proc.stderr
    assert value not in proc.stdout + proc.stderr
    assert not (tmp_path / "out" / "secret").exists()
