"""Docker before 28 lets a LAN neighbour reach a container port the stack publishes on loopback only: by routing
the project's subnet through the storage host (moby#45610) or by sending crafted packets to 127.0.0.1
(moby#41872). The guard (stack_files/docker_guard.sh) closes both in Docker's DOCKER-USER chain; it is applied now
and at every start of Docker (a docker.service drop-in on Debian, a line in /boot/config/go on Unraid). A failure
there does not stop Docker: the next deploy finds the rules missing and applies them."""

from __future__ import annotations

import shlex
from io import StringIO

from pyinfra import host
from pyinfra.operations import files, server, systemd

from hydra_ops import PROJECT_ROOT
from hydra_ops.facts.docker import DockerGuard
from hydra_ops.services.stack.unraid import GO_FILE

SCRIPT = PROJECT_ROOT / "hydra_ops" / "stack_files" / "docker_guard.sh"
DROP_IN = "/etc/systemd/system/docker.service.d/hydra-ops-guard.conf"
MARK = "# hydra-ops docker guard"


def docker_guard(stack_dir: str, platform: str) -> None:
    """The guard script in the project directory, run at Docker's every start, and its rules in place now."""
    path = f"{stack_dir}/docker-guard.sh"
    script = files.put(name="Stack: docker guard script (loopback-only ports stay loopback-only)", src=str(SCRIPT),
                       dest=path, mode="755")
    if platform == "unraid":  # the go file runs before Docker starts: wait for its chain, in the background
        files.line(name=f"Stack: docker guard at every boot ({GO_FILE})", path=GO_FILE, line=rf"^.*{MARK}$",
                   replace=f"(until iptables -w -nL DOCKER-USER >/dev/null 2>&1; do sleep 2; done; "
                           f"sh {shlex.quote(path)}) &  {MARK}")
    else:
        drop_in = files.put(name="Stack: docker guard at every start of docker.service", dest=DROP_IN,
                            src=StringIO(f"[Service]\nExecStartPost=-/bin/sh {path}\n"), mode="644")
        systemd.daemon_reload(name="Stack: systemd reload (docker guard drop-in)", _if=drop_in.did_change)
    state = host.get_fact(DockerGuard, path=path)
    server.shell(name="Stack: docker guard rules in DOCKER-USER", _if=lambda: script.did_change() or
                 state != "in place", commands=[f"sh {shlex.quote(path)}"])
