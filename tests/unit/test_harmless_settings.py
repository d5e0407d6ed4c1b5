"""Settings that cannot do harm (issue 21, item 2): values the earlier checks let through, each refused naming its
key, and what stays allowed next to them."""

from __future__ import annotations

import shlex
import subprocess
from typing import Any

import pytest

from hydra_ops.facts.accounts import Account, login_account
from hydra_ops.render import render
from hydra_ops.services.lb.options import LbOptions
from hydra_ops.services.ollama.options import Instance, OllamaOptions
from hydra_ops.services.ollama.state import env_file
from hydra_ops.services.sollol.options import SollolOptions
from hydra_ops.services.spark.options import SparkOptions
from hydra_ops.services.stack.options import StackOptions
from hydra_ops.services.tabbyapi.options import TabbyOptions
from hydra_ops.settings import Options, load
from hydra_ops.systemd_ini import parse_env
from hydra_ops.validation import ValidationError


def refused(model: type[Options], key: str, value: Any) -> list[str]:
    """The problems loading `key: value` reports about `key` (none: it was accepted)."""
    try:
        load(model, {key: value}, "h")
    except ValidationError as exc:
        return [p for p in exc.problems if p.startswith(key)]
    return []


SERVICE_USERS = [(OllamaOptions, "ollama_user"), (TabbyOptions, "tabby_user"), (SollolOptions, "sollol_user"),
                 (SparkOptions, "traefik_user")]


@pytest.mark.parametrize(("model", "key"), SERVICE_USERS)
@pytest.mark.parametrize("user", ["root", "daemon", "www-data", "nobody", "systemd-network", "video", "docker"])
def test_a_service_never_runs_as_a_system_account(model: type[Options], key: str, user: str) -> None:
    assert refused(model, key, user), f"{key}={user!r} accepted"


@pytest.mark.parametrize(("model", "key"), SERVICE_USERS)
def test_a_user_of_its_own_is_accepted(model: type[Options], key: str) -> None:
    assert refused(model, key, "svc-own") == []


def test_a_login_account_is_told_from_a_service_account() -> None:
    fact = Account()
    operator = fact.process(["typhon:x:1000:1000:Typhon:/home/typhon:/bin/bash"])
    service = fact.process(["ollama:x:998:998::/var/lib/ollama:/usr/sbin/nologin"])
    nixos_service = fact.process(["tabby:x:997:997::/var/empty:/run/current-system/sw/bin/nologin"])
    assert (login_account(operator), login_account(service), login_account(nixos_service)) == (True, False, False)
    assert login_account(fact.process(["toor:x:0:0::/root:/usr/sbin/nologin"]))  # uid 0 is root by any name
    assert fact.process([]) == {} and login_account({}) is False
    with pytest.raises(ValueError, match="not a passwd entry"):
        fact.process(["garbage"])


def test_extra_environment_cannot_override_what_hydra_ops_sets_or_load_code() -> None:
    rendered = set(parse_env(env_file(load(OllamaOptions, {}, "h"), Instance(gpu=0, port=11434))))
    assert {"OLLAMA_HOST", "CUDA_VISIBLE_DEVICES"} <= rendered
    for name in [*sorted(rendered), "NVIDIA_VISIBLE_DEVICES", "LD_PRELOAD", "LD_LIBRARY_PATH", "PYTHONPATH", "PATH"]:
        assert refused(OllamaOptions, "ollama_extra_env", {name: "0"}), f"{name} accepted as an extra"
    assert refused(OllamaOptions, "ollama_extra_env", {"OLLAMA_DEBUG": "1"}) == []


@pytest.mark.parametrize("line", ["rewrite ^ /api/pull break;", "return 200;", "location /x { }", "include /etc/x;",
                                  "add_header X y; rewrite ^ /api/pull break;", "proxy_pass http://127.0.0.1:21434;",
                                  "access_log /etc/shadow;", "allow all;", "proxy_buffering off", 'add_header X "y";'])
def test_an_extra_lb_line_cannot_reopen_a_path_or_write_files(line: str) -> None:
    assert refused(LbOptions, "lb_extra_directives", [line])


