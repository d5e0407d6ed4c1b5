"""Issue 12, real-cluster readiness: one SSH definition, several operators' secrets. Connects to no host."""

from __future__ import annotations

import re
import runpy
import subprocess
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from hydra_ops import DEPLOYS, PACKAGE, PROJECT_ROOT
from hydra_ops.cli import main
from hydra_ops.secrets import SecretsError, SecretStore
from hydra_ops.services.secrets.options import SecretsOptions
from hydra_ops.targets import SshSpec, load_inventory, ssh_command, targets


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
    assert runner.invoke(main, ["fix", "G1", "--cluster", "real", "--yes"]).exit_code == 0
    assert runner.invoke(main, ["verify", "--cluster", "real"]).exit_code == 0
    (fix, _), (verify, env) = seen["calls"]
    # -P: the folder pyinfra and pytest run in (the inventory's) never shadows the installed hydra_ops
    assert fix[1:] == ["-P", "-m", "pyinfra", "-y", str(PROJECT_ROOT / "inventory.py"), str(DEPLOYS / "gap.py"),
                       "--data", "hydra_gap=G1"]
    # the real inventory has the Hydra hosts and both other systems: each system's smoke file joins the suite, which
    # runs from the package with its own pytest settings
    assert verify[1:] == ["-P", "-m", "pytest", "-c", str(PACKAGE / "smoke" / "smoke.ini"),
                          "--rootdir", str(PACKAGE.parent), str(PACKAGE / "smoke"),
                          str(PACKAGE / "smoke_systems" / "test_sollol.py"),
                          str(PACKAGE / "smoke_systems" / "test_spark.py"), "-m", "not acts"]
    assert env["HYDRA_CLUSTER"] == "real"


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


def test_verify_only_reads_unless_told_to_act(monkeypatch: pytest.MonkeyPatch, operator_env: Path) -> None:
    """The checks marked `acts` (a workflow run that can post alerts) are deselected unless --act is given, and the
    help says what they send."""
    import hydra_ops.cli

    calls: list[list[str]] = []
    monkeypatch.setattr(hydra_ops.cli.subprocess, "call", lambda cmd, **kw: calls.append(cmd) or 0)
    runner = CliRunner()
    assert runner.invoke(main, ["verify", "--cluster", "real", "-q"]).exit_code == 0
    assert runner.invoke(main, ["verify", "--cluster", "real", "--act", "-q"]).exit_code == 0
    assert calls[0][-2:] == ["-m", "not acts"] and "not acts" not in calls[1] and "--act" not in calls[1]
    assert "Activity API" in runner.invoke(main, ["verify", "--help"]).output
