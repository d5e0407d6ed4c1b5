"""`nixos-rebuild` for the NixOS-shaped Debian test hosts (hydra-ops' test double; stdlib only, runs as root).

Evaluates /etc/nixos/configuration.nix with the real Nix evaluator (devcluster/nixos/lib/eval.nix), builds
generations under /nix/var/nix/profiles and activates them the way switch-to-configuration does.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import generations, realise, store, switch

DOUBLE_CONFIG = "etc/hydra-nixos/double.json"
CONFIGURATION = "/etc/nixos/configuration.nix"

USAGE = """\
usage: nixos-rebuild <command> [options]

commands:
  dry-build                evaluate /etc/nixos/configuration.nix and list what would be built; builds nothing (no
                           builder runs, nginx.conf is not checked)
  build                    build the system (derivations, the nginx -t check) and leave ./result pointing at it;
                           no generation is made, nothing is activated
  switch                   build, point the system profile at a new generation, activate it; a failed build changes
                           nothing
  switch --rollback        point the profile at the previous generation and activate it (the newer ones stay listed)
  list-generations [--json]
                           list the system generations (current one marked)
  source-hash              (test double only) print the sha256 of the files under /etc/nixos; a generation built
                           from them has the same value in /run/current-system/sources.sha256
  activate-at-boot         (test double only, run by nixos-activation.service) re-link /run/current-system and
                           re-apply the firewall; with no generation yet, build and activate generation 1
  switch-to-configuration GENERATION switch|test
                           (test double only) what GENERATION/bin/switch-to-configuration runs: activate it

options:
  --show-trace             passed to the evaluator
  -h, --help               this text

