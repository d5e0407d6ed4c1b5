"""G10's prestart run for real: the model directory must lie on a mounted filesystem other than /, as seed 002
lays it out (the mount /mnt/models, the model directory /mnt/models/exl2 below it, itself no mount point)."""

from __future__ import annotations

import shlex
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from hydra_ops import PROJECT_ROOT
from hydra_ops.services.tabbyapi.options import TabbyOptions
from hydra_ops.services.tabbyapi.state import prestart_script

MODEL = "m-exl2"


def _fs(path: Path) -> str:
    """The mount point findmnt reports for `path`."""
    return subprocess.run(["findmnt", "-n", "-o", "TARGET", "--target", str(path)], capture_output=True,
                          text=True, check=True).stdout.strip()


@pytest.fixture
def on_root(tmp_path: Path) -> Iterator[Path]:
    """A scratch directory on the root filesystem (tmp_path is not when /tmp is a tmpfs)."""
    candidates = [tmp_path, Path("/var/tmp"), PROJECT_ROOT]
    parent = next((c for c in candidates if c.is_dir() and _fs(c) == "/"), None)
    assert parent, f"none of {candidates} is on the root filesystem; the test needs one"
    with tempfile.TemporaryDirectory(dir=parent, prefix="prestart-") as scratch:
        yield Path(scratch)


def _prestart(tmp_path: Path, models: Path, *, require_mount: bool = True) -> str:
    """The rendered prestart for a model directory `models/exl2`, with a quiet port and enough fake VRAM."""
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    for name, body in {"ss": "exit 0", "nvidia-smi": "echo 30000"}.items():
        (bindir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bindir / name).chmod(0o755)
    o = TabbyOptions.model_validate({"tabby_source_sha256": "a" * 64, "tabby_model_dir": f"{models}/exl2",
                                     "tabby_model_name": MODEL, "tabby_gpus": [0], "tabby_vram_wait_sec": 0,
                                     "tabby_require_mount": require_mount})
    script = tmp_path / "prestart.sh"
    script.write_text(prestart_script(o))
    return f"PATH={shlex.quote(str(bindir))}:/usr/sbin:/usr/bin:/sbin:/bin bash {shlex.quote(str(script))}"


def _run(command: str) -> subprocess.CompletedProcess[str]:
    """Run `command` in a private mount namespace (so a test's mount never leaks to the machine)."""
    return subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", command],
                          capture_output=True, text=True, timeout=60)


def _model(models: Path) -> str:
    """Shell commands making the configured model's directory with its config.json."""
    model = shlex.quote(f"{models}/exl2/{MODEL}")
    return f"mkdir -p {model} && touch {model}/config.json"


def test_a_model_directory_below_a_mount_is_accepted(tmp_path: Path) -> None:
    models = tmp_path / "mnt/models"
    models.mkdir(parents=True)
    proc = _run(f"mount -t tmpfs models {shlex.quote(str(models))} && {_model(models)} && "
                f"{_prestart(tmp_path, models)}")
    assert proc.returncode == 0, proc.stderr
    assert "checks passed" in proc.stderr and "not on a mounted" not in proc.stderr


def test_a_model_directory_on_the_root_filesystem_is_refused(tmp_path: Path, on_root: Path) -> None:
    models = on_root / "mnt/models"  # the disk is not mounted: the directories are on /
    proc = _run(f"{_model(models)} && {_prestart(tmp_path, models)}")
    assert proc.returncode == 1
    assert f"tabbyapi-prestart: model directory {models}/exl2 is on the root filesystem, not on a mounted " \
           "models filesystem (is the models disk mounted?)" in proc.stderr
    allowed = _run(f"{_prestart(tmp_path, models, require_mount=False)}")  # the option turns the check off
    assert allowed.returncode == 0 and "checks passed" in allowed.stderr, allowed.stderr
