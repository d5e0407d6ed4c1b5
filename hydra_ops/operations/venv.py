"""A Python venv holding pinned packages, rebuilt only when the requirement spec changes: a marker file named
after the spec's hash says the venv is current, so a second run neither reinstalls nor reports a change."""

from __future__ import annotations

import hashlib
import shlex

from pyinfra import host
from pyinfra.api.operation import OperationMeta
from pyinfra.facts.files import File
from pyinfra.operations import server


def pinned_venv(label: str, venv_dir: str, pip_args: list[str], packages: list[str]) -> OperationMeta | None:
    """Build venv_dir with `pip install <pip_args> <packages>` unless its marker exists; the operation, or None."""
    q = shlex.quote
    spec = "\n".join([*pip_args, *packages])
    marker = f"{venv_dir}/.hydra-requirements-{hashlib.sha256(spec.encode()).hexdigest()[:12]}"
    if host.get_fact(File, path=marker):
        return None
    return server.shell(name=f"{label}: venv with {', '.join(packages)}", commands=[
        f"set -e; rm -rf {q(venv_dir)}; python3 -m venv {q(venv_dir)}; "
        f"{q(venv_dir)}/bin/pip install --quiet --disable-pip-version-check "
        f"{' '.join(q(a) for a in pip_args)} {' '.join(q(p) for p in packages)}; touch {q(marker)}"])
