"""Run devcluster/nixos/lib/eval.nix with nix-instantiate and return the evaluated NixOS config (stdlib only)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

LIB = Path(__file__).resolve().parent / "lib"
NIX_INSTANTIATE = "nix-instantiate"
MAX_TRACE_LINES = 3  # "… while evaluating" lines kept from a --show-trace style message
MAX_TRACE_CHARS = 160


class NixEvalError(Exception):
    """Nix failed to parse or evaluate; the message is Nix's error text, trimmed of trace noise."""


def _clean(stderr: str) -> str:
    """Nix's error without the "error: " prefix, its 7-space indent, code frames and long traces."""
    lines = stderr.rstrip("\n").splitlines()
    out: list[str] = []
    traces = 0
    in_frame = False
    for line in lines:
        text = line[7:] if line.startswith("       ") else line
        if text.startswith("error: "):
            text = text[len("error: ") :]
        if text.startswith("(use '--show-trace'"):
            continue
        stripped = text.strip()
        if stripped.startswith("…"):
            in_frame = False
            traces += 1
            if traces <= MAX_TRACE_LINES:
                out.append(stripped[:MAX_TRACE_CHARS])
            continue
        if stripped.startswith("at ") and (":" in stripped) and out and not in_frame:
            in_frame = True  # "at file:line:col:" followed by a source excerpt: keep only the position
            out.append(stripped)
            continue
        if in_frame:
            if stripped == "" or "|" in stripped.split(" ", 1)[0] or stripped[:1].isdigit() or stripped.startswith("|"):
                continue
            in_frame = False
        if traces and not stripped:
            continue
        out.append(text)
    while out and not out[-1].strip():
        out.pop()
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
            str(Path(configuration).resolve()),
            "--arg",
            "pkgsFile",
            str(Path(pkgs_file).resolve()),
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
