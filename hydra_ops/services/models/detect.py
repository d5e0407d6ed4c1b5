"""G11 on a live host, read-only: every configured model was fetched completely (its marker holds the sha256 of
the pinned files' manifest)."""

from __future__ import annotations

import hashlib
import shlex

from pyinfra.api import Host
from pyinfra.facts.server import Command

from hydra_ops.detectors import CLOSED, OPEN, UNKNOWN, Finding
from hydra_ops.services.models import manifest, marker
from hydra_ops.services.models.options import ModelsOptions
from hydra_ops.services.tabbyapi.options import setting
from hydra_ops.settings import load
from hydra_ops.validation import ValidationError


def detect(host: Host) -> Finding:
    """Open, closed or unknown (models without pinned files, or other data that does not validate)."""
    data = host.data.dict()
    try:
        models = load(ModelsOptions, data, host.name)
        model_dir = setting(data, "tabby_model_dir", host.name)
    except ValidationError as exc:
        return Finding(UNKNOWN, [str(exc)])
    evidence, closed = [], True
    for m in models.tabby_models:
        want = hashlib.sha256(manifest(m.files).encode()).hexdigest()
        have = host.get_fact(Command, command=f"cat {shlex.quote(marker(model_dir, m.dest))} 2>/dev/null || true")
        closed &= (have or "") == want
        evidence.append(f"{m.dest}: {'complete' if have == want else 'missing or incomplete'}")
    return Finding(CLOSED if closed else OPEN, evidence)
