"""The vLLM compose stack on a spark host (DGX OS): the engine present, images, compose.yml, `up -d` only when
something changed or a service is down, then a bounded wait until every service answers /health."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from io import StringIO

from pyinfra import host
from pyinfra.api.operation import OperationMeta
from pyinfra.operations import files, server
from pyinfra.operations.util import any_changed

from hydra_ops.facts.docker import ComposeContainers
from hydra_ops.services.spark.options import SparkOptions
from hydra_ops.services.spark.state import COMPOSE_FILE, compose, compose_yml, health_urls
from hydra_ops.services.stack.common import built_images
from hydra_ops.services.stack.debian import engine


def wait_command(o: SparkOptions, urls: Mapping[str, str]) -> str:
    """Poll each service's /health (one deadline of spark_ready_timeout for all); on timeout print the service's
    last log lines and fail."""
    q = shlex.quote
    steps = []
    for service, url in urls.items():
        logs = compose(o, "logs", "--tail", "30", service)
        steps.append(f"until curl -fsS -o /dev/null --max-time 5 {q(url)}; do "
                     f"if [ \"$(date +%s)\" -ge \"$deadline\" ]; then echo {q(f'{service} did not answer {url}')} >&2; "
                     f"{logs} >&2; exit 1; fi; sleep 1; done")
    return f"deadline=$(( $(date +%s) + {int(o.spark_ready_timeout)} )); " + "; ".join(steps)


def converge(o: SparkOptions, compose_file: OperationMeta, images: list[OperationMeta],
             urls: Mapping[str, str]) -> None:
    """`up -d --remove-orphans` when the file or an image changed or a service is not running, then wait."""
    running = host.get_fact(ComposeContainers, project=o.spark_compose_project)
    down = sorted(s for s in o.spark_services if running.get(s, {}).get("state") != "running")
    up = server.shell(name=f"Spark: compose up -d ({', '.join(down) or 'changed definitions'})",
                      _if=lambda: bool(down) or any_changed(compose_file, *images)(),
                      commands=[compose(o, "up", "-d", "--remove-orphans")])
    server.shell(name=f"Spark: wait (at most {o.spark_ready_timeout}s) for {', '.join(urls)} to answer /health",
                 _if=up.did_change, commands=[wait_command(o, urls)])


def apply(o: SparkOptions, publish_address: str) -> None:
    """Engine (the one present; never replaced), images, compose file, then converge."""
    engine("Spark", o.spark_docker_packages, "spark_docker_packages", o.spark_compose_command)
    files.directory(name="Spark: project directory", path=o.spark_stack_dir, mode="755")
    files.directory(name="Spark: Hugging Face cache", path=o.spark_hf_cache_dir, mode="755")
    used = {o.spark_vllm_image}  # a build no service runs is not built
    images = built_images("Spark", o.spark_stack_dir, {t: b for t, b in o.spark_builds.items() if t in used},
                          o.spark_base_images)
    compose_file = files.put(name=f"Spark: {COMPOSE_FILE} ({', '.join(o.spark_services)})",
                             src=StringIO(compose_yml(o, publish_address)),
                             dest=f"{o.spark_stack_dir}/{COMPOSE_FILE}", mode="644")
    converge(o, compose_file, images, health_urls(o, publish_address))
