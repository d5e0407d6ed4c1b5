"""`hydra secrets migrate --host`: move the plaintext secrets a host's files hold (its secret_plaintext_sources)
into the sops store, then leave references behind in those files.

Order is what makes this safe without a plaintext backup: every file is read and checked first (a conflict or an
unreadable key refuses before anything is written), the store is written and read back, and only a verified store
lets the host's files lose their values. The verified, encrypted store IS the backup; a copy of the old file would
be one more plaintext secret on the host, which is what this removes. Values travel only on ssh's stdin/stdout and
in this process' memory; messages name hosts, files, keys and secrets, never values.
"""

from __future__ import annotations

import hashlib
import shlex
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from hydra_ops.secrets import SecretsError, SecretStore
from hydra_ops.secrets_audit import rewrite, scan
from hydra_ops.services.secrets.options import is_dotenv


class MigrationRefused(SecretsError):
    """Nothing was written: the files cannot be migrated as they are (every problem listed, no value shown)."""

    def __init__(self, host: str, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"{host}: nothing was migrated or written:\n" + "\n".join(f"  - {p}" for p in problems))


class Transport(Protocol):
    """Reads and replaces whole files on one host (ssh in use, a directory in unit tests)."""

    def read(self, path: str) -> str | None:
        """The file's text, or None when it does not exist."""
        ...

    def write(self, path: str, old: str, new: str) -> None:
        """Replace the file (still holding `old`) with `new` atomically, keeping its mode and owner, no backup."""
        ...


@dataclass
class Plan:
    """What a migration of one host does (or did): names and files only, never values."""

    host: str
    values: dict[str, str] = field(default_factory=dict, repr=False)  # name: the value in use on the host
    rewrites: dict[str, str] = field(default_factory=dict, repr=False)  # path: its new text
    moved: dict[str, list[str]] = field(default_factory=dict)  # path: secret names whose values leave it
    migrated: dict[str, list[str]] = field(default_factory=dict)  # path: names already references/comments
    added: list[str] = field(default_factory=list)  # new in the store
    replaced: list[str] = field(default_factory=list)  # the store held another value (--replace)
    kept: list[str] = field(default_factory=list)  # the store already held the same value

    @property
    def noop(self) -> bool:
        """Every listed key is already a reference or comment, and the store holds each name."""
        return not self.rewrites


def plan(host: str, sources: Mapping[str, Mapping[str, str]], texts: Mapping[str, str | None],
         stored: Mapping[str, str], replace: bool = False) -> Plan:
    """Decide a migration from the files' texts and the store's values, without writing; refuse on any conflict."""
    out, problems = Plan(host), []
    where: dict[str, list[tuple[str, str, str]]] = {}  # name: [(path, key, value)]
    for path, keys in sources.items():
        text = texts.get(path)
        if text is None:
            problems.append(f"{host}:{path}: does not exist")
            continue
        dotenv = is_dotenv(path)
        found = scan(text, keys, dotenv)
        problems += [f"{host}:{path}: {p}" for p in found.problems]
        for key, value in found.values.items():
            where.setdefault(keys[key], []).append((path, key, value))
        if found.values:
            out.rewrites[path] = rewrite(text, keys, found, dotenv)
            out.moved[path] = _unique(keys[k] for k in found.values)
        if found.migrated:
            out.migrated[path] = _unique(keys[k] for k in found.migrated)
    for name, places in where.items():
        at = ", ".join(f"{path} {key}" for path, key, _ in places)
        if len({value for *_, value in places}) > 1:
            problems.append(f"{name}: different values at {at} on {host}; make them agree (keep the one the "
                            "service runs with) and run again")
            continue
        value = places[0][2]
        out.values[name] = value
        if name not in stored:
            out.added.append(name)
        elif stored[name] == value:
            out.kept.append(name)
        elif replace:
            out.replaced.append(name)
        else:
            problems.append(f"{name}: the store holds a different value than {host} uses ({at}); pass --replace "
                            f"to store the host's value (it is the one in use; the next deploy rolls it out "
                            f"everywhere {name} is used)")
    for path, names in out.migrated.items():
        lost = [n for n in names if n not in stored and n not in out.values]
        problems += [f"{host}:{path}: already refers to {n}, but the store has no {n}: restore the store (git) or "
                     "set it with `hydra secrets edit`" for n in lost]
    if problems:
        raise MigrationRefused(host, problems)
    return out


