"""The audit's "before" stack on the Unraid-shaped hydra-storage (seed 002's compose project in appdata, plus a
container nothing may touch), set up over SSH once the host runs. Secrets are made here and go on ssh stdin only.
"""

from __future__ import annotations

import json
import re
import secrets
import shlex
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import yaml

from devcluster.local import files
from devcluster.local.spec import HERE, HostSpec
from devcluster.local.stack_images import LOCAL_BASE_TAG, local_builds
from hydra_ops.render import render

if TYPE_CHECKING:
    from devcluster.local.cluster import Cluster

APPDATA = "/mnt/user/appdata"
STACK_DIR = f"{APPDATA}/hydra-stack"
BEFORE = "seed002_stack"
BEFORE_ROWS = 1000
BEFORE_KEYS = 500
POSTGRES_TAG = "hydra-local/postgres:15-bookworm"
#: the stack_builds the before state runs (the deploy adds crewai and langgraph: gaps G7/G8)
BEFORE_BUILDS = ("hydra-local/redis:7.0.15", "hydra-local/litellm:1.106.2", "hydra-local/ollama-cpu:0.8.0-double")
#: seed 002's real addresses -> the local host that stands for each
ADDRESSES = {"192.168.1.250": "hydra-ai", "192.168.1.203": "hydra-compute", "192.168.1.244": "hydra-storage"}
MODEL_MANIFEST = f"{APPDATA}/ollama/models/manifests/registry.ollama.ai/library/llama3.2/latest"
SECRET_NAMES = ("LITELLM_KEY", "REDIS_PASSWORD", "POSTGRES_PASSWORD")
READY_TIMEOUT = 300
BUILD_TIMEOUT = 1800
q = shlex.quote


def builds(artifacts: dict[str, str], gateway: str) -> dict[str, dict[str, Any]]:
    """The images the before state runs: three of the deploy's own stack_builds (same Dockerfiles, so a deploy
    hits docker's build cache) and Postgres."""
    local = local_builds(artifacts["wheels"], gateway, artifacts["ollama_url"], artifacts["ollama_sha256"])
    chosen = {tag: local[tag] for tag in BEFORE_BUILDS}
    chosen[POSTGRES_TAG] = {"template": "debian-postgres.Dockerfile.j2", "vars": {"base": LOCAL_BASE_TAG}}
    return chosen


def context_dir(tag: str) -> str:
    """Where built_images (hydra_ops/services/stack/debian.py) keeps a tag's build context."""
    return f"{STACK_DIR}/build/{re.sub(r'[^A-Za-z0-9._-]', '_', tag)}"


def compose_project() -> dict[str, Any]:
    """Seed 002's docker-compose.yml as the audit found it (local images; Letta is not hydra-ops')."""
    redis_entry = ("printf 'requirepass %s\\nappendonly yes\\ndir /data\\n' \"$$REDIS_PASSWORD\" > /tmp/redis.conf"
                   " && exec redis-server /tmp/redis.conf")
    return {"services": {
        "litellm": {"image": "hydra-local/litellm:1.106.2", "container_name": "litellm", "ports": ["4000:4000"],
                    "volumes": ["./litellm/config.yaml:/app/config.yaml"],
                    "environment": ["LITELLM_MASTER_KEY=${LITELLM_KEY}"],
                    "command": ["litellm", "--config", "/app/config.yaml", "--host", "0.0.0.0", "--port", "4000"],
                    "restart": "unless-stopped"},
        "ollama": {"image": "hydra-local/ollama-cpu:0.8.0-double", "container_name": "ollama",
                   "ports": ["11434:11434"], "volumes": [f"{APPDATA}/ollama:/root/.ollama"],
                   "environment": ["OLLAMA_HOST=0.0.0.0:11434"], "restart": "unless-stopped"},
        "redis": {"image": "hydra-local/redis:7.0.15", "container_name": "redis", "user": "999:999",
                  "volumes": [f"{APPDATA}/redis:/data"], "environment": ["REDIS_PASSWORD=${REDIS_PASSWORD}"],
                  "entrypoint": ["sh", "-c", redis_entry], "ports": ["6379:6379"], "restart": "unless-stopped"},
        "postgres": {"image": POSTGRES_TAG, "container_name": "postgres",
                     "environment": ["POSTGRES_PASSWORD=${POSTGRES_PASSWORD}", "POSTGRES_DB=hydra"],
                     "volumes": [f"{APPDATA}/postgres:/var/lib/postgresql/data"], "restart": "unless-stopped"},
        "letta": {"image": LOCAL_BASE_TAG, "container_name": "letta",
                  "command": ["python3", "-m", "http.server", "8283"], "ports": ["8283:8283"],
                  "restart": "unless-stopped"},
    }}


