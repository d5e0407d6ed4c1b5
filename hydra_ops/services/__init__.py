"""Services, each owning its settings (options.py), desired state, renderer per platform and detector.

registry.yaml maps each gap id to the services that close it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from hydra_ops.services.lb.options import LbOptions
from hydra_ops.services.ollama.options import OllamaOptions


class Compute(NamedTuple):
    """hydra-compute's two services, validated together (the LB balances the instances)."""

    ollama: OllamaOptions
    lb: LbOptions


def compute(data: Mapping[str, Any], host: str = "hydra-compute") -> Compute:
    """Validate a compute host's group data; raise one error listing every problem."""
    from hydra_ops.services.lb import lb_options
    from hydra_ops.settings import load

    lb, _ = lb_options(dict(data), host)  # validates the instances too
    return Compute(load(OllamaOptions, data, host), lb)


def ai(data: Mapping[str, Any], host: str = "hydra-ai") -> None:
    """Validate an ai host's group data (secrets, platform, TabbyAPI and its canary, models); one error lists all."""
    from hydra_ops.platform import PlatformOptions
    from hydra_ops.services.models.options import ModelsOptions
    from hydra_ops.services.secrets.options import SecretsOptions
    from hydra_ops.services.tabbyapi.options import roles
    from hydra_ops.settings import load_all
    from hydra_ops.validation import ValidationError

    problems = []
    for check in (lambda: load_all(data, host, SecretsOptions, PlatformOptions, ModelsOptions),
                  lambda: roles(data, host)):
        try:
            check()
        except ValidationError as exc:
            problems += exc.problems
    if problems:
        raise ValidationError(host, problems)