exit status: 0 success; 1 usage, evaluation or build error, or switch-to-configuration failed (as nixos-rebuild:
"warning: error(s) occurred while switching to the new configuration"). switch-to-configuration itself exits 2 on
activation errors and 4 when any unit on the host is failed afterwards.
"""

SWITCH_ERROR = "warning: error(s) occurred while switching to the new configuration"


class Failure(Exception):
    """A refusal: printed as `error: <message>`, exit 1."""


def run_command(argv: list[str], input: str | None = None) -> subprocess.CompletedProcess:
    """Run a command on the host, capturing its output (the process boundary tests replace)."""
    try:
        return subprocess.run(argv, input=input, capture_output=True, text=True, check=False)
    except FileNotFoundError as exc:
        return subprocess.CompletedProcess(argv, 127, "", f"{argv[0]}: {exc.strerror}")


def nix_evaluator(lib: str, pkgs: str, *, show_trace: bool = False, run=run_command,
                  configuration: str = CONFIGURATION) -> Callable[[], dict]:
    """The evaluator: `nix-instantiate --eval --strict --json <lib>/eval.nix` on /etc/nixos/configuration.nix.

    Failed `assertions` in the result are refused and `warnings` printed, as NixOS's toplevel does.
    """

    def evaluate() -> dict[str, Any]:
        argv = ["nix-instantiate", "--eval", "--strict", "--json", f"{lib}/eval.nix",
                "--arg", "configuration", configuration, "--arg", "pkgsFile", pkgs]
        result = run(argv + (["--show-trace"] if show_trace else []))
        if result.returncode != 0:
            message = result.stderr.strip() or f"nix-instantiate exited with status {result.returncode}"
            raise Failure(message.removeprefix("error: "))
        try:
            config = json.loads(result.stdout)
        except ValueError as exc:
            raise Failure(f"the evaluator printed no JSON: {exc}") from exc
        failed = [a.get("message", "") for a in config.get("assertions") or [] if not a.get("assertion", True)]
        if failed:
            raise Failure("\n\nFailed assertions:\n" + "\n".join(f"- {m}" for m in failed))
        for warning in config.get("warnings") or []:
            print(f"trace: warning: {warning}", file=sys.stderr)
        return config

    return evaluate


def load_double_config(root: Path) -> dict[str, str]:
    path = root / DOUBLE_CONFIG
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise Failure(f"cannot read /{DOUBLE_CONFIG}: {exc}") from exc
    if not data.get("lib"):
        raise Failure(f"/{DOUBLE_CONFIG} names no evaluator \"lib\" directory")
    return {"lib": data["lib"], "pkgs": data.get("pkgs") or "/etc/hydra-nixos/pkgs.json"}


@contextlib.contextmanager
def profile_lock(root: Path):
    profiles = generations.profiles(root)
    profiles.mkdir(parents=True, exist_ok=True)
    with open(profiles / ".nixos-rebuild.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def build_generation(root: Path, config: dict[str, Any], sources: str, run, log) -> int:
    """Build the next generation next to the others and only then give it its number."""
    profiles = generations.profiles(root)
    tmp = Path(tempfile.mkdtemp(prefix=".system-building-", dir=profiles))
    try:
        realise.build(root, tmp, config, sources, run)
        number = max(generations.numbers(root), default=0) + 1
        tmp.rename(generations.path(root, number))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log(f"built generation {number}")
    return number


class Rebuild:
    def __init__(self, root: Path, run, evaluate: Callable[[], dict] | None, log, **activate_opts: Any) -> None:
        self.root, self.run, self._evaluate, self.log, self.opts = root, run, evaluate, log, activate_opts

    def evaluate(self) -> dict[str, Any]:
        self.log("building the system configuration...")
        if self._evaluate is None:
            cfg = load_double_config(self.root)
            self._evaluate = nix_evaluator(cfg["lib"], cfg["pkgs"], run=self.run,
                                           configuration=str(self.root / CONFIGURATION.lstrip("/")))
        return self._evaluate()

    def dry_build(self) -> int:
        config = self.evaluate()
        sources = generations.source_hash(self.root)
        drvs = realise.unbuilt(self.root, config)
        with tempfile.TemporaryDirectory(prefix="nixos-dry-build-") as tmp:
            made = realise.build(self.root, Path(tmp), config, sources, self.run, check=False)
        if drvs:
            self.log(f"these {len(drvs)} derivations will be built:")
            for drv in drvs:
                self.log(f"  {drv['drvPath']}")
        self.log(f"these {len(made)} paths would be built:")
        for rel in made:
            self.log(f"  {rel}")
        return 0

    def build(self, out_link: Path) -> int:
        """Build the system into the store and point `out_link` (./result) at it; no generation."""
        config = self.evaluate()
        sources = generations.source_hash(self.root)
        host_name = (config.get("networking") or {}).get("hostName") or "nixos"
        path = store.store_path(f"nixos-system-{host_name}", generations.canonical(config) + sources)
        target = store.host(self.root, path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".nixos-system-building-", dir=target.parent))
        try:
            realise.build(self.root, tmp, config, sources, self.run)
            shutil.rmtree(target, ignore_errors=True)
            tmp.rename(target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        link = out_link.with_name(f".{out_link.name}.tmp")
        link.unlink(missing_ok=True)
        link.symlink_to(path)
        link.replace(out_link)
        print(path)
        return 0

    def _activate(self, number: int) -> int:
        """Point the profile at `number`, then run its activation; nixos-rebuild's status from it."""
        generations.set_profile(self.root, number)
        self.log(f"activating the configuration (generation {number})...")
        if switch.activate(self.root, number, self.run, log=self.log, **self.opts) != 0:
            self.log(SWITCH_ERROR)
            return 1
        return 0

    def switch(self) -> int:
        config = self.evaluate()
        sources = generations.source_hash(self.root)
        with profile_lock(self.root):
            current = generations.current(self.root)
            if generations.same_as(self.root, current, config, sources):
                self.log(f"the configuration is unchanged: generation {current} stays current")
                number = current
            else:
                number = build_generation(self.root, config, sources, self.run, self.log)
            return self._activate(number)

    def rollback(self) -> int:
        with profile_lock(self.root):
            number = generations.previous(self.root)
            if number is None:
                raise Failure("no previous generation")
            self.log(f"switching to generation {number}...")
            return self._activate(number)

    def switch_to_configuration(self, gen: str, action: str) -> int:
        """GENERATION/bin/switch-to-configuration: activate that generation; the profile is left as it is."""
        number = generations.number_of(Path(gen))
        if number is None or generations.path(self.root, number) != store.host(self.root, gen):
            raise Failure(f"{gen} is not a generation of the system profile")
        if action not in ("switch", "test"):
            raise Failure(f"switch-to-configuration: unsupported action {action!r} (switch, test)")
        with profile_lock(self.root):
            return switch.activate(self.root, number, self.run, log=self.log, **self.opts)

    def activate_at_boot(self) -> int:
        with profile_lock(self.root):
            current = generations.current(self.root)
            if current is not None:
                generations.link_current_system(self.root, current)
                errors = switch.apply_firewall(self.run, generations.path(self.root, current))
                for error in errors:
                    self.log(f"error: {error}")
                return 2 if errors else 0
        config = self.evaluate()
        sources = generations.source_hash(self.root)
        with profile_lock(self.root):
            number = build_generation(self.root, config, sources, self.run, self.log)
            generations.set_profile(self.root, number)
            return switch.activate(self.root, number, self.run, boot=True, log=self.log)

    def list_generations(self, as_json: bool) -> int:
        rows = generations.listing(self.root)
        if as_json:
            print(json.dumps(rows, indent=2))
            return 0
        print(f"{'Generation':<12}{'Build-date':<21}{'NixOS version':<40}{'Kernel':<20}Configuration Revision")
        for row in rows:
            label = f"{row['generation']}{' current' if row['current'] else ''}"
            print(f"{label:<12}{row['date']:<21}{row['nixosVersion']:<40}{row['kernelVersion']:<20}"
                  f"{row['configurationRevision']}")
        return 0


