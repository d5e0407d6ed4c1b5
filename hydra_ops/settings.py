"""Service settings declared once: each option's type, default, constraint and doc live in a pydantic model that
its service owns. Group data supplies values; loading checks them all before any host is touched and reports
every problem at once in the data's own words. `hydra settings` prints the reference from these declarations.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Annotated, Any, ClassVar, TypeVar

import pydantic
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from hydra_ops.validation import ValidationError

T = TypeVar("T", bound="Options")


def pattern(regex: str, what: str, longest: int = 255) -> Callable[[str], str]:
    """A validator: the whole value matches regex and is at most `longest` long; `what` names it in errors."""
    compiled = re.compile(regex)

    def check(value: str) -> str:
        if len(value) > longest or not compiled.fullmatch(value):
            raise ValueError(f"is not {what}")
        return value

    check.what = what  # type: ignore[attr-defined]  # shown by `hydra settings`
    return check


def _address(value: str) -> str:
    # Python accepts an IPv6 zone id ("fe80::1%eth0") holding any character but "%", newlines included
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise ValueError("is not an IP address") from None
    if "%" in value:
        raise ValueError("is not an IP address without a zone id (%...)")
    return value


_address.what = "an IP address"  # type: ignore[attr-defined]


def _publish_address(value: str) -> str:
    if ipaddress.ip_address(_address(value)).is_unspecified:
        raise ValueError("is every interface; publish on one address (the host's LAN address)")
    return value


_publish_address.what = "an IP address, not 0.0.0.0 or ::"  # type: ignore[attr-defined]

#: Accounts a service must never run as: root and the accounts Debian (base-passwd, systemd) and NixOS create for
#: the system itself. A deploy gives its service user a nologin shell and the GPU groups.
SYSTEM_ACCOUNTS = frozenset({
    "root", "daemon", "bin", "sys", "sync", "games", "man", "lp", "mail", "news", "uucp", "proxy", "www-data",
    "backup", "list", "irc", "gnats", "nobody", "nogroup", "_apt", "sshd", "messagebus", "dbus", "polkitd", "nixbld",
    "nscd", "avahi", "docker", "render", "video", "wheel", "sudo", "adm", "users", "disk", "shadow", "staff"})


def _service_user(value: str) -> str:
    if value in SYSTEM_ACCOUNTS or value.startswith(("systemd-", "nixbld")):
        raise ValueError("is an account of the system; a service runs as a user of its own")
    return value


_service_user.what = "a user name of its own (never root or a system account)"  # type: ignore[attr-defined]


def _path(value: str) -> str:
    if len(value) > 1024 or not re.fullmatch(r"/[A-Za-z0-9._+@/-]*", value) or "/../" in f"{value}/":
        raise ValueError("is not an absolute path (letters, digits, . _ - + @ / only)")
    return value


_path.what = "an absolute path"  # type: ignore[attr-defined]

#: Constrained string types shared by every service's options (each refuses what could break a file or shell).
AbsPath = Annotated[str, AfterValidator(_path)]
Address = Annotated[str, AfterValidator(_address)]
Url = Annotated[str, AfterValidator(pattern(r"^https?://[A-Za-z0-9._~:/?#\[\]@!$&()*+,;=%-]+$",
                                             "an http(s) URL (no spaces or quotes)", longest=2048))]
Sha256 = Annotated[str, AfterValidator(pattern(r"^[0-9a-f]{64}$", "a sha256 (64 lowercase hex digits)"))]
Duration = Annotated[str, AfterValidator(pattern(r"^[0-9]+(ms|s|m|h|d)?$", "a time like 600s"))]
Label = Annotated[str, AfterValidator(pattern(r"^[0-9A-Za-z._-]+$", "a label (letters, digits, . _ -)"))]
UserName = Annotated[str, AfterValidator(pattern(r"^[a-z_][a-z0-9_-]{0,31}$", "a user name"))]
#: The dedicated account a service runs as (created by the deploy, refused when it is a login account).
ServiceUser = Annotated[UserName, AfterValidator(_service_user)]
#: An address ports are published on: one interface, never all of them.
PublishAddress = Annotated[str, AfterValidator(_publish_address)]
NixAttr = Annotated[str, AfterValidator(pattern(r"^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_-]*)*$",
                                                 "a nixpkgs attribute path like ollama-cuda"))]
Port = Annotated[int, Field(ge=1, le=65535)]

_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
#: Values an EnvironmentFile and a Nix string both carry verbatim (no quotes, escapes, $ or whitespace).
_ENV_VALUE = re.compile(r"^[A-Za-z0-9._:/,=@+%-]{0,1024}$")


def _environment(env: dict[str, str]) -> dict[str, str]:
    bad = [k for k, v in env.items() if not _ENV_NAME.fullmatch(k) or not _ENV_VALUE.fullmatch(v)]
    if bad:
        raise ValueError(f"{', '.join(map(repr, bad))}: not an environment variable name, or a value with "
                         "characters other than letters, digits and . _ : / , = @ + % -")
    return env


_environment.what = "environment variables (NAME: value, no quotes or spaces)"  # type: ignore[attr-defined]
#: Environment variables for a unit's EnvironmentFile (or a Nix attrset): names and values that need no quoting.
Environment = Annotated[dict[str, str], AfterValidator(_environment)]

#: Variables that decide what a process loads or runs before its own code; group data never sets them.
LOADER_PREFIXES = ("LD_", "DYLD_", "MALLOC_")
LOADER_VARIABLES = frozenset({"PATH", "GCONV_PATH", "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "NODE_OPTIONS",
                              "BASH_ENV", "ENV", "SHELLOPTS", "IFS"})


def extra_environment(*owned: str) -> Any:
    """The type of a service's *_extra_env: an Environment without loader variables and without the variables
    hydra-ops sets itself (`owned`: bind address, GPU pinning, ...), which an extra value would override."""
    def check(env: dict[str, str]) -> dict[str, str]:
        bad = sorted(k for k in env if k in owned or k in LOADER_VARIABLES or k.startswith(LOADER_PREFIXES))
        if bad:
            raise ValueError(f"{', '.join(bad)}: set by hydra-ops itself or a loader variable; not an extra")
        return env

    check.what = "extra variables (not the ones hydra-ops sets, no loader variables)"  # type: ignore[attr-defined]
    return Annotated[dict[str, str], AfterValidator(_environment), AfterValidator(check)]


#: The pip install options a *_pip_args list may hold (True: takes a value): where packages come from and how they
#: are fetched. Options that install elsewhere or read more requirements (--target, --prefix, -r, -c, -e) are refused.
PIP_SOURCE_OPTIONS = {"--index-url": True, "-i": True, "--extra-index-url": True, "--find-links": True, "-f": True,
                      "--trusted-host": True, "--no-index": False, "--pre": False, "--only-binary": True,
                      "--no-binary": True, "--prefer-binary": False, "--timeout": True, "--retries": True,
                      "--proxy": True, "--cert": True}
_PIP_VALUE = re.compile(r"[A-Za-z0-9._:/=@+,%~-]{1,2048}")


def _pip_args(args: list[str]) -> list[str]:
    problems, i = [], 0
    while i < len(args):
        option, eq, value = args[i].partition("=") if args[i].startswith("--") else (args[i], "", "")
        takes = PIP_SOURCE_OPTIONS.get(option)
        if takes and not eq:
            i += 1
            value = args[i] if i < len(args) else ""
        if takes is None:
            problems.append(f"{args[i]!r} is not one of pip's source options ({', '.join(PIP_SOURCE_OPTIONS)})")
        elif not takes and eq:
            problems.append(f"{option} takes no value")
        elif takes and (not _PIP_VALUE.fullmatch(value) or value.startswith("-")):
            problems.append(f"{option}: {value!r} is not a URL, path or name (no spaces, quotes or shell characters)")
        elif option in ("--index-url", "-i", "--extra-index-url") and not value.startswith(("https://", "http://")):
            problems.append(f"{option}: {value!r} is not an http(s) URL")
        i += 1
    if problems:
        raise ValueError("; ".join(problems))
    return args


_pip_args.what = "pip source options (--index-url URL, --find-links URL, --no-index, ...)"  # type: ignore[attr-defined]
#: Extra pip arguments: source options only, each value one word.
PipArgs = Annotated[list[str], AfterValidator(_pip_args)]


class Options(BaseModel):
    """Base of every service's settings: strict types (no "5" for 5, no True for 1), immutable after loading.

    ``prefixes`` name the group-data keys a service owns, so a misspelt key (``ollama_num_paralel``) is an
    error with a suggestion instead of being ignored.
    """

    model_config = ConfigDict(extra="ignore", frozen=True, strict=True, validate_default=True)
    prefixes: ClassVar[tuple[str, ...]] = ()


def _message(error: Any) -> str:
    key = ".".join(str(p) if isinstance(p, str) else f"[{p}]" for p in error["loc"]).replace(".[", "[")
    if error["type"] == "missing":
        return f"{key}: missing (set it in group_data)"
    ours = error["msg"].startswith("Value error, ")
    text = error["msg"].removeprefix("Value error, ")
    text = text if ours or not text else text[0].lower() + text[1:]
    shown = error.get("input")
    if isinstance(shown, dict | list) or error["type"] == "extra_forbidden":
        return f"{key}: {text}"
    return f"{key}: {shown!r} {text}" if text.startswith("is ") else f"{key}: {shown!r}: {text}"


def unknown_keys(model: type[Options], data: Mapping[str, Any]) -> list[str]:
    """Group-data keys with one of the model's prefixes that it does not declare."""
    known = set(model.model_fields)
    out = []
    for key in sorted(data):
        if key.startswith(model.prefixes) and key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            out.append(f"{key}: unknown setting" + (f"; did you mean {close[0]}?" if close else ""))
    return out


