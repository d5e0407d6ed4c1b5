"""Bad group data is refused with a message naming the key; good data passes."""

from __future__ import annotations

from typing import Any

import pytest

from hydra_ops.services import compute as validate_compute
from hydra_ops.validation import ValidationError, check_gpus

GPUS = [{"index": 0, "name": "NVIDIA GeForce RTX 5070 Ti"}, {"index": 1, "name": "NVIDIA GeForce RTX 5070 Ti"}]


def test_production_defaults_are_valid(compute_data: dict[str, Any]) -> None:
    cfg = validate_compute(compute_data)
    assert [(i.gpu, i.port) for i in cfg.ollama.instances] == [(0, 11434), (1, 11435)]
    assert cfg.lb.lb_port == 11400 and cfg.lb.lb_method == "least_conn"
    check_gpus(cfg.ollama.instances, GPUS)


@pytest.mark.parametrize(("override", "message"), [
    ({"ollama_instances": [{"gpu": 0, "port": 11434}, {"gpu": 1, "port": 11434}]}, "port 11434 is used twice"),
    ({"ollama_instances": [{"gpu": 0, "port": 70000}]}, "ollama_instances[0].port: 70000: input should be less than"),
    ({"ollama_instances": [{"gpu": 0, "port": 0}]}, "ollama_instances[0].port: 0: input should be greater than"),
    ({"ollama_instances": [{"gpu": -1, "port": 11434}]}, "ollama_instances[0].gpu: -1: input should be greater"),
    ({"ollama_instances": [{"gpu": 0, "port": 11434}, {"gpu": 0, "port": 11435}]}, "GPU 0 is given to two"),
    ({"ollama_instances": []}, "ollama_instances: list should have at least 1 item"),
    ({"ollama_instances": [{"gpu": 0}]}, "ollama_instances[0].port: missing"),
    ({"ollama_instances": [{"gpu": 0, "port": 11434, "cpu": 1}]}, "ollama_instances[0].cpu: extra inputs"),
    ({"ollama_num_paralel": 2}, "ollama_num_paralel: unknown setting; did you mean ollama_num_parallel?"),
    ({"ollama_num_parallel": "4"}, "ollama_num_parallel: '4': input should be a valid integer"),
    ({"ollama_release_url": "https://h/x?a=';id;'"}, "is not an http(s) URL"),
    ({"ollama_models_dir": "/var/lib/$(id)"}, "ollama_models_dir: '/var/lib/$(id)' is not an absolute path"),
    ({"lb_port": 11434}, "lb_port: 11434 is also an Ollama instance's port"),
    ({"lb_method": "fastest"}, "lb_method: 'fastest': input should be 'least_conn', 'round_robin' or 'ip_hash'"),
    ({"lb_proxy_read_timeout": "ten minutes"}, "lb_proxy_read_timeout"),
    ({"lb_keepalive": True}, "lb_keepalive"),
    ({"ollama_release_sha256": "abc"}, "ollama_release_sha256"),
    ({"ollama_release_url": "ftp://x/y.tgz"}, "not an http(s) URL"),
    ({"ollama_extra_env": {"bad-name": "1"}}, "not an environment variable name"),
    ({"lb_extra_directives": ["location / { }"]}, "is not a single directive"),
    ({"ollama_models": ["Bad Model"]}, "not a model name"),
    ({"ollama_bind_address": "everywhere"}, "not an IP address"),
])
def test_bad_values_are_named(compute_data: dict[str, Any], override: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as err:
        validate_compute({**compute_data, **override})
    assert message in str(err.value)
    assert "nothing was changed" in str(err.value)


def test_every_problem_is_reported_at_once(compute_data: dict[str, Any]) -> None:
    bad = {**compute_data, "lb_method": "x", "lb_port": 99999, "ollama_num_parallel": 0}
    with pytest.raises(ValidationError) as err:
        validate_compute(bad)
    assert len(err.value.problems) == 3


def test_unset_options_take_their_declared_defaults(compute_data: dict[str, Any]) -> None:
    compute_data.pop("lb_port", None)
    assert validate_compute(compute_data).lb.lb_port == 11400


def test_gpu_index_must_exist_on_the_host(compute_data: dict[str, Any]) -> None:
    cfg = validate_compute({**compute_data, "ollama_instances": [{"gpu": 0, "port": 11434},
                                                                 {"gpu": 2, "port": 11435}]})
    with pytest.raises(ValidationError, match=r"GPU 2 \(port 11435\) does not exist on hydra-compute"):
        check_gpus(cfg.ollama.instances, GPUS)
    with pytest.raises(ValidationError, match="no GPUs"):
        check_gpus(cfg.ollama.instances, [])
