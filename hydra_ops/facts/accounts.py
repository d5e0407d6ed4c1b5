"""A local account as the passwd database has it (never the shadow file: a fact's output is printed in debug modes)."""

from __future__ import annotations

import shlex
from typing import Any

from pyinfra.api import FactBase

#: Shells that refuse a login: an account with one of these is a service's, any other is someone's login.
NOLOGIN_SHELLS = ("nologin", "false")


class Account(FactBase[dict[str, Any]]):
    """``{"uid": 998, "comment": "...", "home": "/var/lib/x", "shell": "/usr/sbin/nologin"}`` for `user`, or {} when
    the host has no such account."""

    default = dict

    def command(self, user: str) -> str:
        # getent exits 2 for an unknown name; anything else it cannot answer fails the fact
        return f"getent passwd {shlex.quote(user)} || {{ rc=$?; [ $rc -eq 2 ] || exit $rc; }}"

    def process(self, output: list[str]) -> dict[str, Any]:
        if not output:
            return {}
        fields = output[0].split(":")
        if len(fields) != 7:
            raise ValueError(f"getent passwd printed {output[0]!r}, not a passwd entry")
        return {"uid": int(fields[2]), "comment": fields[4], "home": fields[5], "shell": fields[6]}


def login_account(account: dict[str, Any]) -> bool:
    """The account exists and is root or can log in (its shell is not nologin or false)."""
    if not account:
        return False
    shell = account["shell"].rstrip("/").rsplit("/", 1)[-1]
    return account["uid"] == 0 or shell not in NOLOGIN_SHELLS
