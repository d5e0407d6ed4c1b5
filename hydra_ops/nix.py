"""Serialise Python values into Nix expressions, so no group-data value is ever pasted into a module as code.

Strings are escaped (quotes, backslashes, ``${``); the only interpolation a module gets is a package reference
made with :func:`package`, whose attribute path is validated.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

ATTR_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_'-]*(\.[A-Za-z_][A-Za-z0-9_'-]*)*$")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_'-]*$")
_KEYWORDS = {"if", "then", "else", "assert", "with", "let", "in", "rec", "inherit", "or"}
#: Placeholder for a package reference inside a string: NUL-delimited, so no text from group data can forge it.
_PKG = re.compile("\x00pkg:([^\x00]+)\x00")


class Raw(str):
    """A Nix expression written in code (never from group data), emitted as is, e.g. ``Raw("lib.mkForce false")``."""


class NixError(ValueError):
    """A value that has no Nix representation (or an invalid package attribute path)."""


def package(attr: str) -> str:
    """A placeholder for ``${pkgs.<attr>}`` to use inside strings (e.g. ``package("ollama") + "/bin/ollama"``)."""
    if not ATTR_PATH.fullmatch(attr):
        raise NixError(f"{attr!r} is not a nixpkgs attribute path")
    return f"\x00pkg:{attr}\x00"


def pkg_ref(attr: str) -> Raw:
    """``pkgs.<attr>`` as a value (e.g. an item of environment.systemPackages)."""
    package(attr)  # validates
    return Raw("pkgs." + _attr_path(attr))


def _string(text: str) -> str:
    if "\x00" in _PKG.sub("", text):
        raise NixError("strings must not contain NUL bytes")
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("${", "\\${")
    escaped = escaped.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return '"' + _PKG.sub(lambda m: "${pkgs." + _attr_path(m.group(1)) + "}", escaped) + '"'


def _attr_path(path: str) -> str:
    return ".".join(key(part) for part in path.split("."))


def key(name: str) -> str:
    """An attribute name: bare when it is an identifier, quoted (and escaped) otherwise."""
    if _IDENT.fullmatch(name) and name not in _KEYWORDS:
        return name
    return _string(name)


def expr(value: Any, indent: int = 0) -> str:
    """The Nix expression for a JSON-like value (None, bool, int, float, str, list, mapping)."""
    pad, inner = "  " * indent, "  " * (indent + 1)
    if isinstance(value, Raw):
        return str(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list | tuple):
        if not value:
            return "[ ]"
        return "[\n" + "".join(f"{inner}{_item(v, indent + 1)}\n" for v in value) + f"{pad}]"
    if isinstance(value, Mapping):
        if not value:
            return "{ }"
        body = "".join(f"{inner}{key(str(k))} = {expr(v, indent + 1)};\n" for k, v in value.items())
        return "{\n" + body + f"{pad}}}"
    raise NixError(f"{type(value).__name__} has no Nix representation")


def _item(value: Any, indent: int) -> str:
    """A list item; a raw expression (a function application) needs parentheses there."""
    return f"({value})" if isinstance(value, Raw) else expr(value, indent)


def module(config: Mapping[str, Any], header: str, args: str = "{ config, lib, pkgs, ... }") -> str:
    """A complete NixOS module file: a comment header, the argument set and the config attribute set."""
    comment = "".join(f"# {line}\n".replace("# \n", "#\n") for line in header.splitlines())
    return f"{comment}{args}:\n\n{expr(config)}\n"
