"""Every file and command hydra-ops renders from a host role's validated group data, with the format that parses
it: used by test_hostile_every_option.py. Each render function validates through the role's own entry point
(raising ValidationError), then returns {label: (format, text)}.

Formats: yaml, json, nginx (crossplane), unit (hydra_ops.systemd_ini.parse), env (parse_env), nix
(`nix-instantiate --parse`), argv (a JSON list of exec arguments: no NUL), sh (a script: `bash -n`), cmd (one
command line: `bash -n` plus its shlex words), js
(`node --check`), redis (redis.conf: each line split into words the way Redis' sdssplitargs does, as shlex),
dockerfile (instructions after joining backslash continuations; RUN bodies as cmd), lines (a line-oriented file
whose line count is its structure).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from hydra_ops import PROJECT_ROOT
from hydra_ops.platform import PlatformOptions
from hydra_ops.render import render
from hydra_ops.secrets import creation_rules
from hydra_ops.services import ai, compute
from hydra_ops.services.agents.options import AgentsOptions
from hydra_ops.services.lb.nixos import module as lb_module
from hydra_ops.services.lb.options import LbOptions
from hydra_ops.services.lb.state import drain_files, site
from hydra_ops.services.litellm.options import LitellmOptions
from hydra_ops.services.litellm.state import config_yaml, entrypoint
from hydra_ops.services.models import manifest, marker
from hydra_ops.services.models.options import ModelsOptions
from hydra_ops.services.monitoring import kuma
from hydra_ops.services.monitoring import nixos as monitoring_nixos
from hydra_ops.services.monitoring import state as monitoring_state
from hydra_ops.services.monitoring.options import MonitoringOptions
from hydra_ops.services.monitoring.workflow import code, workflow
from hydra_ops.services.ollama.nixos import module as ollama_module
from hydra_ops.services.ollama.options import OllamaOptions
from hydra_ops.services.ollama.state import env_file, unit_file
from hydra_ops.services.redis.options import RedisOptions
from hydra_ops.services.redis.state import redis_conf
from hydra_ops.services.secrets.options import SecretsOptions
from hydra_ops.services.sollol import sollol
from hydra_ops.services.sollol.options import SollolOptions
from hydra_ops.services.sollol.state import app_env, gateway_config, gateway_env
from hydra_ops.services.sollol.state import unit_file as sollol_unit
from hydra_ops.services.spark import state as spark_state
from hydra_ops.services.spark import traefik
from hydra_ops.services.spark.debian import wait_command
from hydra_ops.services.spark.options import SparkOptions, cluster
from hydra_ops.services.stack import state as stack_state
from hydra_ops.services.stack.options import StackOptions
from hydra_ops.services.storage import storage
from hydra_ops.services.tabbyapi import nixos as tabby_nixos
from hydra_ops.services.tabbyapi import state as tabby_state
from hydra_ops.services.tabbyapi.extras import extras_check
from hydra_ops.services.tabbyapi.options import TabbyOptions, roles
from hydra_ops.settings import Options, load, load_all
from hydra_ops.targets import load_inventory
from hydra_ops.validation import ValidationError

Renders = dict[str, tuple[str, str]]
ADDRESSES = {"hydra-ai": "192.0.2.250", "hydra-compute": "192.0.2.203", "hydra-storage": "192.0.2.244"}
HOSTS = {"hydra-ai": ("192.0.2.250", True), "hydra-compute": ("192.0.2.203", True),
         "hydra-storage": ("192.0.2.244", False)}
LIB = "/usr/local/lib/hydra-ops"


def _q(words: list[str]) -> str:
    import shlex
    return " ".join(shlex.quote(w) for w in words)


# ---- hydra-compute: Ollama and the LB -------------------------------------------------------------------------

def compute_renders(data: Mapping[str, Any]) -> Renders:
    c = compute(data)
    lb_site = site(c.lb, c.ollama.fronts, c.ollama.ollama_bind_address)
    out: Renders = {"ollama unit": ("unit", unit_file(c.ollama)), "lb site": ("nginx", lb_site),
                    "ollama module": ("nix", ollama_module(c.ollama)), "lb module": ("nix", lb_module(c.lb, lb_site))}
    for inst in c.ollama.instances:
        out[f"env {inst.port}"] = ("env", env_file(c.ollama, inst))
    for i, text in enumerate(drain_files(c.lb, c.ollama.fronts, c.lb.lb_drain_dir).values()):
        out[f"drain {i}"] = ("nginx", text)
    return out


# ---- hydra-ai: TabbyAPI (and its canary), models, platform -------------------------------------------------------

AI_BASE = {"tabby_source_sha256": "a" * 64, "expected_gpu_count": 2,
           "tabby_models": [{"repo": "o/m", "revision": "r", "dest": "d", "files": {"config.json": "b" * 64}}]}


def ai_renders(data: Mapping[str, Any]) -> Renders:
    ai(data)
    serving, canary = roles(data, "hydra-ai")
    models, platform = load_all(data, "hydra-ai", ModelsOptions, PlatformOptions)
    lib = platform.hydra_lib_dir
    units = [(serving, tabby_state.UNIT)] + ([(canary, tabby_state.CANARY_UNIT)] if canary else [])
    out: Renders = {"tabby module": ("nix", tabby_nixos.nixos_module(units, lib)),
                    "tabby base module": ("nix", tabby_nixos.nixos_base_module(serving)),
                    "exporters module": ("nix", monitoring_nixos.module(9100, 9835, lib, True))}
    for o, unit in units:
        out[f"{unit} extras check"] = ("cmd", extras_check(tabby_state.app_dir(o), o.tabby_pip_packages) + "true")
        out[f"{unit} config"] = ("yaml", tabby_state.config_yml(o))
        out[f"{unit} prestart"] = ("sh", tabby_state.prestart_script(o, unit))
        out[f"{unit} unit"] = ("unit", tabby_state.unit_file(o, lib, unit))
    model_dir = serving.tabby_model_dir
    for i, m in enumerate(models.tabby_models):
        # models.fetch's command line and files (the fetch script's arguments; the manifest on its stdin)
        out[f"model {i} fetch"] = ("cmd", f"{lib}/model-fetch.sh " + _q(
            [models.model_base_url, m.repo, m.revision, f"{model_dir}/{m.dest}",
             f"{models.model_download_dir}/{m.dest}"]))
        out[f"model {i} marker"] = ("cmd", "cat " + _q([marker(model_dir, m.dest)]))
        out[f"model {i} manifest"] = ("lines", manifest(m.files))
    return out


# ---- hydra-storage: the stack, Redis, LiteLLM, agents, monitoring, secrets ---------------------------------------

_STORAGE: dict[str, Any] = {}


def storage_base() -> dict[str, Any]:
    """hydra-storage's data from the real inventory + group_data (no connection is made)."""
    if not _STORAGE:
        inventory, _ = load_inventory(PROJECT_ROOT / "inventory.py")
        _STORAGE.update(inventory.get_host("hydra-storage").data.dict())
        # the CPU fallback by its service name (a loopback-published port is not reachable by host address)
        backends = {n: b.model_dump() for n, b in LitellmOptions().litellm_backends.items()}
        _STORAGE.setdefault("litellm_backends", {**backends, "ollama_cpu": {"host": "ollama-cpu", "port": 11434,
                                                                            "path": "", "api_key_secret": None}})
    return dict(_STORAGE)