def load(model: type[T], data: Mapping[str, Any], host: str) -> T:
    """Validate a host's group data against a service's options; raise one error listing every problem."""
    problems = unknown_keys(model, data)
    try:
        loaded = model.model_validate(dict(data))
    except pydantic.ValidationError as exc:
        problems += [_message(e) for e in exc.errors()]
        loaded = None
    if problems or loaded is None:
        raise ValidationError(host, problems)
    return loaded


def load_all(data: Mapping[str, Any], host: str, *models: type[Options]) -> tuple[Any, ...]:
    """Several services' options from one host's data; one error lists the problems of all of them."""
    loaded, problems = [], []
    for model in models:
        try:
            loaded.append(load(model, data, host))
        except ValidationError as exc:
            problems += exc.problems
    if problems:
        raise ValidationError(host, problems)
    return tuple(loaded)


def reference(model: type[Options]) -> Iterator[tuple[str, str, str, str]]:
    """(name, type, default, doc) of every option, for `hydra settings` and the README's reference."""
    for name, info in model.model_fields.items():
        yield name, _type_name(info), _default(info), info.description or ""


def _unannotated(text: str) -> str:
    """'Optional[Annotated[str, AfterValidator(...)]]' -> 'Optional[str]' (the constraint is described apart)."""
    while (start := text.find("Annotated[")) >= 0:
        depth, i = 0, start + len("Annotated[")
        base = re.match(r"\w+", text[i:])
        for j in range(i, len(text)):
            depth += {"[": 1, "]": -1}.get(text[j], 0)
            if depth < 0:
                text = text[:start] + (base[0] if base else "?") + text[j + 1:]
                break
        else:
            break
    return text


def _type_name(info: FieldInfo) -> str:
    """The annotation, plus what a constrained value must be (its validator's words, its bounds)."""
    text = _unannotated(re.sub(r"<class '(\w+)'>", r"\1", str(info.annotation)).replace("typing.", ""))
    text = re.sub(r"Optional\[(\w+)\]", r"\1 or None", re.sub(r"[\w.]+\.(\w+)", r"\1", text))
    notes = [getattr(m.func, "what", "") for m in info.metadata if isinstance(m, AfterValidator)]
    bounds = {type(m).__name__: getattr(m, type(m).__name__.lower(), None) for m in info.metadata}
    if "Ge" in bounds or "Le" in bounds:
        notes.append(f"{bounds.get('Ge', '')}..{bounds.get('Le', '')}")
    notes += [f"matching {m.pattern}" for m in info.metadata if getattr(m, "pattern", None)]
    return text + (f" ({', '.join(n for n in notes if n)})" if any(notes) else "")


def _default(info: FieldInfo) -> str:
    if info.default is PydanticUndefined and info.default_factory is None:
        return "(required)"
    value = info.default_factory() if info.default_factory is not None else info.default  # type: ignore[call-arg]
    return repr(value)
