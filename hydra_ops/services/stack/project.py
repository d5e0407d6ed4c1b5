"""The compose project as it is on the host, read before any change: its compose file (fetched over SFTP, so
its content never passes through pyinfra's output, whatever the verbosity) parsed for adoption."""

from __future__ import annotations

from io import BytesIO
from typing import Any

import yaml
from pyinfra import host
from pyinfra.facts.files import File

from hydra_ops.services.stack.adopt import ComposeError, check


def existing_compose(path: str) -> dict[str, Any] | None:
    """The parsed compose file at path, None when there is none; ComposeError when it cannot be adopted."""
    if not host.get_fact(File, path=path):
        return None
    buf = BytesIO()
    if not host.get_file(path, buf):
        raise ComposeError(f"{path}: could not be read from {host.name}")
    try:
        doc = yaml.safe_load(buf.getvalue().decode())
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise ComposeError(f"{path}: not valid YAML{where}; fix it by hand, nothing was changed") from None
    return check(doc, path) if doc is not None else None
