"""Run devcluster/nixos/lib/eval.nix with nix-instantiate and return the evaluated NixOS config (stdlib only)."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

LIB = Path(__file__).resolve().parent / "lib"
NIX_INSTANTIATE = "nix-instantiate"
MAX_TRACE_LINES = 3  # "… while evaluating" lines kept from a --show-trace style message
MAX_TRACE_CHARS = 160


class NixEvalError(Exception):
    """Nix failed to parse or evaluate; the message is Nix's error text, trimmed of trace noise."""


_POSITION = re.compile(r"^at .+:\d+:\d+:$")


def _clean(stderr: str) -> str:
    """Nix's message intact; its own position and source excerpt; at most a few short "… while" trace lines."""
    lines = [line[7:] if line.startswith("       ") else line for line in stderr.rstrip("\n").splitlines()]
    lines = [line for line in lines if not line.startswith("(use '--show-trace'")]
    notes = [line.removeprefix("trace: ") for line in lines if line.startswith("trace: ")]  # builtins.trace output
    lines = [line for line in lines if not line.startswith("trace: ")]
    if lines and lines[0].startswith("error: "):
        lines[0] = lines[0][len("error: ") :]
    message: list[str] = []
    rest = iter(lines)
    for line in rest:
        if _POSITION.match(line.strip()) or line.strip().startswith("…"):
            break
        message.append(line)
    else:
        line = None
    out = [*message]
    while out and not out[-1].strip():
        out.pop()
    out.extend(notes)
    traces: list[str] = []
    first_frame = line is not None and not line.strip().startswith("…")
    for current in [line, *rest] if line is not None else []:
        text = current.strip()
        if text.startswith("…"):
            first_frame = False
            traces.append(text[:MAX_TRACE_CHARS])
        elif first_frame and text:
            out.append(current.rstrip())  # the error's own position and source excerpt
    if first_frame is False and traces:
        out.append("")
        out.extend(traces[:MAX_TRACE_LINES])
        if len(traces) > MAX_TRACE_LINES:
            out.append(f"… ({len(traces) - MAX_TRACE_LINES} more trace lines)")
    return "\n".join(out)


def _run(args: list[str], timeout: float) -> str:
    """Run nix-instantiate, returning stdout; NixEvalError with the cleaned message on failure."""
    try:
        proc = subprocess.run([NIX_INSTANTIATE, *args], capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError as exc:
        raise NixEvalError(f"{NIX_INSTANTIATE} not found (install nix-bin)") from exc
    except subprocess.TimeoutExpired as exc:
        raise NixEvalError(f"{NIX_INSTANTIATE} timed out after {timeout:g} s") from exc
    if proc.returncode != 0:
        raise NixEvalError(_clean(proc.stderr) or f"{NIX_INSTANTIATE} exited with {proc.returncode}")
    return proc.stdout


def _nix_path(path: Path) -> str:
    """A Nix path expression for an absolute path (a literal when possible, else `/. + "..."`)."""
    text = os.path.abspath(path)
    if re.fullmatch(r"(/[A-Za-z0-9._+-]+)+", text):
        return text
    return "(/. + " + json.dumps(text).replace("${", "\\${") + ")"


def parse(path: Path, *, timeout: float = 60) -> None:
    """Check that a .nix file parses (nix-instantiate --parse); raises NixEvalError."""
    _run(["--parse", str(path)], timeout)


def evaluate(configuration: Path, pkgs_file: Path, *, lib_dir: Path = LIB, timeout: float = 120) -> dict:
    """Evaluate configuration (and its imports) against pkgs_file; the config of every declared option."""
    out = _run(
        [
            "--eval",
            "--strict",
            "--json",
            str(Path(lib_dir) / "eval.nix"),
            "--arg",
            "configuration",
            _nix_path(configuration),
            "--arg",
            "pkgsFile",
            _nix_path(pkgs_file),
        ],
        timeout,
    )
    return json.loads(out)


def evaluate_module_text(text: str, pkgs: dict, tmp: Path) -> dict:
    """Write text as tmp/configuration.nix and pkgs as tmp/pkgs.json, then evaluate (a test convenience)."""
    tmp = Path(tmp)
    tmp.mkdir(parents=True, exist_ok=True)
    config = tmp / "configuration.nix"
    config.write_text(text)
    pkgs_file = tmp / "pkgs.json"
    pkgs_file.write_text(json.dumps(pkgs))
    return evaluate(config, pkgs_file)
