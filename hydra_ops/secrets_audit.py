"""`hydra secrets check` and `migrate`: find plaintext secrets in files and move them into the encrypted store;
reading and rewriting the listed keys of a host's YAML and .env files for `migrate --host` (secrets_remote)."""

from __future__ import annotations

import itertools
import math
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from hydra_ops.secrets import SECRET_KEY, SecretsError, SecretStore

MIN_LEN = 8  # shorter values match too much ordinary text to be worth reporting


@dataclass
class Problem:
    path: str
    what: str


def tracked_files(root: Path) -> list[Path]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True).stdout
    return [root / p for p in out.decode().split("\0") if p]


def check(root: Path, store: SecretStore | None) -> list[Problem]:
    """Tracked secrets files must be sops-encrypted; no tracked file may hold a decrypted secret value."""
    problems: list[Problem] = []
    files = tracked_files(root)
    for path in files:
        rel = str(path.relative_to(root))
        is_rules = path.name in (".sops.yaml", ".sops.yml")  # sops' own creation rules, not a secrets file
        if not is_rules and (rel.startswith("secrets/") or rel.endswith((".sops.yaml", ".sops.yml"))):
            text = path.read_text(errors="replace")
            if "\nsops:" not in "\n" + text or "mac: ENC[" not in text:
                problems.append(Problem(rel, "is a secrets file without sops encryption metadata (plaintext?)"))
    if store is None:
        return problems
    values = {name: v for name, v in store.read().items() if len(v) >= MIN_LEN}
    for path in files:
        try:
            data = path.read_bytes()
        except OSError:
            continue
        for name, value in values.items():
            if value.encode() in data:
                problems.append(Problem(str(path.relative_to(root)), f"contains the decrypted value of {name}"))
    return problems


def migrate(paths: list[Path], store: SecretStore) -> dict[str, list[str]]:
    """Move plaintext values at secret-looking keys into the store; leave `os.environ/NAME` references behind.

    Returns {file: [secret names moved]}. YAML comments in migrated files are not preserved.
    """
    values = store.read()
    moved: dict[str, list[str]] = {}
    rewritten: dict[Path, str] = {}
    for path in paths:
        doc = yaml.safe_load(path.read_text())
        names: list[str] = []
        _walk(doc, [], values, names)
        if names:
            rewritten[path] = yaml.safe_dump(doc, default_flow_style=False, sort_keys=False)
            moved[str(path)] = names
    if not moved:
        return moved
    # The encrypted store first, read back and checked; only then lose the plaintext (a failure loses nothing).
    store.write(values)
    stored = store.read()
    missing = sorted(n for names in moved.values() for n in names if stored.get(n) != values[n])
    if missing:
        raise SecretsError(f"{store.file} did not keep {', '.join(missing)}; no plaintext file was rewritten")
    for path, text in rewritten.items():
        tmp = path.with_name(f".{path.name}.hydra-migrate")
        tmp.write_text(text)
        tmp.chmod(path.stat().st_mode & 0o777)
        tmp.replace(path)
    return moved


def _walk(node: Any, trail: list[str], values: dict[str, str], names: list[str]) -> None:
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    for key, value in list(items):
        here = [*trail, str(key)]
        if isinstance(value, (dict, list)):
            _walk(value, here, values, names)
        elif isinstance(value, str) and SECRET_KEY.search(str(key)) and not value.startswith("os.environ/"):
            name = _name_for(here, value, values)
            values[name] = value
            node[key] = f"os.environ/{name.upper()}"
            names.append(name)


def _name_for(trail: list[str], value: str, values: dict[str, str]) -> str:
    """Reuse the name already holding this value; else the key's own name, made unique with its parents."""
    for name, existing in values.items():
        if existing == value:
            return name
    parts = [p.lower().replace("-", "_") for p in trail if not p.isdigit()]
    for size in range(1, len(parts) + 1):
        candidate = "_".join(parts[-size:])
        if candidate not in values:
            return candidate
    return "_".join(parts) + f"_{len(values)}"


# -- listed keys of one file (`hydra secrets migrate --host`): read a value, leave a reference ----------------------
ENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=(.*?)\r?$")


def reference(name: str) -> str:
    """What a YAML value becomes: LiteLLM reads it from the environment variable NAME."""
    return f"os.environ/{name.upper()}"


