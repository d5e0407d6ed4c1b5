"""`hydra secrets migrate --host`: values move from a host's YAML and .env files into the store (verified first),
conflicts refuse before anything is written, a re-run is a no-op, and no message ever shows a value.

The host is a directory here (DirTransport); the ssh transport's own script runs against a local directory through
a stand-in `ssh` that hands its command line to sh, as sshd does (no connection is made).
"""

from __future__ import annotations

import os
import secrets as pysecrets
import stat
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from hydra_ops import PROJECT_ROOT
from hydra_ops.secrets import SecretsError, SecretStore
from hydra_ops.secrets_audit import env_comment, rewrite, scan
from hydra_ops.secrets_remote import MigrationRefused, Remote, SshTransport, migrate_host, plan
from hydra_ops.services.secrets.options import is_dotenv
from hydra_ops.services.secrets.options import options as validate_secrets
from hydra_ops.targets import load_inventory
from hydra_ops.validation import ValidationError

HOST = "hydra-storage"
STACK = "/mnt/user/appdata/hydra-stack"
ROUTER, ENV = f"{STACK}/litellm/router-config.yaml", f"{STACK}/.env"
SOURCES = {
    ROUTER: {"router_settings.redis_password": "redis_password", "general_settings.master_key": "litellm_master_key",
             "general_settings.database_password": "postgres_password"},
    ENV: {"LITELLM_KEY": "litellm_master_key", "REDIS_PASSWORD": "redis_password",
          "POSTGRES_PASSWORD": "postgres_password"},
}


class DirTransport:
    """A host that is a directory: absolute paths live under root; writes replace the file keeping its mode."""

    def __init__(self, root: Path) -> None:
        self.root, self.writes = root, 0

    def _at(self, path: str) -> Path:
        return self.root / path.lstrip("/")

    def read(self, path: str) -> str | None:
        file = self._at(path)
        return file.read_text() if file.exists() else None

    def write(self, path: str, old: str, new: str) -> None:
        file = self._at(path)
        assert file.read_text() == old
        tmp = file.with_name(f".{file.name}.tmp")
        tmp.write_text(new)
        tmp.chmod(file.stat().st_mode & 0o7777)
        tmp.replace(file)
        self.writes += 1


def router_text(r: str, m: str, p: str) -> str:
    return ("# LiteLLM router (seed 000)\nmodel_list:\n  - model_name: fast\n    litellm_params: {api_base: "
            "\"http://lb:11400\"}\nrouter_settings:\n  routing_strategy: simple-shuffle\n  redis_host: redis\n"
            f"  redis_port: 6379\n  redis_password: {r}  # same as .env\ngeneral_settings:\n  master_key: \"{m}\"\n"
            "  database_url: \"postgresql://postgres@postgres:5432/hydra\"\n"
            f"  database_password: '{p}'\n")


def env_text(r: str, m: str, p: str) -> str:
    return f"# compose env\nLITELLM_KEY={m}\nexport REDIS_PASSWORD='{r}'\nPOSTGRES_PASSWORD=\"{p}\"  # initdb\nTZ=UTC\n"


@pytest.fixture
def values() -> dict[str, str]:
    return {n: pysecrets.token_urlsafe(24) for n in ("redis_password", "litellm_master_key", "postgres_password")}


@pytest.fixture
def host(tmp_path: Path, values: dict[str, str]) -> DirTransport:
    """The seed's layout on hydra-storage (router-config.yaml 0644, .env 0600)."""
    fake = DirTransport(tmp_path / "host")
    r, m, p = values["redis_password"], values["litellm_master_key"], values["postgres_password"]
    for path, text, mode in ((ROUTER, router_text(r, m, p), 0o644), (ENV, env_text(r, m, p), 0o600)):
        file = fake._at(path)
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(text)
        file.chmod(mode)
    return fake


@pytest.fixture
def store(tmp_path: Path) -> SecretStore:
    """A real sops+age store holding init's random values for two of the names (not the host's)."""
    s = SecretStore(tmp_path / "repo/secrets/t.sops.yaml", tmp_path / "keys/age.key", tmp_path / "repo/.sops.yaml")
    s.file.parent.mkdir(parents=True)
    s.init(["tabby_api_key"])
    return s


def no_value_in(text: str, values: dict[str, str]) -> bool:
    return all(v not in text for v in values.values())


