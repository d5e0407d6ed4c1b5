"""Keep the files a unit runs on before a deploy replaces them, so a new version that fails its health check can be
put back (Debian has no generations; this is its rollback). Only files that will change are kept, and only when
one will: a run that changes nothing adds no operation (idempotency)."""

from __future__ import annotations

import hashlib
import secrets as random
import shlex
from dataclasses import dataclass, field

from pyinfra import host
from pyinfra.facts.files import Sha1File
from pyinfra.facts.server import Command
from pyinfra.operations import server

#: One directory per unit (0700 under a 0700 root: configs and key files may hold secrets).
ROOT = "/var/lib/hydra-ops/previous"
#: A path under these is a unit file or drop-in: restoring it needs `systemctl daemon-reload`.
UNIT_DIRS = ("/etc/systemd/", "/run/systemd/", "/usr/lib/systemd/", "/lib/systemd/")


@dataclass(frozen=True)
class Desired:
    """One file of a unit as the deploy will write it. secret: compared by a salted digest (a plain sha1 of a key
    file would be printed with the facts at -vv), with the trailing newline secret_file adds."""

    path: str
    text: str
    secret: bool = False

    def payload(self) -> str:
        return self.text if not self.secret or self.text.endswith("\n") else self.text + "\n"


@dataclass
class Transaction:
    """The files of `unit` this run replaces, kept under `directory`; restore_script puts them back."""

    unit: str
    paths: list[str]
    directory: str = field(init=False)

    def __post_init__(self) -> None:
        self.directory = f"{ROOT}/{slot_name(self.unit)}"

    @property
    def restore_script(self) -> str:
        return f"{self.directory}/restore.sh"


#: Transactions opened this run and not yet taken by the unit's restart: (host, unit) -> Transaction.
_OPEN: dict[tuple[str, str], Transaction] = {}


def slot_name(unit: str) -> str:
    """A unit name as one safe path component (unit names may hold '@', ':', '\\')."""
    return "".join(c if c.isascii() and (c.isalnum() or c in "@._-") else "_" for c in unit) or "_"


def will_change(desired: Desired) -> bool:
    """True when the host's file is absent or differs from the desired text (plan time, one fact per file)."""
    want = desired.payload().encode()
    if not desired.secret:
        return host.get_fact(Sha1File, path=desired.path) != hashlib.sha1(want).hexdigest()
    salt, q = random.token_hex(16), shlex.quote
    found = (host.get_fact(Command, command=f"if [ -e {q(desired.path)} ]; then {{ printf %s {salt}; "
                                            f"cat {q(desired.path)}; }} | sha256sum | cut -d' ' -f1; "
                                            "else echo absent; fi") or "").strip()
    return found != hashlib.sha256(salt.encode() + want).hexdigest()


def restore_script(unit: str, directory: str, paths: list[str]) -> str:
    """Bash that puts back each kept file (slot i <-> paths[i]) or removes one that did not exist before, then
    reloads systemd when a unit file is among them. Paths are quoted; no file content appears in it."""
    q = shlex.quote
    lines = [
        "#!/bin/bash",
        f"# Written by hydra-ops: puts back the files {unit} ran on before the last change (run as root).",
        "set -eu",
        f"d={q(directory)}",
        "back() {  # slot, path: the kept copy back in place (atomically), or the new file removed",
        '  if [ -e "$d/$1" ]; then cp -p "$d/$1" "$2.hydra-restore" && mv -f "$2.hydra-restore" "$2"',
        '  elif [ -e "$d/$1.absent" ]; then rm -f "$2"; fi',
        "}",
        *(f"back {i} {q(path)}" for i, path in enumerate(paths)),
    ]
    if any(path.startswith(UNIT_DIRS) for path in paths):
        lines.append("systemctl daemon-reload")
    return "\n".join(lines) + "\n"


def keep_command(directory: str, paths: list[str], script: str) -> str:
    """Shell that empties the unit's directory, keeps a copy of each path (or marks it absent) and the script."""
    q = shlex.quote
    copies = "; ".join(f"if [ -e {q(p)} ]; then cp -p {q(p)} \"$d/{i}\"; else : > \"$d/{i}.absent\"; fi"
                       for i, p in enumerate(paths))
    return (f"set -eu; umask 077; install -d -m 700 {q(ROOT)}; d={q(directory)}; rm -rf \"$d\"; "
            f"install -d -m 700 \"$d\"; {copies}; printf %s {q(script)} > \"$d/restore.sh\"; "
            "chmod 700 \"$d/restore.sh\"")


def keep(gap: str, unit: str, desired: list[Desired]) -> Transaction | None:
    """At plan time: when a deploy will change any of `desired`, add one operation (before the writes) that keeps
    the current versions of the changing files under ROOT/<unit>/ with a restore script, and open a transaction
    for run_and_restart_on_change to take. Returns it, or None when nothing will change."""
    paths = [d.path for d in desired if will_change(d)]
    if not paths:
        return None
    tx = Transaction(unit, paths)
    script = restore_script(unit, tx.directory, paths)
    server.shell(name=f"{gap}: {unit}: keep the {len(paths)} file(s) it runs on now (put back if the new ones "
                      "fail the health check)", commands=[keep_command(tx.directory, paths, script)])
    _OPEN[(host.name, unit)] = tx
    return tx


def take(unit: str) -> Transaction | None:
    """The transaction this host's deploy opened for `unit`, once (the restart that may need it takes it)."""
    return _OPEN.pop((host.name, unit), None)


def pending(unit: str) -> list[Transaction]:
    """This host's other transactions still open: their files are written before `unit`'s check runs but their
    units are restarted after it, so when that check fails (and the deploy stops) they go back too."""
    return [tx for (name, other), tx in _OPEN.items() if name == host.name and other != unit]
