"""G3 secrets: where the encrypted file and its key are, which secrets exist, which this host gets as files."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, ValidationInfo, field_validator
from pydantic import ValidationError as PydanticError

from hydra_ops.settings import AbsPath, Options, UserName, load, pattern

SecretName = Annotated[str, AfterValidator(pattern(r"^[a-z][a-z0-9_]*$", "a lower_snake_case name", 64))]
LocalPath = Annotated[str, AfterValidator(pattern(r"^[^\s'\"$`\x00-\x1f\x7f]+$", "a path on the operator's machine"))]
#: Keys of a plaintext source: a dotted YAML path (router_settings.redis_password) or a .env variable name.
YAML_KEY = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")
ENV_VAR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ABS_PATH = TypeAdapter(AbsPath)


def is_dotenv(path: str) -> bool:
    """A compose env file (`.env`, `*.env`) holds VAR=value lines; every other plaintext source is YAML."""
    return path.rsplit("/", 1)[-1].endswith(".env")


class SecretFile(BaseModel):
    """One secret a host receives as <secret_dir>/<secret>, mode 0600, owned by owner:group."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    secret: SecretName = Field(description="Name in secret_names.")
    owner: UserName = Field(description="User owning the file (the service that reads it).")
    group: UserName = Field(description="Group of the file.")


class SecretsOptions(Options):
    """Every host's G3 settings: the sops+age store (decrypted in memory at deploy time only) and its files."""

    prefixes = ("secret_", "secrets_", "sops_", "age_")

    secrets_file: LocalPath = Field("secrets/hydra.sops.yaml", description="The cluster's sops-encrypted secrets, "
                                                                           "relative to the project root.")
    sops_config: LocalPath = Field(".sops.yaml", description="The sops creation rules: encrypt every value under "
                                                            "secrets/, match nothing else (fail closed).")
    age_key_file: LocalPath = Field("~/.config/hydra-ops/age/hydra.key", description="The age private key that opens "
                                    "the file, kept outside the repository; SOPS_AGE_KEY_FILE overrides it.")
    secret_names: list[SecretName] = Field(
        default_factory=lambda: ["redis_password", "litellm_master_key", "postgres_password", "tabby_api_key",
                                 "tabby_admin_key", "qdrant_api_key", "n8n_encryption_key",
                                 "uptime_kuma_password", "n8n_owner_password"],
        description="Every secret the cluster uses; `hydra secrets init` generates missing ones, `rotate` "
                    "replaces them (seed 000 Part 2.5's three plaintext ones, seed 002's TabbyAPI keys, Qdrant's "
                    "API key, n8n's encryption key, the Uptime Kuma and n8n owner passwords).")
    secret_dir: AbsPath = Field("/etc/hydra/secrets", description="Directory on hosts holding secret files "
                                                                  "(0700, root).")
    secret_files: list[SecretFile] = Field(default_factory=list, description="Secrets this host receives as "
                                           "files: [{secret, owner, group}].")

    secret_plaintext_sources: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="Files on this host that still hold secrets in plaintext, for `hydra secrets migrate --host`: "
                    "{absolute path: {key: secret name}}; a key is a dotted YAML path, or a variable name in a "
                    "`.env`/`*.env` file; names from secret_names (seed 000 Part 2.5).")

    @field_validator("secret_files")
    @classmethod
    def _known_once(cls, files: list[SecretFile], info: ValidationInfo) -> list[SecretFile]:
        names, seen = info.data.get("secret_names"), [f.secret for f in files]
        bad = [f"{n!r} is not listed in secret_names" for n in seen if names is not None and n not in names]
        bad += [f"{n!r} is listed twice" for n in sorted({n for n in seen if seen.count(n) > 1})]
        if bad:
            raise ValueError("; ".join(bad))
        return files

    @field_validator("secret_plaintext_sources")
    @classmethod
    def _sources(cls, sources: dict[str, dict[str, str]], info: ValidationInfo) -> dict[str, dict[str, str]]:
        """Absolute paths, keys well-formed for the file's kind, names from secret_names; every problem at once."""
        names, bad = info.data.get("secret_names"), []
        for path, keys in sources.items():
            try:
                _ABS_PATH.validate_python(path)
            except PydanticError:
                bad.append(f"{path!r} is not an absolute path (letters, digits, . _ - + @ / only)")
            if not keys:
                bad.append(f"{path}: lists no keys")
            dotenv = is_dotenv(path)
            for key, name in keys.items():
                if not (ENV_VAR if dotenv else YAML_KEY).fullmatch(key):
                    what = "a variable name (a .env file)" if dotenv else "a dotted YAML path like a.b_c"
                    bad.append(f"{path}: {key!r} is not {what}")
                if names is not None and name not in names:
                    bad.append(f"{path}: {key}: {name!r} is not listed in secret_names")
        if bad:
            raise ValueError("; ".join(bad))
        return sources

    @property
    def needed(self) -> list[str]:
        """The secrets this host's files need."""
        return [f.secret for f in self.secret_files]


def options(data: Mapping[str, Any], host: str) -> SecretsOptions:
    """A host's validated G3 settings; raise one error naming every bad key."""
    return load(SecretsOptions, data, host)
