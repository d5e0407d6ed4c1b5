"""Issue 21 item 6: adoption moves every secret. Credentials on a managed service's old environment (by name or by
value) stop the deploy naming them, keys that widen a container's privileges leave managed services, and G3 reads
the copies of replaced files kept under .hydra-ops-backups. Secret values are made at run time, never literals."""

from __future__ import annotations

import copy
import runpy
import secrets
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
import yaml

from hydra_ops import PROJECT_ROOT
from hydra_ops.registry import gap
from hydra_ops.services.stack.adopt import ComposeError
from hydra_ops.services.stack.state import compose_doc, compose_yml
from hydra_ops.services.storage import storage as validate_storage
from tests.unit.test_stack_adopt import BEFORE

#: what docker compose would merge from another service or file, and what reaches past the container's own limits
WIDENING = {"volumes_from": ["letta"], "devices": ["/dev/kvm:/dev/kvm"], "ipc": "host", "pid": "host",
            "userns_mode": "host", "sysctls": {"net.ipv4.ip_forward": "1"}, "extends": {"service": "letta"},
            "privileged": True, "cap_add": ["SYS_ADMIN"], "security_opt": ["seccomp:unconfined"],
            "network_mode": "host", "group_add": ["docker"]}


def _cfg(*files: str) -> Any:
    data: dict[str, Any] = {"ssh_hostname": "10.213.8.12"}
    for path in files:
        data.update({k: v for k, v in runpy.run_path(str(PROJECT_ROOT / path)).items() if not k.startswith("_")})
    return validate_storage(data)


@pytest.fixture
def seeds_cfg() -> Any:
    """The seeds flavour's hydra-storage (Unraid layout), as in test_stack_adopt."""
    return _cfg("group_data/all.py", "group_data/storage.py", "devcluster/local/group_data.seeds/storage.py")


def _with(env: dict[str, dict[str, str]], **keys: dict[str, Any]) -> dict[str, Any]:
    """seed 002's project with extra environment and keys on the named services."""
    doc = copy.deepcopy(BEFORE)
    doc["services"].setdefault("crewai", {"image": "x:1"})
    for name, extra in env.items():
        doc["services"][name].setdefault("environment", {})
        if isinstance(doc["services"][name]["environment"], list):
            doc["services"][name]["environment"] += [f"{k}={v}" for k, v in extra.items()]
        else:
            doc["services"][name]["environment"].update(extra)
    for name, extra in keys.items():
        doc["services"][name].update(extra)
    return doc


def test_credentials_not_from_the_store_stop_adoption_naming_them_never_their_values(seeds_cfg: Any) -> None:
    password, salt, pass_value, token = (secrets.token_urlsafe(12), secrets.token_urlsafe(24),
                                         secrets.token_urlsafe(6), secrets.token_hex(16))
    existing = _with({"crewai": {"DATABASE_URL": f"postgres://hydra:{password}@postgres:5432/hydra",
                                 "FOO_PASS": pass_value, "LOG_LEVEL": "debug"},
                      "litellm": {"LITELLM_SALT_KEY": salt},
                      "ollama": {"OPAQUE_SETTING": token},  # by value: a long random hex string
                      # a service hydra-ops does not manage keeps what it has (not adopted, not refused)
                      "letta": {"DATABASE_URL": f"postgres://letta:{password}@postgres/letta"}})
    for build in (compose_doc, compose_yml):  # both run at plan time, before any operation exists
        with pytest.raises(ComposeError) as err:
            build(seeds_cfg, existing)
        text = str(err.value)
        for named in ("crewai: DATABASE_URL", "crewai: FOO_PASS", "litellm: LITELLM_SALT_KEY",
                      "ollama: OPAQUE_SETTING"):
            assert named in text, text
        assert "letta" not in text and "LOG_LEVEL" not in text
        assert not any(value in text for value in (password, salt, pass_value, token)), "a value leaked"
        assert "postgres://" not in text and "/mnt/user/appdata/hydra-stack/docker-compose.yml" in text
        assert "hydra secrets edit" in text and "Nothing was changed" in text


