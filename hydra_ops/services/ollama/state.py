"""Ollama's desired state, whatever the platform: the instance unit, each instance's environment, the models."""

from __future__ import annotations

from hydra_ops.render import render
from hydra_ops.services.ollama.options import Instance, OllamaOptions

ENV_DIR = "/etc/ollama"
STATE_DIR = "/var/lib/ollama"


def env_file(o: OllamaOptions, inst: Instance) -> str:
    """The instance's environment (KEY=value lines): its GPU, address, shared store and tuning."""
    return render(
        "ollama-instance.env.j2", gpu=inst.gpu, port=o.internal_port(inst), bind_address="127.0.0.1",
        models_dir=o.ollama_models_dir, flash_attention=o.ollama_flash_attention,
        keep_alive=o.ollama_keep_alive, num_parallel=o.ollama_num_parallel,
        max_loaded_models=o.ollama_max_loaded_models, extra_env=o.ollama_extra_env, state_dir=STATE_DIR,
    )


def unit_file(o: OllamaOptions, ollama_bin: str = "/usr/local/bin/ollama") -> str:
    """The hardened ollama@.service every instance runs (NixOS gets the same directives as options)."""
    return render("ollama@.service.j2", env_dir=ENV_DIR, ollama_bin=ollama_bin,
                  user=o.ollama_user, state_dir=STATE_DIR, models_dir=o.ollama_models_dir)


def canonical(model: str) -> str:
    """Ollama's own name for a model (a bare name means :latest)."""
    return model if ":" in model else f"{model}:latest"


def missing_models(o: OllamaOptions, stored: set[str], models: list[str] | None = None) -> list[str]:
    """The wanted models (ollama_models unless given) the store does not hold yet."""
    return [m for m in (o.ollama_models if models is None else models) if canonical(m) not in stored]
