"""Issue 12, real-cluster readiness: TabbyAPI extras, pyinfra's own guard, one SSH definition, several operators,
GPU counts in the audit, and the README's commands for the real cluster. Nothing here connects to any host."""

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
from click.testing import CliRunner

from devcluster.doubles.pack import pack_tabbyapi
from hydra_ops import PROJECT_ROOT
from hydra_ops.cli import main
from hydra_ops.secrets import SecretsError, SecretStore
from hydra_ops.services.secrets.options import SecretsOptions
from hydra_ops.services.tabbyapi.extras import extras_check, requested_extras
from hydra_ops.targets import SshSpec, load_inventory, ssh_command, targets
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


# -- 3. one SSH definition -------------------------------------------------------------------------------------------
@pytest.fixture
def operator_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("HYDRA_SSH_USER", "ops")
    monkeypatch.setenv("HYDRA_SSH_PORT", "2222")
    monkeypatch.setenv("HYDRA_SSH_KEY", str(tmp_path / "keys" / "hydra_ed25519"))
    monkeypatch.setenv("HYDRA_SSH_KNOWN_HOSTS", str(tmp_path / "known hosts"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path


def _ssh_G(config: str, alias: str) -> dict[str, str]:
    """What OpenSSH would use for alias (`ssh -G` resolves the configuration and never connects)."""
    out = subprocess.run(["ssh", "-G", "-F", config, alias], capture_output=True, text=True, check=True).stdout
    return dict(line.split(" ", 1) for line in out.splitlines() if " " in line)


def test_verify_audit_and_leak_checks_use_the_inventorys_ssh_data(operator_env: Path) -> None:
    inventory, _ = load_inventory(PROJECT_ROOT / "inventory.py")  # what `pyinfra inventory.py` and the audit use
    real = {t.name: t for t in targets("real")}
    assert set(real) == {h.name for h in inventory}
    for host in inventory:
        data, target = host.data.dict(), real[host.name]
        assert data["ssh_strict_host_key_checking"] == "yes"
        # a non-root login reaches root through passwordless sudo, everywhere the same
        assert data["_sudo"] is True and target.sudo
        assert target.testinfra_url == f"ssh://{host.name}?ssh_config={target.ssh_config}&sudo=true"
        assert ssh_command(target, "real") == ["ssh", "-F", target.ssh_config, host.name, "sudo", "-n", "sh", "-c"]
        ssh = _ssh_G(target.ssh_config, host.name)
        assert (ssh["hostname"], ssh["user"], ssh["port"]) == (data["ssh_hostname"], "ops", "2222")
        assert ssh["identityfile"] == data["ssh_key"] == str(operator_env / "keys" / "hydra_ed25519")
        assert ssh["userknownhostsfile"] == str(operator_env / "known hosts")  # one file, quoted in the config
        assert data["ssh_known_hosts_file"] == str(operator_env / "known hosts")
        assert (ssh["batchmode"], ssh["stricthostkeychecking"], ssh["identitiesonly"]) == ("yes", "true", "yes")
    assert oct(Path(real["hydra-ai"].ssh_config).stat().st_mode & 0o777) == "0o600"


def test_testinfra_builds_its_ssh_command_from_that_config(operator_env: Path) -> None:
    import testinfra

    from hydra_ops.leaks import _argv

    target = next(t for t in targets("real") if t.name == "hydra-compute")
    backend = testinfra.get_host(target.testinfra_url).backend
    cmd, args = backend._build_ssh_command("true")
    assert cmd[0] == "ssh" and "-F %s" in cmd and args[:1] == [target.ssh_config]
    assert args[-2:] == ["hydra-compute", "true"]
    assert backend.get_command("id -u").startswith("sudo ")  # the smoke suite's commands run as root
    # the leak checks' script stays one word for `sudo -n sh -c`, so a `;` cannot escape sudo
    assert _argv(ssh_command(target, "real"), "ps -eo args; id")[-1] == "'ps -eo args; id'"


def test_root_logins_use_no_sudo(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HYDRA_SSH_USER", "root")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    target = next(t for t in targets("real") if t.name == "hydra-ai")
    assert not target.sudo and "sudo=true" not in target.testinfra_url
    assert ssh_command(target, "real") == ["ssh", "-F", target.ssh_config, "hydra-ai"]


def test_defaults_are_root_port_22_and_the_users_known_hosts(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HYDRA_SSH_USER", "HYDRA_SSH_PORT", "HYDRA_SSH_KEY", "HYDRA_SSH_KNOWN_HOSTS"):
        monkeypatch.delenv(name, raising=False)
    spec = SshSpec.from_data("hydra-ai", {"ssh_hostname": "192.168.1.250", "ssh_strict_host_key_checking": "yes"})
    assert (spec.user, spec.port, spec.key) == ("root", 22, None)
    assert spec.known_hosts == str(Path("~/.ssh/known_hosts").expanduser())
    with pytest.raises(ValueError, match="only connects with 'yes'"):
        SshSpec.from_data("hydra-ai", {"ssh_strict_host_key_checking": "no"})


def test_real_commands_target_inventory_py(monkeypatch: pytest.MonkeyPatch, operator_env: Path) -> None:
    """`hydra audit|fix|verify --cluster real`, built but not run (nothing connects)."""
    import hydra_ops.audit
    import hydra_ops.cli

    seen: dict[str, Any] = {}
    monkeypatch.setattr(hydra_ops.audit, "audit", lambda path, only: seen.update(audit=(path, only)) or [])
    monkeypatch.setattr(hydra_ops.cli.subprocess, "call",
                        lambda cmd, **kw: seen.setdefault("calls", []).append((cmd, kw.get("env"))) or 0)
    runner = CliRunner()
    assert runner.invoke(main, ["audit", "--cluster", "real", "--gap", "G1"]).exit_code == 0
    assert seen["audit"] == (str(PROJECT_ROOT / "inventory.py"), ["G1"])
    assert runner.invoke(main, ["fix", "G1", "--cluster", "real"]).exit_code == 0
    assert runner.invoke(main, ["verify", "--cluster", "real"]).exit_code == 0
    (fix, _), (verify, env) = seen["calls"]
    assert fix[1:] == ["-m", "pyinfra", "-y", str(PROJECT_ROOT / "inventory.py"), "deploys/gap.py",
                       "--data", "hydra_gap=G1"]
    assert verify[1:] == ["-m", "pytest", "-p", "no:cacheprovider", "tests/smoke"] and env["HYDRA_CLUSTER"] == "real"


# -- 4. several operators ------------------------------------------------------------------------------------------
def _age_key(path: Path) -> str:
    """Generate an age key at run time; return its public key (the private one never leaves the file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["age-keygen", "-o", str(path)], check=True, capture_output=True)
    return subprocess.run(["age-keygen", "-y", str(path)], check=True, capture_output=True, text=True).stdout.strip()


def test_added_operator_decrypts_and_a_removed_one_no_longer_can(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """`hydra secrets init / add-recipient / remove-recipient / rotate --cluster real`, on a store in tmp_path."""
    import hydra_ops.cli_secrets

    mine = SecretStore(tmp_path / "repo/secrets/hydra.sops.yaml", tmp_path / "a/age.key", tmp_path / "repo/.sops.yaml")
    mine.file.parent.mkdir(parents=True)
    monkeypatch.setattr(hydra_ops.cli_secrets, "_store", lambda name: mine)
    runner = CliRunner()
    assert runner.invoke(main, ["secrets", "init", "--cluster", "real"]).exit_code == 0
    b_pub = _age_key(tmp_path / "b/age.key")
    theirs = SecretStore(mine.file, tmp_path / "b/age.key", mine.config)
    with pytest.raises(SecretsError, match="not a recipient"):
        theirs.read()

    result = runner.invoke(main, ["secrets", "add-recipient", b_pub, "--cluster", "real"])
    assert result.exit_code == 0 and "2 recipients" in result.output
    assert mine.recipients() == [mine.recipient(), b_pub]
    assert sorted(theirs.read()) == sorted(mine.read())  # names only; values are never compared in the open
    before = mine.file.read_text()

    result = runner.invoke(main, ["secrets", "remove-recipient", b_pub, "--cluster", "real"])
    assert result.exit_code == 0 and "data key replaced" in result.output
    assert mine.recipients() == [mine.recipient()] and b_pub not in mine.file.read_text()
    with pytest.raises(SecretsError, match="not a recipient"):
        theirs.read()
    after = mine.file.read_text()
    old_data_key_gone = not (set(re.findall(r"ENC\[[^\]]+\]", before)) & set(re.findall(r"ENC\[[^\]]+\]", after)))
    assert old_data_key_gone, "sops rotate did not re-encrypt the values with a new data key"
    assert runner.invoke(main, ["secrets", "rotate", "redis_password", "--cluster", "real"]).exit_code == 0
    names = SecretsOptions.model_validate(runpy.run_path(str(PROJECT_ROOT / "group_data/all.py"))).secret_names
    assert sorted(mine.read()) == sorted(names)


def test_recipient_changes_refuse_private_keys_and_losing_access(tmp_path: Path) -> None:
    store = SecretStore(tmp_path / "secrets/x.sops.yaml", tmp_path / "a.key", tmp_path / ".sops.yaml")
    store.file.parent.mkdir()
    store.init(["redis_password"])
    private = (tmp_path / "a.key").read_text().split("\n")[-2]
    with pytest.raises(SecretsError) as exc:
        store.add_recipient(private)
    echoed = private in str(exc.value)
    assert not echoed and "PRIVATE key" in str(exc.value)
    with pytest.raises(SecretsError, match="not an age public key"):
        store.add_recipient("age1short")
    with pytest.raises(SecretsError, match="only recipient"):
        store.remove_recipient(store.recipient())
    other = _age_key(tmp_path / "b.key")
    assert store.add_recipient(other) and not store.add_recipient(other)
    with pytest.raises(SecretsError, match="your own key"):
        store.remove_recipient(store.recipient())
    assert store.recipients() == [store.recipient(), other]


def test_real_store_is_the_projects_file_and_the_operators_own_key(monkeypatch: pytest.MonkeyPatch) -> None:
    from hydra_ops.cli_secrets import _store

    monkeypatch.setenv("SOPS_AGE_KEY_FILE", "/home/op/.config/hydra-ops/age/hydra.key")
    store = _store("real")
    assert (store.file, store.config) == (PROJECT_ROOT / "secrets/hydra.sops.yaml", PROJECT_ROOT / ".sops.yaml")
    assert store.key_file == Path("/home/op/.config/hydra-ops/age/hydra.key")


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


# -- 6. expected_gpu_count -------------------------------------------------------------------------------------------
GPUS = [{"index": 0, "name": "NVIDIA GeForce RTX 5090"}, {"index": 1, "name": "NVIDIA GeForce RTX 4090"}]


def test_gpu_count_is_compared_with_expected_gpu_count() -> None:
    from hydra_ops.detectors import gpu_count

    assert gpu_count(GPUS, 2) == (True, "nvidia-smi: 2 GPU(s) (0: NVIDIA GeForce RTX 5090, 1: NVIDIA GeForce RTX "
                                        "4090), expected_gpu_count 2")
    ok, line = gpu_count(GPUS[:1], 2)
    assert not ok and line.endswith("expected_gpu_count 2 (GPU COUNT DIFFERS)")
    assert gpu_count([], 0)[0] and not gpu_count(GPUS, 0)[0]
    assert gpu_count(GPUS, None) == (True, "nvidia-smi: 2 GPU(s) (0: NVIDIA GeForce RTX 5090, 1: NVIDIA GeForce "
                                           "RTX 4090); expected_gpu_count not set")


class _Host:
    """Just enough of a pyinfra Host for a detector: canned facts and host data."""

    name = "hydra-ai"

    def __init__(self, data: dict[str, Any], gpus: list[dict[str, Any]]) -> None:
        self.data, self.gpus = _Data(data), gpus

    def get_fact(self, fact: type, **kwargs: Any) -> Any:
        from facts.gpus import NvidiaGpus
        from facts.systemd_units import SystemdUnitState

        if fact is NvidiaGpus:
            return self.gpus
        if fact is SystemdUnitState:
            return {"LoadState": "loaded", "ActiveState": "active", "UnitFileState": "enabled",
                    "StartLimitBurst": "5", "ExecStartPre": "/usr/local/lib/hydra-ops/tabbyapi-prestart.sh"}
        return "200"


class _Data(dict):
    def dict(self) -> dict[str, Any]:
        return dict(self)


@pytest.mark.parametrize(("gpus", "status"), [(GPUS, "closed"), (GPUS[:1], "open")])
def test_g10_detector_reports_a_host_whose_gpu_count_differs(gpus: list[dict[str, Any]], status: str) -> None:
    from hydra_ops.services.tabbyapi.detect import detect as tabbyapi

    data = runpy.run_path(str(PROJECT_ROOT / "group_data" / "ai.py"))
    finding = tabbyapi(_Host({"tabby_port": 5000, "expected_gpu_count": data["expected_gpu_count"]}, gpus))
    assert finding.status == status
    assert any(line.startswith(f"nvidia-smi: {len(gpus)} GPU(s)") for line in finding.evidence)


@pytest.mark.parametrize("gpus", [GPUS, [*GPUS, {"index": 2, "name": "NVIDIA GeForce RTX 5070 Ti"}], GPUS[:1]])
def test_g1_detector_reports_a_host_whose_gpu_count_differs(compute_data: dict[str, Any],
                                                           gpus: list[dict[str, Any]]) -> None:
    from hydra_ops.registry import gap

    class Compute(_Host):
        name = "hydra-compute"

        def get_fact(self, fact: type, **kwargs: Any) -> Any:
            from facts.gpus import NvidiaGpus
            from facts.systemd_units import SystemdUnitState

            if fact in (NvidiaGpus, SystemdUnitState):
                return super().get_fact(fact, **kwargs)
            return "" if "command" in kwargs else {}  # anything else the detector reads: empty

    assert compute_data["expected_gpu_count"] == 2
    finding = gap("G1").load("detector")(Compute(compute_data, gpus))
    differs = len(gpus) != 2
    assert finding.evidence[0] == gpu_count_line(gpus, 2)
    assert ("GPU COUNT DIFFERS" in finding.evidence[0]) is differs and (finding.status == "open" or not differs)


def gpu_count_line(gpus: list[dict[str, Any]], expected: int) -> str:
    from hydra_ops.detectors import gpu_count

    return gpu_count(gpus, expected)[1]
