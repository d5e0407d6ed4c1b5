"""Issue 12, real-cluster readiness: TabbyAPI extras, pyinfra's own guard, the pins. Connects to no host."""

from __future__ import annotations

import importlib.metadata as md
import re
import runpy
import shlex
import subprocess
import sys
import tarfile
import tomllib
from pathlib import Path
from typing import Any

import pytest

from devcluster.doubles.pack import pack_tabbyapi
from hydra_ops import PROJECT_ROOT
from hydra_ops.services.tabbyapi.extras import extras_check, requested_extras
from hydra_ops.targets import load_inventory
from hydra_ops.validation import ValidationError

#: Extras of theroyallab/tabbyAPI's pyproject.toml in the ExLlamaV2 era (cu12 = torch 2.8.0+cu128, exllamav2 0.3.2).
UPSTREAM_EXTRAS = {"cu12", "amd", "extras", "dev"}


# -- 1. TabbyAPI install spec --------------------------------------------------------------------------------------
@pytest.fixture
def source(tmp_path: Path) -> Path:
    """The TabbyAPI double's source archive, unpacked as the deploy unpacks it (top directory stripped)."""
    archive, _ = pack_tabbyapi(tmp_path / "dl")
    app = tmp_path / "opt tabby's" / "exl2"  # a space and a quote: every value must be quoted
    app.mkdir(parents=True)
    with tarfile.open(archive) as tar:
        for member in tar.getmembers()[1:]:
            member.name = member.name.split("/", 1)[1]
            tar.extract(member, app, filter="data")
    return app


def _venv_step(app: Path, packages: list[str]) -> subprocess.CompletedProcess[str]:
    """G10's venv command up to the venv: the extras check, then `python3 -m venv` stood in for by mkdir."""
    return subprocess.run(["sh", "-c", f"set -e; cd {shlex.quote(str(app))}; {extras_check(str(app), packages)}"
                           "mkdir venv"], capture_output=True, text=True)


def test_default_spec_asks_for_the_cuda_12_8_extra_the_source_defines() -> None:
    from hydra_ops.services.tabbyapi.options import options

    packages = options({"tabby_source_sha256": "a" * 64}, "hydra-ai").tabby_pip_packages  # the declared default
    assert requested_extras(packages) == [(".[cu12]", "cu12")]
    assert {e for _, e in requested_extras(packages)} <= UPSTREAM_EXTRAS


def test_the_double_archive_declares_the_real_extras(source: Path) -> None:
    project = tomllib.loads((source / "pyproject.toml").read_text())["project"]
    assert set(project["optional-dependencies"]) == UPSTREAM_EXTRAS
    assert (source / "main.py").is_file()


def test_a_defined_extra_passes_and_the_venv_is_built(source: Path) -> None:
    proc = _venv_step(source, [".[cu12]", "exllamav2==0.3.2"])
    assert proc.returncode == 0, proc.stderr
    assert (source / "venv").is_dir()


def test_an_undefined_extra_is_refused_before_any_venv(source: Path) -> None:
    proc = _venv_step(source, [".[cu121]", "exllamav2==0.3.2"])
    assert proc.returncode != 0 and not (source / "venv").exists()
    assert proc.stderr.strip() == (f"TabbyAPI source {source}/pyproject.toml defines no extra 'cu121' "
                                   "(tabby_pip_packages: '.[cu121]'); it defines: amd, cu12, dev, extras")


def test_a_source_without_pyproject_refuses_extras(tmp_path: Path) -> None:
    proc = _venv_step(tmp_path, ["./[cu12,amd]"])
    assert proc.returncode != 0 and not (tmp_path / "venv").exists()
    assert "defines no extra 'cu12'" in proc.stderr and "defines no extra 'amd'" in proc.stderr


def test_specs_without_extras_of_the_source_need_no_check() -> None:
    assert extras_check("/opt/x", ["PyYAML==6.0.3", ".", "exllamav2[foo]==0.3.2"]) == ""


def test_g10_runs_the_check_before_it_creates_the_venv() -> None:
    text = (PROJECT_ROOT / "hydra_ops" / "services" / "tabbyapi" / "install.py").read_text()
    assert re.search(r"\{extras_check\(app, o\.tabby_pip_packages\)\}rm -rf venv; python3 -m venv venv", text)


