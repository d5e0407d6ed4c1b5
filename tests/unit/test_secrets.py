"""The secrets store: encrypted at rest, fails closed, errors name secrets never values; check and migrate."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from hydra_ops.secrets import SecretsError, SecretStore
from hydra_ops.secrets_audit import check, migrate
from hydra_ops.services.secrets.options import options as validate_secrets
from hydra_ops.validation import ValidationError

NAMES = ["redis_password", "litellm_master_key", "postgres_password"]


@pytest.fixture
def store(tmp_path: Path) -> SecretStore:
    s = SecretStore(tmp_path / "repo/secrets/test.sops.yaml", tmp_path / "keys/age.key", tmp_path / "repo/.sops.yaml")
    s.file.parent.mkdir(parents=True)
    assert s.init(NAMES) == NAMES
    return s


def test_init_makes_a_private_key_rules_and_an_encrypted_file(store: SecretStore) -> None:
    assert store.key_file.stat().st_mode & 0o777 == 0o600
    assert "path_regex: ^secrets/" in store.config.read_text()
    values = store.read()
    assert sorted(values) == sorted(NAMES) and all(len(v) >= 40 for v in values.values())
    raw = store.file.read_text()
    assert "sops:" in raw and all(v not in raw for v in values.values())
    assert store.init(NAMES) == []  # idempotent: nothing new, file untouched
    assert store.read() == values


def test_rotate_changes_only_the_named_secret(store: SecretStore) -> None:
    before = store.read()
    store.rotate(["redis_password"])
    after = store.read()
    assert after["redis_password"] != before["redis_password"]
    assert {k: v for k, v in after.items() if k != "redis_password"} == {
        k: v for k, v in before.items() if k != "redis_password"}
    with pytest.raises(SecretsError, match=r"no such secret .*: nope"):
        store.rotate(["nope"])


def test_a_path_outside_the_rules_is_refused(store: SecretStore) -> None:
    stray = SecretStore(store.config.parent / "elsewhere/x.sops.yaml", store.key_file, store.config)
    with pytest.raises(SecretsError, match="no matching creation rules"):
        stray.write({"a": "b"})
    assert not stray.file.exists()


def test_a_key_that_is_not_a_recipient_cannot_decrypt(store: SecretStore, tmp_path: Path) -> None:
    other = tmp_path / "other.key"
    subprocess.run(["age-keygen", "-o", str(other)], check=True, capture_output=True)
    with pytest.raises(SecretsError, match="cannot decrypt") as err:
        SecretStore(store.file, other, store.config).read()
    assert all(v not in str(err.value) for v in store.read().values())


def test_missing_key_file_and_missing_secret_are_clear(store: SecretStore, tmp_path: Path) -> None:
    with pytest.raises(SecretsError, match=r"age key .* not found"):
        SecretStore(store.file, tmp_path / "absent.key", store.config).read()
    with pytest.raises(SecretsError, match="lacks secrets the deploy needs: tabby_api_key") as err:
        store.require(["redis_password", "tabby_api_key"])
    assert all(v not in str(err.value) for v in store.read().values())


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def test_check_finds_plaintext_values_and_unencrypted_secrets_files(store: SecretStore) -> None:
    repo = store.config.parent
    _git(repo, "init", "-q")
    value = store.read()["postgres_password"]
    (repo / "compose.yaml").write_text(f"POSTGRES_PASSWORD: {value}\n")
    (repo / "secrets/plain.sops.yaml").write_text("redis_password: hunter2hunter2\n")
    _git(repo, "add", "-A")
    problems = {(p.path, p.what) for p in check(repo, store)}
    assert ("compose.yaml", "contains the decrypted value of postgres_password") in problems
    assert any(p == "secrets/plain.sops.yaml" and "without sops encryption" in w for p, w in problems)
    assert all(value not in w for _, w in problems)
    (repo / "compose.yaml").write_text("POSTGRES_PASSWORD_FILE: /run/secrets/postgres\n")
    (repo / "secrets/plain.sops.yaml").unlink()
    _git(repo, "add", "-A")
    assert check(repo, store) == []


def test_migrate_moves_plaintext_into_the_store_and_leaves_references(store: SecretStore, tmp_path: Path) -> None:
    existing = store.read()["redis_password"]
    config = tmp_path / "router-config.yaml"
    config.write_text(yaml.safe_dump({
        "model_list": [{"model_name": "fast", "litellm_params": {"api_base": "http://lb:11400"}}],
        "litellm_settings": {"cache_params": {"type": "redis", "password": existing}},
        "general_settings": {"master_key": "sk-plaintext-master-0123456789", "database_url": "postgres://db"},
    }))
    moved = migrate([config], store)
    assert sorted(moved[str(config)]) == ["master_key", "redis_password"]
    doc: Any = yaml.safe_load(config.read_text())
    assert doc["litellm_settings"]["cache_params"]["password"] == "os.environ/REDIS_PASSWORD"
    assert doc["general_settings"]["master_key"] == "os.environ/MASTER_KEY"
    assert doc["general_settings"]["database_url"] == "postgres://db"
    assert store.read()["master_key"] == "sk-plaintext-master-0123456789"
    assert "sk-plaintext" not in config.read_text()
    assert migrate([config], store) == {}


@pytest.mark.parametrize(("override", "message"), [
    ({"secret_files": [{"secret": "nope", "owner": "root", "group": "root"}]},
     "secret_files: 'nope' is not listed in secret_names"),
    ({"secret_files": [{"secret": "redis_password"}]}, "secret_files[0].owner: missing"),
    ({"secret_files": [{"secret": "redis_password", "owner": "root", "group": "root", "mode": "644"}]},
     "secret_files[0].mode: extra inputs are not permitted"),
    ({"secret_files": [{"secret": "redis_password", "owner": "root", "group": "root"}] * 2},
     "secret_files: 'redis_password' is listed twice"),
    ({"secret_names": ["Bad-Name"]}, "secret_names[0]: 'Bad-Name' is not a lower_snake_case name"),
    ({"secret_dir": "relative/dir"}, "secret_dir: 'relative/dir' is not an absolute path"),
    ({"secret_dirs": "/etc/s"}, "secret_dirs: unknown setting; did you mean secret_dir?"),
])
def test_bad_secret_data_is_named(override: dict[str, Any], message: str) -> None:
    data = {"secrets_file": "s.sops.yaml", "sops_config": ".sops.yaml", "age_key_file": "k", "secret_dir": "/etc/s",
            "secret_names": ["redis_password"], "secret_files": []}
    with pytest.raises(ValidationError, match="nothing was changed") as err:
        validate_secrets({**data, **override}, "hydra-storage")
    assert message in str(err.value)


def test_unset_secret_settings_take_their_declared_defaults() -> None:
    o = validate_secrets({}, "hydra-ai")
    assert o.secret_dir == "/etc/hydra/secrets" and o.secret_files == [] and "tabby_api_key" in o.secret_names
    assert SecretStore.from_data({}).file.name == "hydra.sops.yaml"


def test_migrate_writes_and_verifies_the_store_before_any_plaintext_file(store: SecretStore, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A store write that fails (sops refuses: no creation rule matches) loses nothing: the file keeps its value."""
    config = tmp_path / "router-config.yaml"
    original = yaml.safe_dump({"general_settings": {"master_key": "sk-plaintext-master-0123456789"}})
    config.write_text(original)
    broken = SecretStore(tmp_path / "elsewhere/x.sops.yaml", store.key_file, store.config)
    broken.file.parent.mkdir()
    broken.file.write_bytes(store.file.read_bytes())  # readable, but sops will not encrypt a file at this path
    with pytest.raises(SecretsError):
        migrate([config], broken)
    assert config.read_text() == original
    assert "master_key" not in store.read()
    # and a store that "writes" but loses the value is caught by the read-back before the file is touched
    monkeypatch.setattr(SecretStore, "write", lambda self, values: None)
    with pytest.raises(SecretsError, match="did not keep master_key; no plaintext file was rewritten"):
        migrate([config], store)
    assert config.read_text() == original