def env_comment(var: str, name: str) -> str:
    """What a .env line becomes (the variable is gone; the comment says where its value went)."""
    return f"# {var} moved to the sops store as {name} (hydra secrets migrate)"


@dataclass
class Scan:
    """The listed keys of one file: plaintext values found, keys already migrated, and why others cannot be."""

    values: dict[str, str]
    migrated: list[str]
    problems: list[str]  # "key: why", never a value
    spans: dict[str, tuple[int, int]]  # YAML: where each value's scalar is in the text; .env: unused


def scan(text: str, keys: Mapping[str, str], dotenv: bool) -> Scan:
    """Read each listed key ({key: secret name}) of a YAML or .env text without changing anything."""
    return _scan_dotenv(text, keys) if dotenv else _scan_yaml(text, keys)


def rewrite(text: str, keys: Mapping[str, str], found: Scan, dotenv: bool) -> str:
    """The text with every found value replaced by a reference (YAML) or a comment (.env); the rest untouched."""
    if dotenv:
        out = []
        for line in text.splitlines(keepends=True):
            match = ENV_LINE.match(line)
            if match and match[1] in found.values:
                line = env_comment(match[1], keys[match[1]]) + line[len(line.rstrip("\r\n")):]
            out.append(line)
        return "".join(out)
    new = text
    for key, (start, end) in sorted(found.spans.items(), key=lambda kv: -kv[1][0]):
        block = new[start] in "|>"  # a block scalar's span ends after its last line break: keep one
        new = new[:start] + reference(keys[key]) + ("\n" if block else "") + new[end:]
    expected = yaml.safe_load(text)
    for key in found.spans:
        *parents, last = key.split(".")
        node = expected
        for part in parents:
            node = node[int(part) if isinstance(node, list) else part]
        node[int(last) if isinstance(node, list) else last] = reference(keys[key])
    if yaml.safe_load(new) != expected:  # an unusual layout (anchors, odd flow style): the safe, comment-less form
        new = yaml.safe_dump(expected, default_flow_style=False, sort_keys=False)
    return new


def _scan_yaml(text: str, keys: Mapping[str, str]) -> Scan:
    found = Scan({}, [], [], {})
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:  # its message quotes the text around the error: give the line only
        mark = getattr(exc, "problem_mark", None)
        found.problems.append(f"(file): not valid YAML{f' (line {mark.line + 1})' if mark else ''}")
        return found
    for key, name in keys.items():
        node = _node(root, key.split("."))
        tag = getattr(node, "tag", "").rsplit(":", 1)[-1]
        if node is None:
            if reference(name) in text:
                found.migrated.append(key)
            else:
                found.problems.append(f"{key}: missing, and the file has no {reference(name)} reference")
        elif not isinstance(node, yaml.ScalarNode):
            found.problems.append(f"{key}: is a {'mapping' if isinstance(node, yaml.MappingNode) else 'list'}, "
                                  "not a value")
        elif tag != "str":
            what = "empty" if tag == "null" else f"a YAML {tag}, not a string (quote it on the host)"
            found.problems.append(f"{key}: is {what}")
        elif node.value.startswith("os.environ/"):
            found.migrated.append(key)
        elif not node.value:
            found.problems.append(f"{key}: is empty")
        else:
            found.values[key] = node.value
            found.spans[key] = (node.start_mark.index, node.end_mark.index)
    return found


def _node(node: yaml.Node | None, path: list[str]) -> yaml.Node | None:
    """The node at a dotted path (the last of duplicate keys, as YAML loaders take it); None when absent."""
    for part in path:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in reversed(node.value) if getattr(k, "value", None) == part), None)
        elif isinstance(node, yaml.SequenceNode) and part.isdigit() and int(part) < len(node.value):
            node = node.value[int(part)]
        else:
            return None
    return node


def _scan_dotenv(text: str, keys: Mapping[str, str]) -> Scan:
    found = Scan({}, [], [], {})
    lines: dict[str, str] = {}
    for line in text.splitlines():
        match = ENV_LINE.match(line)
        if match:
            lines[match[1]] = match[2]  # the last definition wins, as in compose
    for var in keys:
        if var not in lines:
            if any(line.strip().startswith(f"# {var} moved to the sops store as ") for line in text.splitlines()):
                found.migrated.append(var)
            else:
                found.problems.append(f"{var}: missing, and the file has no '# {var} moved to the sops store' line")
            continue
        value, why = _env_value(lines[var])
        if why:
            found.problems.append(f"{var}: {why}")
        else:
            found.values[var] = value
    return found