def litellm_config(addresses: dict[str, str]) -> dict[str, Any]:
    """Seed 002's LiteLLM config.yaml with its real addresses replaced (real address -> local address)."""
    text = (HERE / "unraid" / "seed002-litellm-config.yaml").read_text()
    for real, local in addresses.items():
        text = text.replace(real, local)
    return yaml.safe_load(text)


def router_config(values: dict[str, str]) -> dict[str, Any]:
    """The audit's router-config.yaml with its plaintext secrets (seed 000 §2.5): gap G3's before state."""
    return {"router_settings": {"routing_strategy": "simple-shuffle", "redis_host": "redis", "redis_port": 6379,
                                "redis_password": values["REDIS_PASSWORD"]},
            "general_settings": {"master_key": values["LITELLM_KEY"],
                                 "database_url": "postgresql://postgres@postgres:5432/hydra",
                                 "database_password": values["POSTGRES_PASSWORD"]}}


def env_file(values: dict[str, str]) -> str:
    """The compose project's .env (the values compose interpolates)."""
    return "".join(f"{name}={values[name]}\n" for name in SECRET_NAMES)


def dump(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False)


def storage_host(cluster: Cluster) -> str:
    """The host that runs the before-state stack."""
    return next(h.name for h in cluster.spec.hosts if h.before == BEFORE)


def put(cluster: Cluster, host: str, path: str, text: str, mode: str = "644") -> None:
    """Write a file on the host from ssh stdin (created private, then given its mode, then moved into place)."""
    parent = path.rsplit("/", 1)[0]
    cluster.ssh(host, f"set -e; mkdir -p {q(parent)}; umask 077; cat > {q(path + '.tmp')}; "
                      f"chmod {mode} {q(path + '.tmp')}; mv {q(path + '.tmp')} {q(path)}", input=text)


def wait_for(cluster: Cluster, host: str, service: str, check: str, stdin: str | None = None) -> None:
    """Poll a check on the host until it passes (bounded); on timeout fail with the container's last log lines."""
    script = f"{'read -r p; ' if stdin is not None else ''}until {check}; do sleep 0.5; done"
    proc = cluster.ssh(host, f"timeout {READY_TIMEOUT} sh -c {q(script)}", check=False,
                       timeout=READY_TIMEOUT + 30, input=stdin)
    if proc.returncode != 0:
        logs = cluster.ssh(host, f"docker logs --tail 30 {q(service)} 2>&1", check=False).stdout
        raise RuntimeError(f"{host}: {service} did not answer within {READY_TIMEOUT}s:\n{logs}")


REDIS_CLI = "docker exec -i redis sh -c 'read -r p; REDISCLI_AUTH=\"$p\" exec redis-cli --no-auth-warning {}'"


def setup(cluster: Cluster, host_spec: HostSpec, log: Callable[[str], object] = print) -> None:
    """Import the base image, build the before images, write the compose project, start it and seed data."""
    host, started = host_spec.name, time.monotonic()
    artifacts = files.publish_artifacts(cluster)
    log(f"{host}: before state: importing {LOCAL_BASE_TAG}")
    cluster.ssh(host, "set -eu; tmp=$(mktemp -d /var/tmp/base.XXXXXX); trap 'rm -rf \"$tmp\"' EXIT; "
                      f"curl -fsS -o \"$tmp/rootfs.tar\" {q(artifacts['base_image_url'])}; "
                      f"echo {q(artifacts['base_image_sha256'])}'  '\"$tmp/rootfs.tar\" | sha256sum --check --status"
                      f" || {{ echo 'sha256 mismatch for the base image' >&2; exit 1; }}; "
                      f"docker import \"$tmp/rootfs.tar\" {q(LOCAL_BASE_TAG)} > /dev/null", timeout=600)
    for tag, spec in builds(artifacts, cluster.spec.net.gateway).items():
        log(f"{host}: before state: building {tag}")
        ctx = context_dir(tag)
        put(cluster, host, f"{ctx}/Dockerfile", render(f"images/{spec['template']}", **spec["vars"]))
        cluster.ssh(host, f"docker build --quiet --network host -t {q(tag)} {q(ctx)}",
                    timeout=BUILD_TIMEOUT)
    values = {name: secrets.token_urlsafe(24) for name in SECRET_NAMES}
    write_project(cluster, host, values)
    log(f"{host}: before state: starting the hydra-stack project and plex")
    cluster.ssh(host, f"docker inspect plex > /dev/null 2>&1 || docker run -d --name plex --restart unless-stopped "
                      f"{q(LOCAL_BASE_TAG)} python3 -m http.server 32400 > /dev/null")
    cluster.ssh(host, f"cd {q(STACK_DIR)} && docker compose up -d --quiet-pull 2>&1", timeout=600)
    wait_ready(cluster, host, values["REDIS_PASSWORD"])
    seed(cluster, host, values["REDIS_PASSWORD"])
    log(f"{host}: before state ready in {time.monotonic() - started:.0f}s")