def migrate_host(host: str, sources: Mapping[str, Mapping[str, str]], transport: Transport, store: SecretStore,
                 replace: bool = False) -> Plan:
    """Read every listed file, plan, write and verify the store, then rewrite the files; re-running is a no-op.
    No plaintext backup is kept: the verified, encrypted store is the backup (a copy would be one more leak)."""
    texts = {path: transport.read(path) for path in sources}
    stored = store.read()
    result = plan(host, sources, texts, stored, replace)
    if result.noop:
        return result
    wanted = {**stored, **result.values}
    if wanted != stored:
        store.write(wanted)
    back = store.read()
    lost = sorted(n for n in wanted if back.get(n) != wanted[n])
    if lost:
        raise SecretsError(f"{store.file} did not keep {', '.join(lost)}; no file on {host} was rewritten")
    for path, new in result.rewrites.items():
        old = texts[path]
        assert old is not None  # plan() refused missing files
        transport.write(path, old, new)
        if transport.read(path) != new:
            raise SecretsError(f"{host}:{path}: reads back different after the rewrite (the store holds the values)")
    return result


def _unique(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(names))


# -- over ssh ---------------------------------------------------------------------------------------------------
#: Replace $f by stdin after its first line (the sha256 the file must still have): temp file beside it with its
#: owner and mode, then mv. A symlink is followed (the file it names is replaced); nothing else is kept.
WRITE = """set -eu
f=$(readlink -f -- {path})
[ -f "$f" ] || {{ echo "$f is gone" >&2; exit 3; }}
IFS= read -r want
tmp=$(mktemp "${{f%/*}}/.${{f##*/}}.hydra-migrate.XXXXXX")
trap 'rm -f -- "$tmp"' EXIT HUP INT TERM
cat > "$tmp"
chown "$(stat -c %u:%g -- "$f")" "$tmp"
chmod "$(stat -c %a -- "$f")" "$tmp"
have=$(sha256sum < "$f")
[ "${{have%% *}}" = "$want" ] || {{ echo "$f changed while migrating; run again" >&2; exit 4; }}
sync "$tmp" 2>/dev/null || true
mv -f -- "$tmp" "$f"
trap - EXIT HUP INT TERM
"""
READ = "if [ -e {path} ]; then cat -- {path}; else exit 3; fi"


@dataclass(frozen=True)
class SshTransport:
    """Files on one host through an ssh argv (hydra_ops.targets.ssh_command: the inventory's user, key, port,
    known_hosts, BatchMode); an argv ending in `sh -c` (sudo) takes the script as one quoted word."""

    host: str
    ssh: list[str]
    timeout: float = 60

    def _run(self, script: str, data: bytes = b"") -> subprocess.CompletedProcess[bytes]:
        argv = [*self.ssh, shlex.quote(script) if self.ssh[-2:] == ["sh", "-c"] else script]
        try:
            return subprocess.run(argv, input=data, capture_output=True, timeout=self.timeout)
        except subprocess.TimeoutExpired:
            raise SecretsError(f"{self.host}: ssh did not finish within {self.timeout:.0f}s") from None

    def read(self, path: str) -> str | None:
        proc = self._run(READ.format(path=shlex.quote(path)))
        if proc.returncode == 3:
            return None
        if proc.returncode != 0:
            raise SecretsError(f"{self.host}:{path}: cannot read it: {_last_line(proc.stderr)}")
        try:
            return proc.stdout.decode()
        except UnicodeDecodeError:
            raise SecretsError(f"{self.host}:{path}: is not UTF-8 text") from None

    def write(self, path: str, old: str, new: str) -> None:
        want = hashlib.sha256(old.encode()).hexdigest()
        proc = self._run(WRITE.format(path=shlex.quote(path)), f"{want}\n".encode() + new.encode())
        if proc.returncode != 0:
            raise SecretsError(f"{self.host}:{path}: not rewritten: {_last_line(proc.stderr)} (the store already "
                               "holds its values; run again)")


def _last_line(err: bytes) -> str:
    lines = err.decode(errors="replace").strip().splitlines()
    return lines[-1] if lines else "no message"


@dataclass(frozen=True)
class Remote:
    """One host as `migrate --host` reaches it: its listed files, their transport, the store it deploys from."""

    host: str
    sources: dict[str, dict[str, str]]
    transport: Transport
    store: SecretStore


def remote(host: str, cluster: str | None = None) -> Remote:
    """Read the host's data as the deploys see it (the inventory and its group_data, no connection yet)."""
    from hydra_ops.services.secrets.options import options
    from hydra_ops.targets import selected, ssh_command, targets

    found = {t.name: t for t in targets(cluster)}
    if host not in found:
        raise SecretsError(f"no host {host} in the {selected(cluster)} cluster (hosts: {', '.join(sorted(found))})")
    target = found[host]
    sources = options(target.data, host).secret_plaintext_sources
    return Remote(host, sources, SshTransport(host, ssh_command(target, cluster)), SecretStore.from_data(target.data))