def test_ordinary_values_stay_and_store_delivered_credentials_go_once(seeds_cfg: Any) -> None:
    """Seed 002's variables the store delivers (plaintext or ${ref}) go; ordinary values stay; a re-run of our own
    file raises nothing and rewrites nothing."""
    values = {name: secrets.token_urlsafe(24) for name in ("redis", "litellm", "postgres")}
    ordinary = {"LOG_LEVEL": "debug", "MODEL": "Meta-Llama-3-8B-Instruct", "API_BASE": "http://litellm:4000/v1",
                "DB_URL": "postgres://hydra:${POSTGRES_PASSWORD}@postgres/hydra", "SENTINEL": "${NOT_A_VALUE}"}
    existing = _with({"crewai": ordinary, "redis": {"REDIS_PASSWORD": values["redis"]},
                      "litellm": {"LITELLM_MASTER_KEY": values["litellm"]},
                      "postgres": {"POSTGRES_PASSWORD": values["postgres"]}})
    first = compose_yml(seeds_cfg, existing)
    assert not any(value in first for value in values.values())
    doc = yaml.safe_load(first)
    assert ordinary.items() <= doc["services"]["crewai"]["environment"].items()
    assert compose_yml(seeds_cfg, doc) == first


def test_privilege_widening_keys_leave_managed_services_only(seeds_cfg: Any) -> None:
    existing = _with({}, crewai=dict(WIDENING), redis=dict(WIDENING), letta=dict(WIDENING))
    services, ours = compose_doc(seeds_cfg, existing)["services"], compose_doc(seeds_cfg, None)["services"]
    for name in ("crewai", "redis"):  # only what group data grants (security_opt: no-new-privileges), else nothing
        assert {k: services[name].get(k) for k in WIDENING} == {k: ours[name].get(k) for k in WIDENING}, name
    assert services["letta"] == existing["services"]["letta"]  # not ours: verbatim
    node = services["node-exporter"]  # what group data itself grants stays
    assert (node["network_mode"], node["pid"]) == ("host", "host")
    again = compose_doc(seeds_cfg, yaml.safe_load(compose_yml(seeds_cfg, existing)))
    assert again == compose_doc(seeds_cfg, existing)


class _Data(dict):
    def dict(self) -> dict[str, Any]:
        return dict(self)


class FilesHost:
    """Just enough of a pyinfra Host for the G3 detector, over a local directory standing for the host's /."""

    name = "hydra-storage"

    def __init__(self, root: Path, data: dict[str, Any]) -> None:
        self.root, self.data = root, _Data(data)

    def _local(self, path: str) -> Path:
        return self.root / path.lstrip("/")

    def get_fact(self, fact: type, **kwargs: Any) -> Any:
        from pyinfra.facts.files import Directory, File, FindFiles

        local = self._local(kwargs["path"])
        if fact is Directory:
            return {"mode": 700, "user": "root"} if local.is_dir() else None
        if fact is FindFiles:
            return sorted(f"/{p.relative_to(self.root)}" for p in local.rglob("*") if p.is_file())
        if fact is File:
            return {"mode": 600, "user": "root"} if local.is_file() else None
        raise AssertionError(f"unexpected fact {fact}")

    def get_file(self, path: str, buf: BytesIO) -> bool:
        buf.write(self._local(path).read_bytes())
        return True