def test_an_extra_lb_line_may_tune_buffers_and_headers() -> None:
    ok = ["proxy_buffering off;", "add_header X-Served-By $upstream_addr always;", "proxy_read_timeout_x 1;"]
    assert refused(LbOptions, "lb_extra_directives", ok[:2]) == []
    assert refused(LbOptions, "lb_extra_directives", ok[2:])  # not in the list, even if nginx has it


@pytest.mark.parametrize(("model", "key", "value"), [
    (StackOptions, "stack_publish_address", "0.0.0.0"), (StackOptions, "stack_publish_address", "::"),
    (SparkOptions, "spark_publish_address", "0.0.0.0"),
    (TabbyOptions, "tabby_host", "::%lo\n  disable_auth: true"), (LbOptions, "lb_listen_address", "fe80::1%eth0"),
])
def test_addresses_are_one_interface_without_a_zone_id(model: type[Options], key: str, value: str) -> None:
    assert refused(model, key, value)


def test_a_port_mapping_never_publishes_on_every_interface() -> None:
    service = {"image": "redis:7.2.5-bookworm", "cpuset": "12-15", "mem_limit": "1g"}
    assert refused(StackOptions, "stack_services", {"redis": {**service, "ports": ["0.0.0.0:6379:6379"]}})
    assert refused(StackOptions, "stack_services", {"redis": {**service, "ports": ["10.0.0.5:6379:6379"]}}) == []


@pytest.mark.parametrize(("model", "key", "value"), [
    (LbOptions, "lb_fail_timeout", "\u0661\u0660s"),  # Arabic-Indic digits: \d matched them
    (LbOptions, "lb_client_max_body_size", "\u0666\u0664m"),
    (OllamaOptions, "ollama_keep_alive", "\uff13\uff10m"),  # fullwidth digits
    (OllamaOptions, "ollama_models", ["q" * 10_000_000]),
])
def test_digits_are_ascii_and_names_bounded(model: type[Options], key: str, value: Any) -> None:
    assert refused(model, key, value)


def test_a_cpuset_of_other_digits_is_refused() -> None:
    service = {"image": "redis:7.2.5-bookworm", "cpuset": "\u0661\u0662-\u0661\u0665", "mem_limit": "1g"}
    assert refused(StackOptions, "stack_services", {"redis": service})


def test_build_values_stay_one_word_of_one_instruction() -> None:
    build = {"template": "python-venv.Dockerfile.j2",
             "vars": {"base": "python:3.11-slim-bookworm", "apt_packages": [], "packages": ["x"], "pip_args": []}}
    hostile = {**build, "vars": {**build["vars"], "pip_args": ["--pre\nRUN id"]}}
    assert refused(StackOptions, "stack_builds", {"hydra/x:1": hostile})
    assert refused(StackOptions, "stack_builds", {"hydra/x:1": build}) == []
    words = ["--index-url", "https://h/simple`id`", "x==1; id", "$(id)", "a b"]
    text = render("images/python-venv.Dockerfile.j2", base="python:3.11-slim-bookworm", apt_packages=["curl"],
                  packages=words[2:], pip_args=words[:2])
    run = next(line for line in text.splitlines() if "pip install" in line).removeprefix("RUN ")
    assert subprocess.run(["bash", "-n", "-c", run], check=False).returncode == 0
    assert shlex.split(run)[-len(words):] == words


@pytest.mark.parametrize(("model", "key"), [(TabbyOptions, "tabby_pip_args"), (SollolOptions, "sollol_pip_args"),
                                            (SparkOptions, "traefik_pip_args")])
def test_pip_arguments_are_source_options_with_one_word_values(model: type[Options], key: str) -> None:
    assert refused(model, key, ["--no-index", "--find-links", "http://10.0.0.1:8810/wheels/", "--trusted-host",
                                "10.0.0.1", "--index-url=https://pypi.internal/simple"]) == []
    for hostile in (["--target", "/etc"], ["-r", "http://x/req.txt"], ["--index-url", "file:///etc"],
                    ["--find-links", "http://x/ $(id)"], ["--find-links"], ["--no-index=1"], ["-e", "."],
                    ["--extra-index-url", "--pre"]):
        assert refused(model, key, hostile), f"{hostile} accepted"
