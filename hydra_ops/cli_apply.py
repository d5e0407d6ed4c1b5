"""Preview, then apply: how `hydra fix` and `hydra deploy` run pyinfra, so no host changes before the operator saw
what would change (pyinfra's own change detection, `--diff`) and said yes, or passed --yes in a script."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from typing import IO, Any

import click

from hydra_ops import deploy_file

NO_TERMINAL = ("{command} changes hosts, so it shows what would change and asks first; stdin is not a terminal, "
               "so nothing can be asked and nothing was changed. Pass --yes to apply without asking, or --dry "
               "to preview only.")


def apply_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options `fix` and `deploy` share: --yes, --dry, --diff and --limit (the last three go to pyinfra)."""
    for option in reversed([
        click.option("--yes", "-y", is_flag=True, help="Apply without the preview and question (scripts, CI)."),
        click.option("--dry", is_flag=True, help="Preview only: show what would change, change nothing."),
        click.option("--diff", is_flag=True, help="Show the text of each changed file in the preview and run "
                                                  "(secret files never are: their operation prints no content)."),
        click.option("--limit", multiple=True, metavar="HOST",
                     help="Only these hosts or groups (repeatable; pyinfra's --limit)."),
    ]):
        command = option(command)
    return command


def pyinfra(mode: str, inventory: str, deploy: str, args: list[str]) -> int:
    """Run `pyinfra MODE INVENTORY DEPLOY ARGS` (MODE -y or --dry) in the inventory's folder, echoed first."""
    from hydra_ops.targets import inventory_workdir

    cmd = [sys.executable, "-P", "-m", "pyinfra", mode, inventory, deploy_file(deploy), *args]
    click.echo("$ " + " ".join(cmd[3:]), err=True)
    if sys.stdin.isatty():
        return subprocess.call(cmd, cwd=inventory_workdir(inventory))
    # No terminal: a --dry run asks "hosts failed, continue?" when one host fails; answer no, not an EOFError.
    with _answer_no() as stdin:
        return subprocess.call(cmd, cwd=inventory_workdir(inventory), stdin=stdin)


def _answer_no() -> IO[bytes]:
    """A pipe that reads "n" (then ends): pyinfra's questions, answered no."""
    read, write = os.pipe()
    os.write(write, b"n\n")
    os.close(write)
    return os.fdopen(read, "rb")


def preview_then_apply(command: str, inventory: str, deploy: str, args: list[str], *, yes: bool, dry: bool,
                       diff: bool, limit: tuple[str, ...]) -> int:
    """--dry: preview and stop. --yes: apply at once. Otherwise, on a terminal only: preview, ask, apply on yes.

    The preview is pyinfra's `--dry` run (the same change detection pyinfra runs before it asks); the apply is a
    second run with -y, which plans again from the hosts' state at that moment."""
    args = [*args, *(["--diff"] if diff else []), *[a for host in limit for a in ("--limit", host)]]
    if dry:
        return pyinfra("--dry", inventory, deploy, args)
    if yes:
        return pyinfra("-y", inventory, deploy, args)
    if not sys.stdin.isatty():
        raise click.UsageError(NO_TERMINAL.format(command=command))
    rc = pyinfra("--dry", inventory, deploy, args)
    if rc != 0:
        click.echo(f"The preview failed (exit {rc}): nothing was changed.", err=True)
        return rc
    try:
        apply = click.confirm("Apply these changes?", default=False, err=True)
    except click.Abort:  # end of input (Ctrl-D) or Ctrl-C: a no
        apply = False
        click.echo("", err=True)
    if not apply:
        click.echo("Nothing was changed.", err=True)
        return 1
    return pyinfra("-y", inventory, deploy, args)