def main(argv: list[str] | None = None, *, root: Path = Path("/"), run=run_command,
         evaluate: Callable[[], dict] | None = None, out_link: Path | None = None, **activate_opts: Any) -> int:
    args = list(sys.argv[1:] if argv is None else argv)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    if any(a in ("-h", "--help") for a in args):
        print(USAGE, end="")
        return 0
    flags = {a for a in args if a.startswith("-")}
    words = [a for a in args if not a.startswith("-")]
    allowed = {"switch": {"--rollback", "--show-trace"}, "dry-build": {"--show-trace"}, "build": {"--show-trace"},
               "list-generations": {"--json"}, "source-hash": set(), "activate-at-boot": {"--show-trace"},
               "switch-to-configuration": set()}
    arity = {"switch-to-configuration": 3}
    command = words[0] if words else ""
    if not words or command not in allowed or len(words) != arity.get(command, 1) or flags - allowed[command]:
        bad = flags - allowed.get(command, set())
        what = "expected a command" if not words else f"unknown command {command}" if command not in allowed else \
            f"unknown option {sorted(bad)[0]}" if bad else f"wrong number of arguments for {command}"
        print(f"error: {what}\n{USAGE}", file=sys.stderr, end="")
        return 1
    try:
        if evaluate is None and "--show-trace" in flags:
            cfg = load_double_config(root)
            evaluate = nix_evaluator(cfg["lib"], cfg["pkgs"], show_trace=True, run=run,
                                     configuration=str(root / CONFIGURATION.lstrip("/")))
        rebuild = Rebuild(root, run, evaluate, log, **activate_opts)
        if command == "source-hash":
            print(generations.source_hash(root))
            return 0
        if command == "list-generations":
            return rebuild.list_generations("--json" in flags)
        if command == "dry-build":
            return rebuild.dry_build()
        if command == "build":
            return rebuild.build(out_link or Path.cwd() / "result")
        if command == "activate-at-boot":
            return rebuild.activate_at_boot()
        if command == "switch-to-configuration":
            return rebuild.switch_to_configuration(words[1], words[2])
        return rebuild.rollback() if "--rollback" in flags else rebuild.switch()
    except (Failure, realise.BuildError) as exc:
        log(f"error: {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