def test_an_age_key_others_can_read_or_git_could_commit_is_refused(store: SecretStore, tmp_path: Path) -> None:
    store.key_file.chmod(0o644)
    with pytest.raises(SecretsError, match=r"readable by group or others \(mode 644\); run: chmod 600"):
        store.read()
    store.key_file.chmod(0o600)
    assert store.read()
    from hydra_ops import PROJECT_ROOT

    inside = PROJECT_ROOT / "hydra-test-age-key.txt"  # not matched by .gitignore
    try:
        inside.write_bytes(store.key_file.read_bytes())
        inside.chmod(0o600)
        with pytest.raises(SecretsError, match="inside the repository and not git-ignored"):
            SecretStore(store.file, inside, store.config).read()
    finally:
        inside.unlink()


def test_cli_migrate_of_local_files_still_works(store: SecretStore, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The FILES form of `hydra secrets migrate` (the --host form is tested in test_secrets_remote.py)."""
    from click.testing import CliRunner

    from hydra_ops import cli_secrets
    from hydra_ops.cli import main

    monkeypatch.setattr(cli_secrets, "_store", lambda cluster_name: store)
    config = tmp_path / "router-config.yaml"
    config.write_text(yaml.safe_dump({"general_settings": {"master_key": "sk-plaintext-master-0123456789"}}))
    out = CliRunner().invoke(main, ["secrets", "migrate", str(config)])
    assert out.exit_code == 0 and f"{config}: moved master_key" in out.output, out.output
    assert "sk-plaintext" not in out.output + config.read_text()
    assert CliRunner().invoke(main, ["secrets", "migrate", str(config)]).output == "no plaintext secrets found\n"
    neither = CliRunner().invoke(main, ["secrets", "migrate"])
    assert neither.exit_code == 2 and "give either FILES" in neither.output
    replace = CliRunner().invoke(main, ["secrets", "migrate", "--replace", str(config)])
    assert replace.exit_code == 2 and "--replace only applies with --host" in replace.output