def _env_value(raw: str) -> tuple[str, str]:
    """(value, "") or ("", why it cannot be read safely) for the right-hand side of a VAR=value line."""
    raw = raw.strip()
    if raw[:1] in ("'", '"'):
        end = raw.find(raw[0], 1)
        if end < 0:
            return "", "has no closing quote on its line (a multi-line value: move it by hand)"
        rest, value = raw[end + 1:].strip(), raw[1:end]
        if rest and not rest.startswith("#"):
            return "", "has text after its closing quote"
        if raw[0] == '"' and ("\\" in value or "$" in value):
            return "", "uses escapes or $ interpolation in double quotes (compose would change it): move it by hand"
    else:
        value = re.split(r"\s#", raw, maxsplit=1)[0].strip()
        if "$" in value:
            return "", "uses $ interpolation (compose would change it): move it by hand"
    return (value, "") if value else ("", "is empty")


# -- credential-looking environment variables (stack adoption refuses them; G3 reads replaced compose files) ------
#: names that carry credentials besides SECRET_KEY's: *_PASS, *_PWD, *_KEY (salt, encryption, access keys), *_DSN ...
CREDENTIAL_NAME = re.compile(r"(^|_)(pass|passwd|pwd|passphrase|key|salt|credentials?|auth|dsn)$", re.I)
#: a URL with userinfo holding a password (scheme://user:password@host), the password captured
URL_PASSWORD = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/?#@\s:]*:([^/?#@\s]+)@")
#: a compose interpolation standing for the whole value ($VAR, ${VAR}, ${VAR:?error}): no value in the file (a
#: ${VAR:-default} writes its default out, so it is not one)
REFERENCE = re.compile(r"\$(?:[A-Za-z_][A-Za-z0-9_]*|\{[A-Za-z_][A-Za-z0-9_]*(?::?\?[^}]*)?\})")
TOKEN = re.compile(r"[A-Za-z0-9+/=_-]{24,}")
HEX_TOKEN = re.compile(r"(?=.*\d)(?=.*[a-fA-F])(?:[0-9a-f-]+|[0-9A-F-]+)")


def credential_name(name: str) -> bool:
    """A variable name that says it holds a credential (REDIS_PASSWORD, FOO_PASS, LITELLM_SALT_KEY, SENTRY_DSN)."""
    return bool(SECRET_KEY.search(name) or CREDENTIAL_NAME.search(name))


def credential_value(value: str) -> bool:
    """A value that is a credential whatever its name: a URL with a plaintext password, or a long random token
    (hex of 24+ characters, or 24+ base64/url-safe characters mixing classes as random strings do, not words)."""
    url = URL_PASSWORD.match(value)
    if url:
        return not REFERENCE.fullmatch(url[1])
    if not TOKEN.fullmatch(value):
        return False
    if HEX_TOKEN.fullmatch(value):
        return True
    kinds = sum(any(test(c) for c in value) for test in (str.islower, str.isupper, str.isdigit))
    return kinds >= 2 and (_class_changes(value) >= 0.3 or _entropy(value) >= 4.0)


def plaintext_credential(name: str, value: str | None) -> bool:
    """A variable whose value is written out in the file (not empty, not a $reference) and looks like a secret."""
    text = str(value or "")
    return bool(text) and not REFERENCE.fullmatch(text) and (credential_name(name) or credential_value(text))


def _class_changes(value: str) -> float:
    """How often neighbouring letters/digits switch between lower, upper and digit (random ~0.6, words ~0.2)."""
    kinds = [0 if c.islower() else 1 if c.isupper() else 2 if c.isdigit() else -1 for c in value]
    pairs = [(a, b) for a, b in itertools.pairwise(kinds) if min(a, b) >= 0]
    return sum(a != b for a, b in pairs) / max(len(pairs), 1)


def _entropy(value: str) -> float:
    """Shannon entropy in bits per character."""
    counts = [value.count(c) / len(value) for c in set(value)]
    return -sum(p * math.log2(p) for p in counts)
