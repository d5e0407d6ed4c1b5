"""The one way secrets reach hosts: a 0600 file written through stdin, compared by hash, never displayed.

pyinfra's files.put/template print contents with --diff, cat the remote file at -vvv and stage sudo uploads in
a 0644 /tmp file. Here the value travels only on the SSH channel's stdin, lands in a 0600 temp file created
next to the destination, and is renamed into place; the operation's name and commands never include it.
"""

from __future__ import annotations

import hashlib
import secrets
import shlex
from collections.abc import Iterator

from pyinfra import host
from pyinfra.api.operation import OperationMeta
from pyinfra.facts.server import Command
from pyinfra.operations import server


class Sealed:
    """A secret on its way to _stdin: pyinfra writes what readlines() gives to the SSH channel, and every form
    it prints (--debug-operations' JSON, repr, str) is a placeholder, never the value."""

    __slots__ = ("_text",)

    def __init__(self, text: str) -> None:
        self._text = text

    def readlines(self) -> list[str]:
        return [self._text]

    def __iter__(self) -> Iterator[str]:  # pyinfra checks _stdin is an Iterable[str]
        return iter(self.readlines())

    def to_json(self) -> str:
        return "<secret>"

    def __repr__(self) -> str:
        return "<secret>"

    __str__ = __repr__


def secret_file(*, name: str, content: str, dest: str, user: str = "root", group: str = "root") -> OperationMeta | None:
    """Ensure dest holds content (newline-terminated), mode 0600, owned by user:group.

    Returns the operation, or None when the file is already right (so callers can gate restarts on it).
    """
    payload = content if content.endswith("\n") else content + "\n"  # pyinfra's stdin writer adds it anyway
    q = shlex.quote
    # One read: owner/group by id and by name (numeric owners, e.g. a container's uid, have no name here), mode,
    # and a digest salted per run (facts are printed at -vv: an unsalted sum of a secret could be looked up).
    salt = secrets.token_hex(16)
    found = (host.get_fact(Command, command=f"stat -c '%u %g %U %G %a' {q(dest)} 2>/dev/null "
                                            f"&& {{ printf %s {salt}; cat {q(dest)}; }} | sha256sum | cut -d' ' -f1 "
                                            "|| true") or "").split()
    if len(found) == 6:
        uid, gid, uname, gname, mode, digest = found
        if (user in (uid, uname) and group in (gid, gname) and mode == "600"
                and digest == hashlib.sha256((salt + payload).encode()).hexdigest()):
            return None
    script = (
        "set -eu; umask 077; "
        f"dest={q(dest)}; dir=$(dirname \"$dest\"); mkdir -p \"$dir\"; "
        "tmp=$(mktemp \"$dir/.hydra-secret.XXXXXX\"); trap 'rm -f \"$tmp\"' EXIT; "
        f"chown {q(user)}:{q(group)} \"$tmp\"; cat > \"$tmp\"; chmod 600 \"$tmp\"; mv -f \"$tmp\" \"$dest\"; "
        "trap - EXIT"
    )
    return server.shell(name=name, commands=[script], _stdin=Sealed(payload))