# -- reading and rewriting the texts -------------------------------------------------------------------------------
def test_scan_reads_the_listed_yaml_and_dotenv_values(values: dict[str, str]) -> None:
    r, m, p = values["redis_password"], values["litellm_master_key"], values["postgres_password"]
    found = scan(router_text(r, m, p), SOURCES[ROUTER], dotenv=False)
    assert found.values == {"router_settings.redis_password": r, "general_settings.master_key": m,
                            "general_settings.database_password": p}
    assert found.problems == [] and found.migrated == []
    found = scan(env_text(r, m, p), SOURCES[ENV], dotenv=True)
    assert found.values == {"LITELLM_KEY": m, "REDIS_PASSWORD": r, "POSTGRES_PASSWORD": p} and not found.problems
    assert is_dotenv(ENV) and is_dotenv("/x/stack.env") and not is_dotenv(ROUTER)


def test_rewrite_leaves_references_and_comments_and_keeps_everything_else(values: dict[str, str]) -> None:
    r, m, p = values["redis_password"], values["litellm_master_key"], values["postgres_password"]
    text = router_text(r, m, p)
    new = rewrite(text, SOURCES[ROUTER], scan(text, SOURCES[ROUTER], False), False)
    assert no_value_in(new, values)
    assert "# LiteLLM router (seed 000)" in new and "# same as .env" in new  # comments survive
    doc: Any = yaml.safe_load(new)
    assert doc["router_settings"] == {"routing_strategy": "simple-shuffle", "redis_host": "redis", "redis_port": 6379,
                                      "redis_password": "os.environ/REDIS_PASSWORD"}
    assert doc["general_settings"] == {"master_key": "os.environ/LITELLM_MASTER_KEY",
                                       "database_url": "postgresql://postgres@postgres:5432/hydra",
                                       "database_password": "os.environ/POSTGRES_PASSWORD"}
    env = env_text(r, m, p)
    new = rewrite(env, SOURCES[ENV], scan(env, SOURCES[ENV], True), True)
    assert new.splitlines() == ["# compose env", env_comment("LITELLM_KEY", "litellm_master_key"),
                                env_comment("REDIS_PASSWORD", "redis_password"),
                                env_comment("POSTGRES_PASSWORD", "postgres_password"), "TZ=UTC"]
    assert env_comment("LITELLM_KEY", "litellm_master_key") == (
        "# LITELLM_KEY moved to the sops store as litellm_master_key (hydra secrets migrate)")


def test_a_flow_style_yaml_is_rewritten_in_place() -> None:
    text = "router_settings: {routing_strategy: simple-shuffle, redis_port: 6379, redis_password: abcdefgh12}\n"
    keys = {"router_settings.redis_password": "redis_password"}
    new = rewrite(text, keys, scan(text, keys, False), False)
    assert new == text.replace("abcdefgh12", "os.environ/REDIS_PASSWORD")


@pytest.mark.parametrize(("text", "dotenv", "problem"), [
    ("router_settings: {redis_password: 12345678}\n", False,
     "router_settings.redis_password: is a YAML int, not a string (quote it on the host)"),
    ("router_settings: {redis_password: }\n", False, "router_settings.redis_password: is empty"),
    ("router_settings: {redis_host: redis}\n", False,
     "router_settings.redis_password: missing, and the file has no os.environ/REDIS_PASSWORD reference"),
    ("router_settings: [\n  hunter2hunter2\n", False, "(file): not valid YAML (line 3)"),
    ("REDIS_PASSWORD=${OTHER}x\n", True, "REDIS_PASSWORD: uses $ interpolation"),
    ("REDIS_PASSWORD=\"a\\nb\"\n", True, "REDIS_PASSWORD: uses escapes or $ interpolation in double quotes"),
    ("REDIS_PASSWORD='hunter2hunter2\n", True, "REDIS_PASSWORD: has no closing quote on its line"),
    ("REDIS_PASSWORD=\n", True, "REDIS_PASSWORD: is empty"),
    ("TZ=UTC\n", True, "REDIS_PASSWORD: missing, and the file has no '# REDIS_PASSWORD moved to the sops store'"),
])
def test_what_cannot_be_read_safely_is_named_without_its_value(text: str, dotenv: bool, problem: str) -> None:
    keys = {"REDIS_PASSWORD" if dotenv else "router_settings.redis_password": "redis_password"}
    found = scan(text, keys, dotenv)
    assert found.values == {} and any(p.startswith(problem) for p in found.problems), found.problems
    assert all("hunter2" not in p and "12345678" not in p for p in found.problems)


# -- planning: conflicts and the store ------------------------------------------------------------------------------
def texts_of(host: DirTransport) -> dict[str, str | None]:
    return {path: host.read(path) for path in SOURCES}


