"""Bad group data is refused with a message naming the key; good data passes."""

from __future__ import annotations

from typing import Any

import pytest

from hydra_ops.validation import ValidationError, check_gpus, validate_compute

GPUS = [{"index": 0, "name": "NVIDIA GeForce RTX 5070 Ti"}, {"index": 1, "name": "NVIDIA GeForce RTX 5070 Ti"}]


def test_production_defaults_are_valid(compute_data: dict[str, Any]) -> None:
    cfg = validate_compute(compute_data)
    assert [(i.gpu, i.port) for i in cfg.instances] == [(0, 11434), (1, 11435)]
    assert cfg.lb_port == 11400 and cfg.lb_method == "least_conn"
    check_gpus(cfg, GPUS)


@pytest.mark.parametrize(("override", "message"), [
    ({"ollama_instances": [{"gpu": 0, "port": 11434}, {"gpu": 1, "port": 11434}]}, "port 11434 is used twice"),
    ({"ollama_instances": [{"gpu": 0, "port": 70000}]}, "ollama_instances[0].port: 70000 is out of range"),
    ({"ollama_instances": [{"gpu": 0, "port": 0}]}, "is out of range"),
    ({"ollama_instances": [{"gpu": -1, "port": 11434}]}, "is not a GPU index"),
    ({"ollama_instances": [{"gpu": 0, "port": 11434}, {"gpu": 0, "port": 11435}]}, "GPU 0 is given to two"),
    ({"ollama_instances": []}, "is not a non-empty list"),
    ({"ollama_instances": [{"gpu": 0}]}, "must be exactly"),
    ({"lb_port": 11434}, "lb_port: 11434 is also an Ollama instance's port"),
    ({"lb_method": "fastest"}, "lb_method: 'fastest' is not one of"),
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


def test_missing_key_is_reported(compute_data: dict[str, Any]) -> None:
    del compute_data["lb_port"]
    with pytest.raises(ValidationError, match="lb_port: missing"):
        validate_compute(compute_data)


def test_gpu_index_must_exist_on_the_host(compute_data: dict[str, Any]) -> None:
    cfg = validate_compute({**compute_data, "ollama_instances": [{"gpu": 0, "port": 11434},
                                                                 {"gpu": 2, "port": 11435}]})
    with pytest.raises(ValidationError, match=r"GPU 2 \(port 11435\) does not exist on hydra-compute"):
        check_gpus(cfg, GPUS)
    with pytest.raises(ValidationError, match="no GPUs"):
        check_gpus(cfg, [])