def write_project(cluster: Cluster, host: str, values: dict[str, str]) -> None:
    """docker-compose.yml, .env (0600), litellm/config.yaml, litellm/router-config.yaml (0600), data dirs."""
    addresses = {real: cluster.host(name).address for real, name in ADDRESSES.items()}
    cluster.ssh(host, f"set -e; mkdir -p {q(APPDATA)}/redis {q(APPDATA)}/postgres {q(APPDATA)}/ollama/models; "
                      f"chown 999:999 {q(APPDATA)}/redis")
    put(cluster, host, f"{STACK_DIR}/docker-compose.yml", dump(compose_project()))
    put(cluster, host, f"{STACK_DIR}/.env", env_file(values), mode="600")
    put(cluster, host, f"{STACK_DIR}/litellm/config.yaml", dump(litellm_config(addresses)))
    put(cluster, host, f"{STACK_DIR}/litellm/router-config.yaml", dump(router_config(values)), mode="600")


def wait_ready(cluster: Cluster, host: str, redis_password: str) -> None:
    """Postgres accepts TCP connections, Redis answers PING with auth, LiteLLM and Ollama answer HTTP."""
    wait_for(cluster, host, "postgres", "docker exec postgres pg_isready -q -h 127.0.0.1 -d hydra")
    wait_for(cluster, host, "redis", f"printf '%s\\n' \"$p\" | {REDIS_CLI.format('ping')} 2>/dev/null | grep -qx PONG",
             stdin=redis_password + "\n")
    wait_for(cluster, host, "litellm", "curl -fsS -o /dev/null http://127.0.0.1:4000/health/readiness")
    wait_for(cluster, host, "ollama", "curl -fsS -o /dev/null http://127.0.0.1:11434/api/version")


def seed(cluster: Cluster, host: str, redis_password: str) -> None:
    """Data that must survive a deploy: BEFORE_ROWS Postgres rows, BEFORE_KEYS Redis keys, the CPU model."""
    sql = ("CREATE TABLE IF NOT EXISTS before_rows (id integer PRIMARY KEY, note text NOT NULL); "
           f"INSERT INTO before_rows SELECT g, 'before row ' || g FROM generate_series(1, {BEFORE_ROWS}) g "
           "ON CONFLICT DO NOTHING;")
    cluster.ssh(host, f"docker exec -u postgres postgres psql -v ON_ERROR_STOP=1 -q -d hydra -c {q(sql)}")
    loop = (f"i=1; while [ $i -le {BEFORE_KEYS} ]; do echo \"SET before:$i value-$i\"; i=$((i+1)); done | "
            "REDISCLI_AUTH=\"$p\" redis-cli --no-auth-warning > /dev/null")
    cluster.ssh(host, f"docker exec -i redis sh -c {q('read -r p; ' + loop)}", input=redis_password + "\n")
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "layers": [{"mediaType": "application/vnd.ollama.image.model",
                            "digest": "sha256:" + "0" * 64, "size": 1}]}
    put(cluster, host, MODEL_MANIFEST, json.dumps(manifest))
    rows, keys = count_rows(cluster), count_keys(cluster, redis_password)
    if (rows, keys) != (BEFORE_ROWS, BEFORE_KEYS):
        raise RuntimeError(f"{host}: before state seeded {rows} rows and {keys} keys, "
                           f"expected {BEFORE_ROWS} and {BEFORE_KEYS}")


# -- read-only helpers for tests -------------------------------------------------------------------------------
def count_rows(cluster: Cluster) -> int:
    """Rows in hydra.before_rows (through the container's unix socket as the postgres user)."""
    out = cluster.ssh(storage_host(cluster), "docker exec -u postgres postgres psql -d hydra -tAc "
                                             "'SELECT count(*) FROM before_rows'").stdout
    return int(out.strip())


def count_keys(cluster: Cluster, password: str) -> int:
    """Redis keys named before:* (the password goes on stdin)."""
    out = cluster.ssh(storage_host(cluster), REDIS_CLI.format("--scan --pattern \"before:*\"") + " | wc -l",
                      input=password + "\n").stdout
    return int(out.strip())


def container_ids(cluster: Cluster) -> dict[str, str]:
    """Every container on the host (compose project's or not): name -> full id."""
    out = cluster.ssh(storage_host(cluster), "docker ps -a --no-trunc --format '{{.Names}} {{.ID}}'").stdout
    return dict(line.split() for line in out.splitlines() if line.strip())


def before_secrets(cluster: Cluster) -> dict[str, str]:
    """The values in the project's .env, read back over SSH (for tests only: never print them)."""
    out = cluster.ssh(storage_host(cluster), f"cat {q(STACK_DIR)}/.env").stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
