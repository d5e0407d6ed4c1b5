"""Apply NixOS modules the way `nginx -t` guards nginx: evaluate and build first, switch, judge, roll back on failure.

Modules live in <config_dir>/hydra-ops/ (a default.nix there imports every module in the directory) and
configuration.nix imports that directory once. The running generation is only replaced when `nixos-rebuild
dry-build` (evaluation) and `nixos-rebuild build` (the build-time checks) accept the new modules. After `switch` the
health checks must pass within the timeout and the units hydra-ops manages must not have failed; otherwise the
system profile goes back to the generation recorded before the deploy (only if the switch moved it) and the module
files are put back as they were, so the next run tries (and fails) again instead of reporting success. Units
hydra-ops does not manage that failed (switch-to-configuration fails for any failed unit) are reported as a warning.
"""

from __future__ import annotations

import hashlib
import re
import shlex
from collections.abc import Sequence
from io import StringIO

from pyinfra import host, logger
from pyinfra.api import FunctionCommand, operation
from pyinfra.api.exceptions import PyinfraError
from pyinfra.facts.server import Command
from pyinfra.operations import files

from hydra_ops.render import render

SUBDIR = "hydra-ops"
MARKER = ".applied"
REPORT = ".hydra-ops-unmanaged-failed"
STAGE = ".hydra-ops-stage"
PROFILE = "/nix/var/nix/profiles/system"
IMPORT = f"./{SUBDIR}"


class ImportMissing(PyinfraError):
    """configuration.nix has no imports list this deploy can extend safely."""


def add_import(text: str, path: str) -> str | None:
    """configuration.nix with ``./hydra-ops`` in its (single, top-level) ``imports`` list, or None when there is
    no such list to extend safely. Text that already imports it is returned unchanged."""
    code = re.sub(r"#.*", lambda m: " " * len(m.group()), text)  # comments blanked, offsets kept
    if re.search(rf"(?<![\w./-]){re.escape(path)}(?![\w./-])", code):
        return text
    lists = list(re.finditer(r"(?<![\w.])imports\s*=\s*\[", code))
    if len(lists) != 1 or len(re.findall(r"(?<![\w.])imports\s*=", code)) != 1:
        return None
    end = lists[0].end()
    return f"{text[:end]} {path}{text[end:]}"


def import_error(path: str) -> ImportMissing:
    return ImportMissing(f"{path} has no single `imports = [ ... ];` list that hydra-ops can extend. Add this line "
                         f"to the module's top-level attribute set, then run the deploy again:\n"
                         f"  imports = [ {IMPORT} ];")


def _dir_hash_command(mod_dir: str) -> str:
    q = shlex.quote(mod_dir)
    return (f"if [ -d {q} ]; then cd {q} && find . -maxdepth 1 -type f -name '*.nix' | LC_ALL=C sort "
            "| xargs -r sha256sum | sha256sum | cut -d' ' -f1; else echo none; fi")


def report_unmanaged(state, host, path: str) -> bool:
    """Log the units the switch script found failed but hydra-ops does not manage (its report file), then drop it."""
    ok, output = host.run_shell_command(f"cat {shlex.quote(path)} 2>/dev/null; rm -f {shlex.quote(path)}")
    units = " ".join(output.stdout.split()) if ok else ""
    if units:
        logger.warning(f"{host.name}: units hydra-ops does not manage are failed after the switch (not rolled "
                       f"back; see `systemctl status {units}`): {units}")
    return True


@operation()
def modules(files_wanted: dict[str, str], health: list[str], config_dir: str = "/etc/nixos", timeout: int = 120,
            units: Sequence[str] = ()):
    """Make <config_dir>/hydra-ops/<name> hold each module of files_wanted and the running system use them.

    + files_wanted: module file name (e.g. ``ollama.nix``) -> full content
    + health: shell commands that succeed once the new generation serves (each retried until timeout)
    + config_dir: where configuration.nix lives
    + timeout: seconds the health checks may take in total after the switch
    + units: the systemd units these modules define (``ollama@11434.service``); one that failed rolls back
    """
    q = shlex.quote
    mod_dir = f"{config_dir}/{SUBDIR}"
    main = f"{config_dir}/configuration.nix"
    wanted = {"default.nix": render("nixos/default.nix.j2"), **files_wanted}
    current = host.get_fact(Command, command=(
        f"for f in {' '.join(q(f'{mod_dir}/{n}') for n in sorted(wanted))}; do "
        "if [ -f \"$f\" ]; then sha256sum \"$f\"; else echo \"absent $f\"; fi; done; "
        f"echo \"applied $(cat {q(mod_dir + '/' + MARKER)} 2>/dev/null || echo none)\"; "
        f"echo \"dir $({_dir_hash_command(mod_dir)}) $(readlink -f /run/current-system || echo none)\""))
    lines = (current or "").splitlines()
    have = {line.split()[1].rsplit("/", 1)[1]: line.split()[0] for line in lines if line.endswith(".nix")}
    applied = next(line.split(" ", 1)[1] for line in lines if line.startswith("applied "))
    live = next(line.split(" ", 1)[1] for line in lines if line.startswith("dir "))
    config_text = host.get_fact(Command, command=f"cat {q(main)}")
    patched = add_import(config_text or "", IMPORT)
    if patched is None:
        raise import_error(main)
    stale = {n for n, text in wanted.items() if have.get(n) != hashlib.sha256(text.encode()).hexdigest()}
    if not stale and patched == config_text and applied == live:
        host.noop(f"{', '.join(sorted(files_wanted))}: in place and in the running generation")
        return

    stage = f"{config_dir}/{STAGE}"
    yield f"install -d -m 700 {q(stage)}"  # a leftover stage is harmless: only listed files are used
    staged = dict(wanted)
    if patched != config_text:
        staged["configuration.nix"] = patched
    for name, text in sorted(staged.items()):
        yield from files.put._inner(src=StringIO(text), dest=f"{stage}/{name}", mode="644")
    yield switch_script(config_dir, sorted(wanted), "configuration.nix" in staged, health, timeout, units)
    yield FunctionCommand(report_unmanaged, (f"{config_dir}/{REPORT}",), {})


def switch_script(config_dir: str, names: Sequence[str], patch_main: bool, health: Sequence[str], timeout: int,
                  units: Sequence[str], profile: str = PROFILE) -> str:
    """The shell script that installs the staged modules and gates, switches, judges and rolls back (every value
    shell-quoted)."""
    q = shlex.quote
    mod_dir = f"{config_dir}/{SUBDIR}"
    return render("nixos/switch.sh.j2", mod_dir=q(mod_dir), stage=q(f"{config_dir}/{STAGE}"),
                  main=q(f"{config_dir}/configuration.nix"), marker=q(f"{mod_dir}/{MARKER}"),
                  modules=" ".join(q(n) for n in names), patch_main="1" if patch_main else "0",
                  checks=" ".join(q(c) for c in health), timeout=int(timeout), dir_hash=_dir_hash_command(mod_dir),
                  units=" ".join(q(u) for u in units), report=q(f"{config_dir}/{REPORT}"), profile=q(profile))
