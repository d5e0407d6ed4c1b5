"""LiteLLM facts: where a gateway's config sends each model and whether its response cache is on."""

from __future__ import annotations

from typing import Any

import yaml

from hydra_ops.facts.file_summary import FileSummary


class LiteLLMTargets(FileSummary):
    """``{"routes": {"gpt-3.5-turbo": "http://10.0.0.3:11400", ...}, "fallbacks": {...}, "cache": True,
    "cache_type": "redis"}`` from a LiteLLM config.yaml; None when the file does not exist. Reads only routing,
    never secrets (the config holds os.environ references anyway)."""

    summarize = staticmethod(lambda text: summarize(text))


def summarize(text: str) -> dict[str, Any]:
    conf = yaml.safe_load(text) or {}
    settings = conf.get("litellm_settings") or {}
    routes = {m.get("model_name"): (m.get("litellm_params") or {}).get("api_base", "")
              for m in conf.get("model_list") or []}
    fallbacks = {k: v for item in settings.get("fallbacks") or [] for k, v in item.items()}
    return {"routes": routes, "fallbacks": fallbacks, "cache": settings.get("cache") is True,
            "cache_type": (settings.get("cache_params") or {}).get("type")}
