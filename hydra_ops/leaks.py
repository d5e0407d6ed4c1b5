"""Find secret values on a host without ever putting them in a command line: values travel on ssh's stdin.

`ssh` is the argv from hydra_ops.targets.ssh_command: the same user, key, port, known_hosts, strict host key
checking and BatchMode as the deploys' inventory (the real cluster) or the local cluster's ssh_config.
"""

from __future__ import annotations

import shlex
import subprocess

#: Where a leaked value could sit: configs, logs (the journal included), state, temp files, homes.
SEARCH = ("/etc", "/opt", "/usr/local", "/var/lib", "/var/log", "/var/tmp", "/tmp", "/root", "/home", "/srv", "/run")
SKIP = ("/var/lib/apt", "/var/lib/dpkg", "/var/cache", "/run/systemd/journal")


def _argv(ssh: list[str], script: str) -> list[str]:
    """ssh argv + the remote script; an argv ending in `sh -c` (sudo) takes the script as one quoted word."""
    return [*ssh, shlex.quote(script) if ssh[-2:] == ["sh", "-c"] else script]


def files_containing(ssh: list[str], values: dict[str, str]) -> dict[str, list[str]]:
    """{path: [secret names]} for every file on the host that holds one of the values (names only, no values).

    One scan of the filesystem with every value at once, then each value is attributed among the few files that
    matched. Values stay on stdin and in the shell's memory: grep reads them with -f -, never as arguments.
    """
    names = list(values)
    skip = "".join(f"| grep -v {shlex.quote('^' + s + '/')} " for s in SKIP)
    script = (
        "pats=$(cat); "
        f"files=$(printf '%s\\n' \"$pats\" | grep -rlaF -f - {' '.join(SEARCH)} 2>/dev/null {skip}|| true); "
        "i=0; printf '%s\\n' \"$pats\" | while IFS= read -r p; do "
        "for f in $files; do printf '%s\\n' \"$p\" | grep -qaF -f - \"$f\" && echo \"$i $f\"; done; "
        "i=$((i+1)); done"
    )
    proc = subprocess.run(_argv(ssh, script), input="".join(values[n] + "\n" for n in names), capture_output=True,
                          text=True, timeout=180)
    found: dict[str, list[str]] = {}
    for line in proc.stdout.splitlines():
        index, _, path = line.partition(" ")
        found.setdefault(path, []).append(names[int(index)])
    return found


def process_args_containing(ssh: list[str], values: dict[str, str]) -> list[str]:
    """Names of secrets that appear in any process's arguments on the host right now."""
    args = subprocess.run(_argv(ssh, "ps -eo args"), capture_output=True, text=True, timeout=60).stdout
    return [name for name, value in values.items() if value in args]


def secret_bearing_files(ssh: list[str], data: dict[str, object]) -> set[str]:
    """The files a host is meant to hold secrets in: its secret files, any other file in its 0700 secret_dir
    (such as Redis' password include), and the api_tokens.yml of each TabbyAPI unit (serving and canary)."""
    from hydra_ops.services.secrets.options import SecretsOptions

    secret_dir = str(data.get("secret_dir") or SecretsOptions.model_fields["secret_dir"].default)
    files = {f"{secret_dir}/{f['secret']}" for f in data.get("secret_files") or []}  # type: ignore[union-attr]
    out = subprocess.run(_argv(ssh, f"find {shlex.quote(secret_dir)} -maxdepth 1 -type f 2>/dev/null; "
                                "systemctl show -p WorkingDirectory --value tabbyapi.service "
                                "tabbyapi-canary.service 2>/dev/null | grep . | sed 's|$|/api_tokens.yml|'"),
                         capture_output=True, text=True, timeout=60).stdout.split()
    files.update(out)
    return files


def modes(ssh: list[str], paths: list[str]) -> dict[str, str]:
    """{path: "mode owner"} for existing paths."""
    if not paths:
        return {}
    out = subprocess.run(_argv(ssh, "stat -c '%n %a %U' -- " + " ".join(shlex.quote(p) for p in paths)),
                         capture_output=True, text=True, timeout=60).stdout
    return {line.rsplit(" ", 2)[0]: " ".join(line.rsplit(" ", 2)[1:]) for line in out.splitlines()}
