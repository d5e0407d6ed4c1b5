"""Reading a file of a host over SFTP: its content never passes through pyinfra's output, whatever the verbosity
(compose files that may hold plaintext, secret files in use)."""

from __future__ import annotations

from io import BytesIO

from pyinfra.api import Host
from pyinfra.facts.files import File


class Unreadable(Exception):
    """The file exists but could not be fetched."""


def read_file(host: Host, path: str) -> bytes | None:
    """The file's bytes; None when there is no such file; Unreadable when it exists and cannot be fetched."""
    if not host.get_fact(File, path=path):
        return None
    buf = BytesIO()
    if not host.get_file(path, buf):
        raise Unreadable(f"{path}: could not be read from {host.name}")
    return buf.getvalue()
