"""The operator's install: the built wheel in a fresh venv outside the checkout, used without root from another folder.

The wheel is built from a copy of the checkout (setuptools' build/ would otherwise leak stale files into it) and
installed with the system's python3 into a venv without system site-packages, so a missing dependency shows.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from hydra_ops import PACKAGE, PROJECT_ROOT
from hydra_ops.registry import gaps

LAB_ONLY = ("devcluster/", "tests/", "facts/", "deploys/", "templates/")  # top-level names the wheel must not hold
SHIPPED = ("templates", "deploys", "smoke", "smoke_systems", "facts", "stack_files")  # package folders it must hold
JUNK = shutil.ignore_patterns(".venv", ".cluster*", ".git", "build", "*.egg-info", "__pycache__", ".hypothesis",
                              ".ruff_cache", "group_data.local")
PINS = '''
tabby_source_sha256 = "{sha}"
tabby_models = [{{"repo": "example/model-exl2", "revision": "4.0bpw", "dest": "model-exl2",
                 "files": {{"config.json": "{sha}"}}}}]
'''


@dataclass
class Operator:
    """A venv with the wheel installed, and how to run its `hydra` as an unprivileged user."""

    root: Path
    wheel: Path

    def run(self, *args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Run `hydra ARGS` as nobody (or the current non-root user) with a clean environment: no HYDRA_CLUSTER."""
        return _as_operator([str(self.root / "venv/bin/hydra"), *args], cwd, self.root, env)


def _as_operator(cmd: list[str], cwd: Path, root: Path, env: dict[str, str] | None = None,
                 timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run cmd without root (setpriv to nobody when the tests run as root) in a fresh environment: the machine's
    pip settings (PIP_*) only, no HYDRA_* and no PYTHONPATH."""
    base = {"PATH": f"{root / 'venv/bin'}:/usr/bin:/bin", "HOME": str(root / "home"), "LANG": "C.UTF-8",
            **{k: v for k, v in os.environ.items() if k.startswith("PIP_")}, **(env or {})}
    drop = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"] if os.geteuid() == 0 else []
    return subprocess.run([*drop, *cmd], cwd=cwd, env=base, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def operator() -> Iterator[Operator]:
    """Build the wheel from a copy of the checkout, then install it into a fresh venv in a world-readable temp dir."""
    root = Path(tempfile.mkdtemp(prefix="hydra-wheel-", dir="/tmp"))
    try:
        root.chmod(0o755)
        src = root / "src"
        shutil.copytree(PROJECT_ROOT, src, ignore=JUNK, symlinks=True)
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(root / "dist"), str(src)],
                       check=True, capture_output=True, timeout=300)
        (wheel,) = (root / "dist").glob("hydra_ops-*.whl")
        for folder in ("home", "elsewhere", "venv"):
            (root / folder).mkdir(mode=0o777)
            (root / folder).chmod(0o777)  # the operator (nobody) writes here; mkdir's mode is cut by the umask
        proc = _as_operator(["/usr/bin/python3", "-m", "venv", str(root / "venv")], root, root)
        assert proc.returncode == 0, proc.stderr
        proc = _as_operator([str(root / "venv/bin/pip"), "install", "-q", str(wheel)], root, root, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        yield Operator(root, wheel)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def pinned(operator: Operator) -> Path:
    """The repository's inventory.py and group_data/ copied as an operator keeps them, with the pins filled in."""
    folder = operator.root / "hydra-site"
    folder.mkdir()
    shutil.copy(PROJECT_ROOT / "inventory.py", folder)
    shutil.copytree(PROJECT_ROOT / "group_data", folder / "group_data", ignore=JUNK)
    with open(folder / "group_data" / "ai.py", "a") as f:
        f.write(PINS.format(sha="ab" * 32))
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return folder


def test_wheel_holds_the_package_with_its_files_and_no_lab(operator: Operator) -> None:
    names = zipfile.ZipFile(operator.wheel).namelist()
    assert {n.split("/")[0] for n in names} == {"hydra_ops", operator.wheel.name.split("-py3")[0] + ".dist-info"}
    assert not [n for n in names if n.startswith(LAB_ONLY)]
    for folder in SHIPPED:
        files = {f"hydra_ops/{p.relative_to(PACKAGE).as_posix()}" for p in (PACKAGE / folder).rglob("*")
                 if p.is_file() and "__pycache__" not in p.parts}
        assert files and files <= set(names), (folder, sorted(files - set(names)))
    meta = zipfile.ZipFile(operator.wheel).read(f"{operator.wheel.name.split('-py3')[0]}.dist-info/METADATA").decode()
    required = {re.split(r"[ =<>;\[]", line.split(": ", 1)[1])[0].lower()
                for line in meta.splitlines() if line.startswith("Requires-Dist:") and "extra ==" not in line}
    assert {"pyinfra", "gevent", "pydantic", "uptime-kuma-api", "pytest", "pytest-testinfra", "redis"} <= required


def test_installed_hydra_knows_its_version_and_has_no_lab(operator: Operator) -> None:
    version = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]["version"]
    proc = operator.run("--version", cwd=operator.root / "elsewhere")
    assert (proc.returncode, proc.stdout.strip()) == (0, f"hydra, version {version}")
    proc = operator.run("cluster", "status", cwd=operator.root / "elsewhere")
    assert proc.returncode == 2 and "runs from a checkout of hydra-ops only" in proc.stderr, proc.stderr