def storage_renders(data: Mapping[str, Any]) -> Renders:
    cfg = storage(data)
    o, s = cfg.monitoring, cfg.stack
    try:  # as monitoring.stack.config_files: an extra target on a host the inventory lacks is refused
        probes = [("hydra-ai", "tabbyapi", "http://a:5000/health")]
        prometheus = monitoring_state.prometheus_yml(o, HOSTS, "alertmanager:9093", probes, "blackbox:9115")
    except ValueError as exc:
        raise ValidationError("hydra-storage", [str(exc)]) from None
    out: Renders = {
        "compose": ("yaml", stack_state.compose_yml(cfg)),
        "compose ps": ("cmd", stack_state.compose(cfg, "ps", "-q")),
        "redis.conf": ("redis", redis_conf(cfg.redis)),
        "litellm config": ("yaml", config_yaml(cfg.litellm, resolve=lambda n: ADDRESSES.get(n, n))),
        "litellm entrypoint": ("sh", entrypoint(cfg.litellm)),
        "prometheus.yml": ("yaml", prometheus),
        "rules": ("yaml", monitoring_state.rules_yml(o)),
        "alertmanager.yml": ("yaml", monitoring_state.alertmanager_yml(o)),
        "workflow": ("json", json.dumps(workflow(o, sorted(HOSTS), "http://prometheus:9090",
                                                 o.activity_api_url or "http://x/activity"))),
        # n8n runs a Code node's JavaScript as the body of an async function
        "workflow code": ("js", f"(async function () {{\n{code(o, sorted(HOSTS), 'http://prometheus:9090')}\n}});\n"),
        "kuma monitors": ("json", json.dumps(kuma.wanted([], o, "hydra-storage"))),
    }
    for i, check in enumerate(stack_state.readiness(cfg).values()):  # labels by position: names are values too
        out[f"readiness {i}"] = ("cmd", check)
    for i, spec in enumerate(s.stack_builds.values()):
        out[f"Dockerfile {i}"] = ("dockerfile", render(f"images/{spec.template}", **spec.vars))
    secrets = load(SecretsOptions, data, "hydra-storage")
    # the sops call on the operator's machine (an argument vector and the key file's variable) and .sops.yaml
    out["sops argv"] = ("argv", json.dumps(["sops", "--config", secrets.sops_config, "decrypt", secrets.secrets_file,
                                            f"SOPS_AGE_KEY_FILE={secrets.age_key_file}"]))
    out[".sops.yaml"] = ("yaml", creation_rules(["age1" + "q" * 58], Path(secrets.secrets_file).absolute(),
                                                Path.cwd()))
    return out