# -- 2. pyinfra's own guard (config.py) ----------------------------------------------------------------------------
def _run_config() -> Any:
    from pyinfra.api import Config
    from pyinfra.context import ctx_config

    config = Config()
    with ctx_config.use(config):
        runpy.run_path(str(PROJECT_ROOT / "config.py"))
    return config


def test_config_pins_pyinfra_like_pyproject_and_requires_hydra_ops() -> None:
    config = _run_config()  # passes in the project's environment
    deps = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert f"pyinfra{config.REQUIRE_PYINFRA_VERSION}" in deps
    assert config.REQUIRE_PACKAGES == ["hydra-ops"]


def test_another_pyinfra_version_stops_with_pyinfras_message(monkeypatch: pytest.MonkeyPatch) -> None:
    import pyinfra.api.config
    from pyinfra.api.exceptions import PyinfraError

    monkeypatch.setattr(pyinfra.api.config, "__version__", "3.9.2")
    with pytest.raises(PyinfraError) as exc:
        _run_config()
    assert str(exc.value) == "pyinfra version requirement not met (requires ==3.10.*, running 3.9.2)"


def _closure(name: str, seen: set[str]) -> set[str]:
    """A distribution and everything it needs here (unconditional requirements), by normalized name."""
    from packaging.requirements import Requirement

    key = re.sub(r"[-_.]+", "-", name).lower()
    if key in seen:
        return seen
    seen.add(key)
    for req in md.distribution(name).requires or []:
        r = Requirement(req)
        if not r.marker or r.marker.evaluate({"extra": ""}):
            _closure(r.name, seen)
    return seen


def test_a_pyinfra_only_environment_stops_at_once(tmp_path: Path) -> None:
    """The issue's case: pyinfra 3.10 installed on its own (pipx style), run from the project directory."""
    wanted = _closure("pyinfra", set())
    lib = tmp_path / "lib"
    lib.mkdir()
    for dist in md.distributions():
        if re.sub(r"[-_.]+", "-", dist.metadata["Name"]).lower() in wanted:
            for entry in {Path(str(f)).parts[0] for f in dist.files or [] if not str(f).startswith("..")}:
                if not (lib / entry).exists():
                    (lib / entry).symlink_to(Path(str(dist.locate_file(entry))))
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "venv")], check=True)
    site = next((tmp_path / "venv" / "lib").glob("python3*/site-packages"))
    (site / "pyinfra-only.pth").write_text(f"{lib}\n")
    inventory = tmp_path / "inventory.py"  # unreachable on purpose, in case the guard ever let it through
    inventory.write_text('guard = [("guard-test", {"ssh_hostname": "127.0.0.1", "ssh_port": 1})]\n')
    proc = subprocess.run([str(tmp_path / "venv/bin/python"), "-m", "pyinfra", "-y", "--dry", str(inventory),
                           "deploys/compute.py"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert re.search(r"--> pyinfra error in \S+/config\.py line \d+: Deploy requirements \(\['hydra-ops'\]\) "
                     r"not met: missing \S", out), out
    assert "Loading inventory" not in out and "Traceback" not in out, out


# -- 5. the pins `hydra validate --cluster real` asks for -------------------------------------------------------------
def test_pins_are_the_sha256sum_of_what_is_downloaded(tmp_path: Path) -> None:
    """README: `sha256sum` of the source archive (and of each model file) is the value to pin."""
    from hydra_ops.services import ai
    from hydra_ops.services.models.options import ModelsOptions

    archive, sha = pack_tabbyapi(tmp_path)
    assert subprocess.run(["sha256sum", str(archive)], capture_output=True, text=True).stdout.split()[0] == sha
    inventory, _ = load_inventory(PROJECT_ROOT / "inventory.py")
    data = dict(inventory.get_host("hydra-ai").data.dict())
    model = {**ModelsOptions.model_fields["tabby_models"].get_default(call_default_factory=True)[0],
             "files": {"config.json": sha}}
    with pytest.raises(ValidationError, match="tabby_source_sha256: '' is not set"):
        ai({**data, "tabby_models": [model]}, "hydra-ai")  # the production data, unpinned, is refused
    ai({**data, "tabby_source_sha256": sha, "tabby_models": [model]}, "hydra-ai")  # no longer refused
