"""Docker facts: the containers of a compose project (state, image, cpuset, memory) and the images present."""

from __future__ import annotations

import json
import shlex
from typing import Any

from pyinfra.api import FactBase

_FORMAT = ('{{json .Config.Labels}}\t{{.State.Status}}\t{{.Config.Image}}\t{{.HostConfig.CpusetCpus}}\t'
           '{{.HostConfig.Memory}}\t{{.RestartCount}}\t{{.Id}}')


class ComposeContainers(FactBase[dict[str, dict[str, Any]]]):
    """service -> {"state", "image", "cpuset", "memory", "restarts", "id"} for a compose project's containers;
    {} when docker is absent or nothing runs. Only non-secret fields are read (never .Config.Env)."""

    def default(self) -> dict[str, dict[str, Any]]:
        return {}

    def requires_command(self, project: str) -> str:
        return "docker"

    def command(self, project: str) -> str:
        return (f"ids=$(docker ps -aq --filter label=com.docker.compose.project={project}); "
                f"[ -z \"$ids\" ] || docker inspect --format '{_FORMAT}' $ids")

    def process(self, output: list[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for line in output:
            labels, state, image, cpuset, memory, restarts, cid = line.split("\t")
            service = json.loads(labels).get("com.docker.compose.service", "")
            found[service] = {"state": state, "image": image, "cpuset": cpuset, "memory": int(memory),
                              "restarts": int(restarts), "id": cid}
        return found


class DockerImages(FactBase[list[str]]):
    """Every repo:tag present in the local image store; [] when docker is absent."""

    def default(self) -> list[str]:
        return []

    def requires_command(self) -> str:
        return "docker"

    def command(self) -> str:
        return "docker images --format '{{.Repository}}:{{.Tag}}'"

    def process(self, output: list[str]) -> list[str]:
        return sorted(line.strip() for line in output if line.strip() and "<none>" not in line)


class DockerEngine(FactBase[dict[str, Any]]):
    """{"docker": CLI present, "daemon": server version or None, "compose": version the compose command reports
    or None} for the compose command given (a list of words)."""

    def default(self) -> dict[str, Any]:
        return {"docker": False, "daemon": None, "compose": None}

    def command(self, compose_command: list[str]) -> str:
        words = " ".join(shlex.quote(w) for w in compose_command)
        return ("if command -v docker >/dev/null 2>&1; then echo docker=yes; "
                "docker info --format 'daemon={{.ServerVersion}}' 2>/dev/null || true; fi; "
                f"v=$({words} version --short 2>/dev/null) && echo \"compose=$v\" || true")

    def process(self, output: list[str]) -> dict[str, Any]:
        found = self.default()
        for line in output:
            key, _, value = line.strip().partition("=")
            if key == "docker":
                found["docker"] = True
            elif key in ("daemon", "compose") and value:
                found[key] = value.strip()
        return found



class DockerOwners(FactBase[dict[str, str]]):
    """{"docker": package, "dockerd": package} for the engine's CLI and daemon on PATH, each the dpkg package that
    owns it ("" when no package does); a binary that is absent has no key, so {} means no engine."""

    def default(self) -> dict[str, str]:
        return {}  # no output at all: neither binary is on PATH (pyinfra hands empty output to default())

    def command(self) -> str:
        return ("for b in docker dockerd; do p=$(command -v \"$b\") || continue; "
                "o=$(dpkg-query -S \"$(readlink -f \"$p\")\" 2>/dev/null || dpkg-query -S \"$p\" 2>/dev/null) "
                "|| o=; echo \"$b=$(printf '%s\\n' \"$o\" | sed -n '/^[^ ]*: /{s/: .*//p;q}')\"; done; true")

    def process(self, output: list[str]) -> dict[str, str]:
        return {key: value.strip() for key, _, value in (line.strip().partition("=") for line in output)
                if key in ("docker", "dockerd")}


class DockerGuard(FactBase[str]):
    """'in place', 'missing' (the guard script is there, its rules are not) or 'no script', for the stack's
    docker guard at path (hydra_ops/stack_files/docker_guard.sh `--check`, which changes nothing)."""

    def command(self, path: str) -> str:
        q = shlex.quote(path)
        return (f"if [ ! -f {q} ]; then echo 'no script'; elif sh {q} --check; then echo 'in place'; "
                "else echo missing; fi")

    def process(self, output: list[str]) -> str:
        answer = " ".join(output).strip()
        if answer not in ("in place", "missing", "no script"):
            raise ValueError(f"unexpected answer from the docker guard check: {answer!r}")
        return answer
