"""Render templates/ with jinja2: StrictUndefined, so a missing variable is an error, never an empty string."""

from __future__ import annotations

import re
import shlex
from typing import Any

import jinja2

from hydra_ops import TEMPLATES

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(TEMPLATES)),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
    autoescape=False,
)


def _shell_words(value: Any) -> str:
    """A value as shell words, each quoted: a list gives one word per item, anything else one word."""
    items = value if isinstance(value, list | tuple) else [value]
    return " ".join(shlex.quote(str(item)) for item in items)


_env.filters["sh"] = _shell_words
_env.filters["regex_escape"] = lambda text: re.sub(r"([.^$*+?()\[\]{}|\\])", r"\\\1", str(text))


def render(name: str, **context: Any) -> str:
    """Render templates/<name> with the given variables."""
    return _env.get_template(name).render(**context)
