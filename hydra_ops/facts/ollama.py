"""Ollama facts: which models the shared store holds, read from its manifests (no running server needed)."""

from __future__ import annotations

from pyinfra.api import FactBase

REGISTRY_PATH = "manifests/registry.ollama.ai/library"


class OllamaModels(FactBase[list[str]]):
    """Models in an OLLAMA_MODELS directory as ``["qwen2.5:7b", ...]`` (empty when the store does not exist)."""

    def command(self, models_dir: str) -> str:
        root = f"{models_dir.rstrip('/')}/{REGISTRY_PATH}"
        return f"test -d {root} && cd {root} && find . -mindepth 2 -maxdepth 2 -type f || true"

    def default(self) -> list[str]:
        return []

    def process(self, output: list[str]) -> list[str]:
        models = []
        for line in output:
            parts = line.strip().removeprefix("./").split("/")
            if len(parts) == 2 and not parts[1].endswith(".partial"):
                models.append(f"{parts[0]}:{parts[1]}")
        return sorted(models)
