"""Parsers of rendered files for the hostile-input property test: each gives (shape without values, text values) by
its format's own parser (YAML, JSON, crossplane for nginx, systemd units and env files, shell words, Dockerfile
instructions, argv), and runs the checkers that are programs (nix-instantiate --parse, bash -n, node --check)."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import crossplane
import yaml

from hydra_ops.systemd_ini import parse, parse_env


def run_tool(command: list[str], texts: list[str], suffix: str) -> list[tuple[str, str]]:
    """Run a checker on each text, all in one process: (its output, its errors or "") per text."""
    if not texts:
        return []
    with tempfile.TemporaryDirectory() as tmp:
        paths = [Path(tmp) / f"f{i}{suffix}" for i in range(len(texts))]
        for path, text in zip(paths, texts, strict=True):
            path.write_bytes(text.encode("utf-8", "surrogateescape"))
        script = f'for f; do {shlex.join(command)} "$f" > "$f.out" 2> "$f.err" || echo "exit $?" >> "$f.err"; done'
        subprocess.run(["bash", "-c", script, "check", *map(str, paths)], check=True, timeout=600)
        return [(Path(f"{p}.out").read_text(errors="replace"), Path(f"{p}.err").read_text(errors="replace"))
                for p in paths]


def _tree(doc: Any) -> Any:
    if isinstance(doc, dict):
        return ("map", sorted((_tree(v) for v in doc.values()), key=repr))
    if isinstance(doc, list):
        return [_tree(v) for v in doc]
    return type(doc).__name__


def _leaves(doc: Any) -> list[str]:
    if isinstance(doc, dict):
        return [str(k) for k in doc] + [x for v in doc.values() for x in _leaves(v)]
    if isinstance(doc, list):
        return [x for v in doc for x in _leaves(v)]
    return [doc] if isinstance(doc, str) else []


def _words(text: str) -> list[str]:
    return shlex.split(text, comments=True)


def _nginx(text: str) -> tuple[Any, list[str]]:
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "x.conf").write_text(text)
        parsed = crossplane.parse(str(Path(tmp) / "x.conf"), single=True, check_ctx=False, check_args=False)
    assert parsed["status"] == "ok", parsed["errors"]

    def walk(block: list[dict[str, Any]]) -> list[Any]:
        return [(d["directive"], len(d["args"]), walk(d.get("block", []))) for d in block]
    directives = parsed["config"][0]["parsed"]
    args: list[str] = []
    todo = list(directives)
    while todo:
        d = todo.pop()
        args += d["args"]
        todo += d.get("block", [])
    return walk(directives), args


def _unit(text: str) -> tuple[Any, list[str]]:
    text = re.sub(r"\\\n", " ", text)  # systemd joins a line ending in a backslash with the next
    unit = parse(text)
    shape = [(s, [(k, len(_words(v)) if k.startswith(("Exec", "Environment")) else 1,
                   len(re.findall(r"%[^%]", v.replace("%%", ""))))
                  for k, v in pairs]) for s, pairs in unit.items()]
    return shape, [v.replace("%%", "%") for pairs in unit.values() for _, v in pairs]


def _dockerfile(text: str) -> tuple[Any, list[str]]:
    lines = [ln for ln in re.sub(r"\\\n", "", text).splitlines() if ln.strip() and not ln.startswith("#")]
    words = [_words(ln) if ln.startswith("RUN ") else ln.split() for ln in lines]  # RUN's body is shell
    return [(ws[0], len(ws)) for ws in words], [w for ws in words for w in ws]


def structure(fmt: str, text: str) -> tuple[Any, list[str]]:
    """A rendered file parsed by its format's parser: its shape (no values) and its text values."""
    if fmt in ("yaml", "json"):
        doc = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) if fmt == "yaml" else \
            json.loads(text)
        return _tree(doc), _leaves(doc)
    if fmt == "nginx":
        return _nginx(text)
    if fmt == "unit":
        return _unit(text)
    if fmt == "env":
        env = parse_env(text)
        return len(env), [*env, *env.values()]
    if fmt in ("sh", "cmd", "redis"):
        lines = [_words(ln) for ln in text.splitlines()] if fmt == "redis" else [_words(text)]
        # a redis.conf line's first word is its directive; a command's may be a path built from the value itself
        return [(ws[:1] if fmt == "redis" else [], len(ws)) for ws in lines] + \
            [text.count("\n") if fmt == "cmd" else 0], [w for ws in lines for w in ws]
    if fmt == "dockerfile":
        return _dockerfile(text)
    if fmt == "argv":  # what execve takes: strings without NUL
        argv = json.loads(text)
        assert not any("\x00" in a for a in argv), "an argument holds NUL (exec refuses it)"
        return len(argv), argv
    if fmt == "lines":
        return text.count("\n"), [part for ln in text.splitlines() for part in ln.split("  ", 1)]
    return None, []  # nix, js: by their tools (checked below)


CLIMBS = re.compile(r"(^|/)\.\.(/|$)")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)


def nix_shape(parsed: str) -> str:
    return re.sub(r"[A-Za-z_][A-Za-z0-9_'-]*|[0-9]+", "i", _STRING.sub("S", parsed))


def nix_literal(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("${", "\\${")
    return escaped.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