def test_installed_hydra_validates_the_real_inventory_from_another_folder(operator: Operator, pinned: Path) -> None:
    hosts = ["hydra-ai", "hydra-compute", "hydra-storage", "sollol-1", "sollol-2", "spark-1", "spark-2"]
    # the repository's own inventory (pins left for the operator): every host checked, hydra-ai's pins named
    proc = operator.run("validate", "--inventory", str(PROJECT_ROOT / "inventory.py"), cwd=operator.root / "elsewhere")
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.split() == [w for h in hosts[1:] for w in (f"{h}:", "ok")]
    assert "invalid group data for hydra-ai" in proc.stderr and "tabby_source_sha256" in proc.stderr
    assert "Traceback" not in proc.stderr
    # the operator's folder: inventory.py and group_data/ in the current directory, no flag, the real cluster
    proc = operator.run("validate", cwd=pinned)
    assert (proc.returncode, proc.stdout.split()) == (0, [w for h in hosts for w in (f"{h}:", "ok")]), proc.stderr
    # no inventory where hydra runs: one line that says where it looked, nothing else
    proc = operator.run("validate", cwd=operator.root / "elsewhere")
    assert proc.returncode == 2 and "inventory.py does not exist" in proc.stderr and "Traceback" not in proc.stderr


def test_installed_runbook_prints_commands_that_work(operator: Operator, pinned: Path) -> None:
    proc = operator.run("runbook", cwd=operator.root / "elsewhere")
    assert proc.returncode == 0, proc.stderr
    implemented = [g for g in gaps() if g.implemented]
    assert [m for m in re.findall(r"^## (\w+):", proc.stdout, re.M)] == [g.id for g in gaps()]
    assert "pyinfra inventory.py" not in proc.stdout  # an operator has no deploys/ folder: hydra deploy runs them
    deploys = re.findall(r"`hydra deploy (\w+)`", proc.stdout)
    assert len(deploys) == len(implemented)
    choices = operator.run("deploy", "--help", cwd=pinned).stdout
    listed = re.search(r"\{([\w|]+)\}", choices)  # click prints a Choice argument as {a|b|c}
    assert listed and set(deploys) <= set(listed.group(1).split("|")), choices
    fixes = re.findall(r"`hydra fix (\w+)`", proc.stdout)
    assert fixes == [g.id for g in implemented]
    # each Verify line as printed, collected by the installed smoke suite (no host is reached while collecting)
    smoke = sorted({p for line in re.findall(r"`hydra verify -- ([^`]+)`", proc.stdout) for p in line.split()})
    assert len(smoke) >= len({s for g in implemented for s in g.smoke})
    run = operator.run("verify", "--", "--co", "-q", *smoke, cwd=pinned,
                       env={"XDG_CACHE_HOME": str(operator.root / "home" / ".cache")})
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    collected = re.search(r"^(\d+)(?:/\d+)? tests? collected", run.stdout, re.M)  # n/m: checks that act
    assert collected and int(collected.group(1)) >= len(smoke), run.stdout[-2000:]
    ids = [line for line in run.stdout.splitlines() if "::" in line]
    assert ids and all(i.startswith(("hydra_ops/smoke/", "hydra_ops/smoke_systems/")) for i in ids), ids