def test_two_values_for_one_name_refuse_naming_both_places(host: DirTransport, values: dict[str, str]) -> None:
    texts = texts_of(host)
    texts[ENV] = (texts[ENV] or "").replace(values["postgres_password"], "another-password-in-use")
    with pytest.raises(MigrationRefused) as err:
        plan(HOST, SOURCES, texts, {})
    message = str(err.value)
    assert f"postgres_password: different values at {ROUTER} general_settings.database_password, {ENV} " \
           "POSTGRES_PASSWORD on hydra-storage" in message
    assert no_value_in(message, values) and "another-password" not in message


def test_a_different_stored_value_needs_replace(host: DirTransport, values: dict[str, str]) -> None:
    stored = {**values, "postgres_password": "generated-by-init-never-used"}
    with pytest.raises(MigrationRefused, match=r"postgres_password: the store holds a different value than "
                                               r"hydra-storage uses .* pass --replace") as err:
        plan(HOST, SOURCES, texts_of(host), stored)
    assert "next deploy rolls it out everywhere postgres_password is used" in str(err.value)
    assert no_value_in(str(err.value), stored)
    done = plan(HOST, SOURCES, texts_of(host), stored, replace=True)
    assert done.replaced == ["postgres_password"] and sorted(done.kept) == ["litellm_master_key", "redis_password"]
    assert done.values == values  # the value in use on the host wins


def test_missing_files_and_keys_are_named_with_host_file_and_key(host: DirTransport) -> None:
    texts = texts_of(host)
    texts[ROUTER] = "general_settings: {master_key: os.environ/LITELLM_MASTER_KEY}\n"
    with pytest.raises(MigrationRefused) as err:
        plan(HOST, {**SOURCES, "/etc/absent.yaml": {"a": "redis_password"}}, texts, {})
    assert f"hydra-storage:{ROUTER}: router_settings.redis_password: missing" in str(err.value)
    assert "hydra-storage:/etc/absent.yaml: does not exist" in str(err.value)


def test_already_migrated_text_is_a_no_op(host: DirTransport, values: dict[str, str]) -> None:
    texts = texts_of(host)
    done = {p: rewrite(t or "", SOURCES[p], scan(t or "", SOURCES[p], is_dotenv(p)), is_dotenv(p))
            for p, t in texts.items()}
    result = plan(HOST, SOURCES, done, values)
    assert result.noop and result.values == {} and sorted(result.migrated[ENV]) == sorted(values)
    with pytest.raises(MigrationRefused, match="already refers to redis_password, but the store has no "
                                               "redis_password"):
        plan(HOST, SOURCES, done, {k: v for k, v in values.items() if k != "redis_password"})


# -- the whole migration against a real store ------------------------------------------------------------------------
def test_migrate_host_stores_verifies_then_rewrites_and_reruns_as_a_no_op(
        host: DirTransport, store: SecretStore, values: dict[str, str]) -> None:
    before = store.read()
    done = migrate_host(HOST, SOURCES, host, store)
    assert sorted(done.added) == sorted(values) and done.moved[ROUTER] == list(SOURCES[ROUTER].values())
    assert store.read() == {**before, **values}
    for path, mode in ((ROUTER, 0o644), (ENV, 0o600)):
        assert no_value_in(host.read(path) or "", values)
        assert stat.S_IMODE(host._at(path).stat().st_mode) == mode
    assert not [p for p in host._at(STACK).rglob("*") if p.name.startswith(".") and p.name != ".env"]  # no backup
    again = migrate_host(HOST, SOURCES, host, store)
    assert again.noop and host.writes == 2


def test_a_store_that_loses_a_value_leaves_every_file_untouched(
        host: DirTransport, store: SecretStore, monkeypatch: pytest.MonkeyPatch) -> None:
    texts = texts_of(host)
    monkeypatch.setattr(SecretStore, "write", lambda self, values: None)
    with pytest.raises(SecretsError, match="did not keep litellm_master_key, postgres_password, redis_password; no "
                                           "file on hydra-storage was rewritten"):
        migrate_host(HOST, SOURCES, host, store)
    assert texts_of(host) == texts and host.writes == 0


def test_a_refusal_writes_nothing_anywhere(host: DirTransport, store: SecretStore, values: dict[str, str]) -> None:
    store.write({**store.read(), "redis_password": "an-older-value-0123"})
    raw, texts = store.file.read_bytes(), texts_of(host)
    with pytest.raises(MigrationRefused, match="redis_password: the store holds a different value"):
        migrate_host(HOST, SOURCES, host, store)
    assert store.file.read_bytes() == raw and texts_of(host) == texts
    done = migrate_host(HOST, SOURCES, host, store, replace=True)
    assert done.replaced == ["redis_password"] and store.read()["redis_password"] == values["redis_password"]