def test_g3_reads_replaced_files_kept_under_hydra_ops_backups(tmp_path: Path) -> None:
    stack, kept = "/mnt/user/appdata/hydra-stack", "/mnt/user/appdata/hydra-stack/.hydra-ops-backups"
    password, redis_value = secrets.token_urlsafe(12), secrets.token_urlsafe(24)
    data = {"stack_dir": stack, "secret_plaintext_sources": {f"{stack}/.env": {"REDIS_PASSWORD": "redis_password"}}}
    host = FilesHost(tmp_path, data)
    detect = gap("G3").load("detector")
    # the seeds' before state, references only (as the first deploy keeps it): nothing to report
    before = tmp_path / kept.lstrip("/") / "20261201T000000Z" / "docker-compose.yml"
    before.parent.mkdir(parents=True)
    before.write_text(yaml.safe_dump(BEFORE))
    assert detect(host).status == "closed"
    # an old compose file holding a credential a deploy moved out, and an old copy of a listed .env
    leaked = tmp_path / kept.lstrip("/") / "20261207T000000Z"
    (leaked / "litellm").mkdir(parents=True)
    (leaked / "docker-compose.yml").write_text(yaml.safe_dump(
        {"services": {"crewai": {"environment": [f"DATABASE_URL=postgres://hydra:{password}@postgres/hydra"]}}}))
    (leaked / ".env").write_text(f"REDIS_PASSWORD={redis_value}\n")
    (leaked / "litellm" / "config.yaml").write_text("model_list: []\n")  # neither compose nor listed: not read
    finding = detect(host)
    text = "\n".join(finding.evidence)
    assert finding.status == "open", text
    assert f"{kept}/20261207T000000Z/docker-compose.yml: plaintext at crewai: DATABASE_URL" in text
    assert f"{kept}/20261207T000000Z/.env: plaintext at REDIS_PASSWORD" in text
    assert password not in text and redis_value not in text


def test_our_own_files_and_the_seeds_before_state_hold_no_plaintext_credential(seeds_cfg: Any) -> None:
    """What G3 would read in a kept copy of them: nothing (else G3 could never close after a deploy)."""
    from devcluster.local.unraid_before import compose_project
    from hydra_ops.services.stack.adopt import plaintext_credentials

    assert plaintext_credentials(compose_project()) == []
    assert plaintext_credentials(compose_doc(seeds_cfg, compose_project())) == []
    for flavour in (("group_data/all.py", "group_data/storage.py"),  # production, then the local default flavour
                    ("group_data/all.py", "group_data/storage.py", "devcluster/local/group_data/storage.py")):
        ours = compose_yml(_cfg(*flavour), None)
        assert plaintext_credentials(yaml.safe_load(ours)) == []
        assert compose_yml(_cfg(*flavour), yaml.safe_load(ours)) == ours  # adopting our own file: no refusal


@pytest.mark.parametrize("value", [
    lambda: secrets.token_urlsafe(24), lambda: secrets.token_hex(16), lambda: secrets.token_hex(12).upper(),
    lambda: f"postgres://u:{secrets.token_urlsafe(8)}@db/x", lambda: f"redis://:{secrets.token_hex(8)}@redis:6379/0"])
def test_credential_values(value: Any) -> None:
    from hydra_ops.secrets_audit import credential_value

    assert credential_value(value())


@pytest.mark.parametrize("value", [
    "Meta-Llama-3-8B-Instruct", "/run/secrets/postgres_password", "http://litellm:4000/v1", "0.0.0.0:11434",
    "postgres://u:${PW}@db/x", "sentence_transformers_all_MiniLM_L6_v2", "HYDRA_AGENT_FRAMEWORK_CREWAI", "true"])
def test_ordinary_values(value: str) -> None:
    from hydra_ops.secrets_audit import credential_value

    assert not credential_value(value)


def test_credential_names() -> None:
    from hydra_ops.secrets_audit import credential_name

    assert all(map(credential_name, ["FOO_PASS", "LITELLM_SALT_KEY", "DB_PASSWD", "SENTRY_DSN", "REDIS_PASSWORD",
                                     "N8N_ENCRYPTION_KEY", "AWS_SECRET_ACCESS_KEY", "GH_TOKEN", "PASS"]))
    assert not any(map(credential_name, ["OLLAMA_HOST", "POSTGRES_DB", "POSTGRES_PASSWORD_FILE", "HYDRA_AGENT_DIR",
                                         "KEYS_DIR", "PASSENGER", "OLLAMA_KEEP_ALIVE"]))
