"""Preview, then apply (`hydra fix` / `hydra deploy`): nothing changes before the operator said yes on a terminal or
passed --yes; --dry, --diff and --limit reach pyinfra. The terminal is a real pseudo-terminal and pyinfra the real
one, on its @local connector against a scratch file (the cluster version is tests/integration/test_14_preview.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import hydra_ops.cli_apply
from hydra_ops import PROJECT_ROOT, deploy_file
from hydra_ops.cli import main
from tests.terminal import Terminal

REAL = str(PROJECT_ROOT / "inventory.py")


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The arguments of every pyinfra run the CLI would start against the repository's inventory (none is run)."""
    monkeypatch.setenv("HYDRA_INVENTORY", REAL)
    seen: list[list[str]] = []
    monkeypatch.setattr(hydra_ops.cli_apply.subprocess, "call",
                        lambda cmd, **kw: seen.append(cmd[cmd.index("pyinfra") + 1:]) or 0)
    return seen


@pytest.mark.parametrize("args", [["fix", "G1"], ["deploy", "compute"]])
def test_without_a_terminal_or_yes_nothing_runs(args: list[str], calls: list[list[str]]) -> None:
    result = CliRunner().invoke(main, [*args, "--cluster", "real"])  # CliRunner's stdin is no terminal
    assert result.exit_code == 2, result.output
    assert "stdin is not a terminal" in result.output and "Pass --yes" in result.output
    assert calls == []


@pytest.mark.parametrize(("args", "mode", "deploy", "extra"), [
    (["fix", "G1", "--yes"], "-y", "deploys/gap.py", ["--data", "hydra_gap=G1"]),
    (["fix", "G2", "-y", "--diff", "--limit", "hydra-compute"], "-y", "deploys/gap.py",
     ["--data", "hydra_gap=G2", "--diff", "--limit", "hydra-compute"]),
    (["fix", "G1", "--dry", "--diff", "--json"], "--dry", "deploys/gap.py",
     ["--data", "hydra_gap=G1", "--json", "--diff"]),
    (["deploy", "compute", "--dry", "--limit", "a", "--limit", "b"], "--dry", "deploys/compute.py",
     ["--limit", "a", "--limit", "b"]),
    (["deploy", "site", "--yes", "-v"], "-y", "deploys/site.py", ["-v"]),
])
def test_options_reach_pyinfra(args: list[str], mode: str, deploy: str, extra: list[str],
                               calls: list[list[str]]) -> None:
    result = CliRunner().invoke(main, [*args, "--cluster", "real"])
    assert result.exit_code == 0, result.output
    assert calls == [[mode, REAL, deploy_file(deploy), *extra]]


# -- a real terminal, real pyinfra -----------------------------------------------------------------------------------
DEPLOY = '''
from pyinfra.operations import files
files.file(name="hydra preview marker", path={path!r}, mode="644")
'''

CHILD = '''
import subprocess
import sys
import hydra_ops.cli_apply as cli_apply
cli_apply.deploy_file = str  # the scratch deploy file itself, not one of the package's
sys.exit(cli_apply.preview_then_apply("hydra deploy marker", "@local", sys.argv[1], [], yes=False, dry=False, diff=True,
                            limit=()))
'''


def on_terminal(tmp_path: Path) -> tuple[Terminal, Path]:
    marker = tmp_path / "marker"
    deploy = tmp_path / "marker_deploy.py"
    deploy.write_text(DEPLOY.format(path=str(marker)))
    term = Terminal([sys.executable, "-c", CHILD, str(deploy)])
    term.read_until("Apply these changes? [y/N]")
    return term, marker


@pytest.mark.parametrize("answer", ["n\r", "\r", "\x04"], ids=["no", "enter", "end-of-input"])
def test_a_terminal_sees_the_preview_and_anything_but_yes_changes_nothing(answer: str, tmp_path: Path) -> None:
    term, marker = on_terminal(tmp_path)
    assert "--dry @local" in term.output  # the preview is pyinfra's own dry run ...
    assert "hydra preview marker" in term.output and "1 (@local)" in term.output  # ... with its detected change
    assert not marker.exists()
    term.type(answer)
    rc = term.finish()
    assert rc == 1, term.output
    assert "Nothing was changed." in term.output and "-y @local" not in term.output
    assert not marker.exists()


def test_yes_on_the_terminal_applies(tmp_path: Path) -> None:
    term, marker = on_terminal(tmp_path)
    term.type("y\r")
    rc = term.finish()
    assert rc == 0, term.output
    assert "-y @local" in term.output and marker.exists()


def test_a_failed_preview_asks_nothing(tmp_path: Path) -> None:
    deploy = tmp_path / "broken_deploy.py"
    deploy.write_text("raise SystemExit('broken deploy')\n")
    term = Terminal([sys.executable, "-c", CHILD, str(deploy)])
    rc = term.finish()
    assert rc != 0 and "The preview failed" in term.output and "Apply these changes?" not in term.output


def test_a_dry_run_in_a_script_stops_cleanly_when_a_host_fails(tmp_path: Path) -> None:
    """pyinfra asks "hosts failed, continue?" in a preview; without a terminal that is answered no (no EOFError)."""
    inventory = tmp_path / "inventory.py"
    inventory.write_text('hosts = ["@local", ("unreachable", {"ssh_hostname": "127.0.0.1", "ssh_port": 1})]\n')
    deploy = tmp_path / "marker_deploy.py"
    deploy.write_text(DEPLOY.format(path=str(tmp_path / "marker")))
    child = CHILD.replace('"@local"', repr(str(inventory))).replace("dry=False", "dry=True")
    proc = subprocess.run([sys.executable, "-c", child, str(deploy)], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    assert "Unexpected user input: n" in output and "hosts failed" in output
    assert "EOFError" not in output and "Traceback" not in output
    assert not (tmp_path / "marker").exists()