# -- the ssh transport's script, run locally by a stand-in ssh --------------------------------------------------------
@pytest.fixture
def fake_ssh(tmp_path: Path) -> list[str]:
    """An `ssh` that runs its command line with sh, as sshd hands it to the login shell (no network)."""
    script = tmp_path / "ssh"
    script.write_text('#!/bin/sh\nexec sh -c "$*"\n')
    script.chmod(0o755)
    return [str(script)]


@pytest.mark.parametrize("sudo", [False, True])
def test_ssh_transport_replaces_atomically_keeping_mode_and_no_copy(tmp_path: Path, fake_ssh: list[str],
                                                                    sudo: bool) -> None:
    ssh = [*fake_ssh, "sh", "-c"] if sudo else fake_ssh
    folder = tmp_path / "stack dir"
    folder.mkdir()
    file = folder / ".env"
    file.write_text("A=hunter2hunter2\n")
    file.chmod(0o640)
    t = SshTransport(HOST, ssh)
    assert t.read(str(file)) == "A=hunter2hunter2\n" and t.read(str(folder / "absent")) is None
    t.write(str(file), "A=hunter2hunter2\n", "# A moved\n")
    assert file.read_text() == "# A moved\n" and stat.S_IMODE(file.stat().st_mode) == 0o640
    assert file.stat().st_uid == os.getuid() and sorted(p.name for p in folder.iterdir()) == [".env"]
    with pytest.raises(SecretsError, match="changed while migrating; run again") as err:
        t.write(str(file), "A=hunter2hunter2\n", "B=1\n")
    assert "hunter2" not in str(err.value) and file.read_text() == "# A moved\n"
    assert sorted(p.name for p in folder.iterdir()) == [".env"]  # the temp file is removed on failure


# -- options and the production data ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("sources", "message"), [
    ({"rel/router.yaml": {"a.b": "redis_password"}}, "'rel/router.yaml' is not an absolute path"),
    ({"/x/.env": {"a.b": "redis_password"}}, "/x/.env: 'a.b' is not a variable name (a .env file)"),
    ({"/x/r.yaml": {"a..b": "redis_password"}}, "/x/r.yaml: 'a..b' is not a dotted YAML path"),
    ({"/x/r.yaml": {"a": "nope"}}, "/x/r.yaml: a: 'nope' is not listed in secret_names"),
    ({"/x/r.yaml": {}}, "/x/r.yaml: lists no keys"),
    ({"/x/r.yaml": {"a": 5}}, "input should be a valid string"),
    (["/x/r.yaml"], "secret_plaintext_sources: input should be a valid dictionary"),
])
def test_bad_plaintext_sources_are_named(sources: Any, message: str) -> None:
    with pytest.raises(ValidationError, match="nothing was changed") as err:
        validate_secrets({"secret_names": ["redis_password"], "secret_plaintext_sources": sources}, HOST)
    assert message in str(err.value)
    assert validate_secrets({}, HOST).secret_plaintext_sources == {}


def test_hydra_storage_lists_the_seed_layout_under_the_deploys_names() -> None:
    inventory, _ = load_inventory(PROJECT_ROOT / "inventory.py")
    data = inventory.get_host(HOST).data.dict()
    assert validate_secrets(data, HOST).secret_plaintext_sources == SOURCES
    assert validate_secrets(inventory.get_host("hydra-ai").data.dict(), "hydra-ai").secret_plaintext_sources == {}


# -- the command ------------------------------------------------------------------------------------------------------
def test_cli_migrate_host_prints_files_and_names_never_values(
        host: DirTransport, store: SecretStore, values: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    from hydra_ops import secrets_remote
    from hydra_ops.cli import main

    monkeypatch.setattr(secrets_remote, "remote", lambda name, cluster=None: Remote(name, SOURCES, host, store))
    out = CliRunner().invoke(main, ["secrets", "migrate", "--host", HOST])
    assert out.exit_code == 0, out.output
    assert f"hydra-storage:{ENV}: moved litellm_master_key, redis_password, postgres_password (lines commented " \
           "out)" in out.output and "no plaintext backup" in out.output
    again = CliRunner().invoke(main, ["secrets", "migrate", "--host", HOST])
    assert again.exit_code == 0 and "hydra-storage: nothing to do" in again.output
    assert no_value_in(out.output + again.output, values)
    both = CliRunner().invoke(main, ["secrets", "migrate", "--host", HOST, sys.executable])
    assert both.exit_code == 2 and "not both or neither" in both.output