# ---- sollol and spark ---------------------------------------------------------------------------------------------

SOLLOL_NODES = {"sollol-1": ("10.0.0.10", 11434), "sollol-2": ("10.0.0.11", 11434)}


def sollol_renders(data: Mapping[str, Any]) -> Renders:
    o = sollol(data, "sollol-1", {n: SOLLOL_NODES.get(n, ("10.0.0.99", 11434)) for n in data.get("sollol_nodes", {})}
               or SOLLOL_NODES)
    nodes = {n: SOLLOL_NODES.get(n, ("10.0.0.99", 11434)) for n in o.sollol_nodes}
    return {"gateway.json": ("json", gateway_config(o, nodes)), "sollol.env": ("env", gateway_env(o, "/var/lib/s")),
            "hydra-app.env": ("env", app_env(o)),
            "unit": ("unit", sollol_unit(o, f"{o.sollol_install_root}/venv/bin/python", "/var/lib/sollol-gateway"))}


SPARK_ADDRESSES = {"spark-1": "192.168.1.76", "spark-2": "192.168.1.63"}


def spark_renders(data: Mapping[str, Any]) -> Renders:
    hosts = [(name, {**data, "ssh_hostname": address}) for name, address in SPARK_ADDRESSES.items()]
    members = cluster(hosts, "spark-1")
    o, address = members[0].options, members[0].address
    backends = [(m.address, m.options.balanced.port) for m in members]
    static = spark_state.traefik_static(o, address)
    out: Renders = {
        "compose": ("yaml", spark_state.compose_yml(o, address)),
        "compose up": ("cmd", spark_state.compose(o, "up", "-d")),
        "traefik static": ("yaml", spark_state.traefik_yml(static, "static")),
        "traefik dynamic": ("yaml", spark_state.traefik_yml(spark_state.traefik_dynamic(o, backends), "dynamic")),
        "traefik unit": ("unit", traefik.unit_file(o)),
        "wait": ("sh", wait_command(o, spark_state.health_urls(o, address))),
        "traefik check": ("cmd", traefik.check_command(o, static, f"{o.traefik_install_root}/candidate/dynamic.yml")),
    }
    for i, spec in enumerate(o.spark_builds.values()):
        out[f"Dockerfile {i}"] = ("dockerfile", render(f"images/{spec.template}", **spec.vars))
    return out


#: every Options model -> (base group data, the renders of its host role). A model without an entry fails the test.
RENDERERS: dict[type[Options], tuple[Callable[[], dict[str, Any]], Callable[[Mapping[str, Any]], Renders]]] = {
    OllamaOptions: (dict, compute_renders),
    LbOptions: (dict, compute_renders),
    TabbyOptions: (lambda: dict(AI_BASE), ai_renders),
    ModelsOptions: (lambda: dict(AI_BASE), ai_renders),
    PlatformOptions: (lambda: dict(AI_BASE), ai_renders),
    StackOptions: (storage_base, storage_renders),
    RedisOptions: (storage_base, storage_renders),
    LitellmOptions: (storage_base, storage_renders),
    AgentsOptions: (storage_base, storage_renders),
    MonitoringOptions: (storage_base, storage_renders),
    SecretsOptions: (storage_base, storage_renders),
    SollolOptions: (dict, sollol_renders),
    SparkOptions: (dict, spark_renders),
}
