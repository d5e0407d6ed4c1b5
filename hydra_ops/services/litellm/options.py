"""The LiteLLM gateway (G5, seed 001 Part 5): every option declared once; models name known backends, fallbacks
name known models, and the secrets it reads must reach the host (relations)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from hydra_ops.services.stack.options import StackOptions
from hydra_ops.settings import Options, Port, pattern

_MODEL = re.compile(r"[a-z0-9][a-z0-9._/-]*(:[A-Za-z0-9._-]+)?")
#: a double-quoted YAML scalar's text: printable (no control or line-separator characters), no quote or backslash
_TEXT = re.compile(r"[^\"\\\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufffe\uffff]*")


def _pattern(regex: str, what: str) -> AfterValidator:
    return AfterValidator(pattern(regex, what))


Key = Annotated[str, _pattern(r"[A-Za-z0-9][A-Za-z0-9._:-]*", "a name (letters, digits, . _ : -)")]
HostName = Annotated[str, _pattern(r"[A-Za-z0-9][A-Za-z0-9.-]*", "an inventory host or stack service name")]
UrlPath = Annotated[str, _pattern(r"(/[A-Za-z0-9._~-]+)*", "a URL path like /v1 (or empty)")]
ModelId = Annotated[str, _pattern(r"[a-z0-9_-]+/[A-Za-z0-9._:/-]+", "a provider/model id like ollama/qwen2.5:7b")]
Text = Annotated[str, _pattern(_TEXT.pattern, "one line without quotes or backslashes (printable characters)")]
SecretName = Annotated[str, _pattern(r"[a-z][a-z0-9_]*", "a secret name")]
OllamaModel = Annotated[str, _pattern(_MODEL.pattern, "a model name like qwen2.5:7b")]


#: the strategies LiteLLM's router accepts (router_utils/routing_groups.py); any other stops it at start
RoutingStrategy = Literal["simple-shuffle", "lar1", "least-busy", "latency-based-routing", "cost-based-routing",
                          "usage-based-routing-v2", "usage-based-routing", "provider-budget-routing"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Backend(_Strict):
    """Where a backend lives: an inventory host (or a stack service), a port, a URL path, optionally the secret
    sent as its API key."""

    host: HostName
    port: Port
    path: UrlPath
    api_key_secret: SecretName | None = None


class Model(_Strict):
    """A public model name's route: its backend and the provider's model id, plus optional model_info."""

    backend: Key
    model: ModelId
    max_tokens: Annotated[int, Field(ge=1)] | None = None
    description: Text = ""
    mode: Literal["", "embedding", "chat", "completion"] = ""


def _b(host: str, port: int, path: str = "", secret: str | None = None) -> Backend:
    return Backend(host=host, port=port, path=path, api_key_secret=secret)


def _m(backend: str, model: str, **info: object) -> Model:
    return Model(backend=backend, model=model, **info)  # type: ignore[arg-type]


class LitellmOptions(Options):
    """The storage stack's LiteLLM: models routed by the inventory, fallbacks, retries, the Redis cache."""

    prefixes = ("litellm_", "ollama_cpu_")

    litellm_port: Port = Field(4000, description="Port the gateway is published on.")
    litellm_backends: dict[Key, Backend] = Field(
        default_factory=lambda: {"tabbyapi": _b("hydra-ai", 5000, "/v1", "tabby_api_key"),
                                 "ollama_lb": _b("hydra-compute", 11400), "ollama_gpu0": _b("hydra-compute", 11434),
                                 "ollama_gpu1": _b("hydra-compute", 11435), "ollama_cpu": _b("ollama-cpu", 11434)},
        description="Backends by inventory host (addresses come from the inventory) or by stack service (reached "
                    "by name on the stack's network, at its container port): TabbyAPI, the LB, each GPU's "
                    "instance, the CPU fallback (the stack's ollama-cpu, published on loopback only).")
    litellm_models: dict[Key, Model] = Field(
        default_factory=lambda: {
            "gpt-4": _m("tabbyapi", "openai/default", max_tokens=32768,
                        description="70B model on RTX 5090+4090 tensor parallel"),
            "llama-70b": _m("tabbyapi", "openai/default"),
            "gpt-3.5-turbo": _m("ollama_lb", "ollama/qwen2.5:7b",
                                description="7B model, load balanced across 2x RTX 5070 Ti"),
            "llama-7b": _m("ollama_lb", "ollama/llama3.2:latest"),
            "codellama": _m("ollama_gpu0", "ollama/qwen2.5-coder:7b"),
            "text-embedding-ada-002": _m("ollama_gpu1", "ollama/nomic-embed-text", mode="embedding"),
            "cpu-fallback": _m("ollama_cpu", "ollama/qwen2.5:7b",
                               description="CPU inference on the EPYC burst pool (seed 001 Part 4)")},
        description="Public model name -> its backend and model id (seed 001 Part 5); api_base is derived.")
    litellm_fallbacks: dict[Key, list[Key]] = Field(
        default_factory=lambda: {"gpt-4": ["gpt-3.5-turbo"], "llama-70b": ["gpt-3.5-turbo"],
                                 "gpt-3.5-turbo": ["cpu-fallback"], "llama-7b": ["cpu-fallback"]},
        description="Models tried in order when one fails: 70B -> LB'd 7B -> CPU fallback.")
    litellm_num_retries: int = Field(2, ge=0, le=10, description="Retries on the same model before falling back.")
    litellm_request_timeout: int = Field(600, ge=1, le=86400, description="Seconds before a backend call is "
                                                                          "abandoned (70B first tokens are slow).")
    litellm_routing_strategy: RoutingStrategy = Field(
        "simple-shuffle", description="Router strategy (the seed's usage-based-routing needs TPM limits the model "
                                      "list lacks; the LB already balances the 7B pair).")
    litellm_drop_params: bool = Field(True, description="Drop OpenAI parameters a backend does not take instead "
                                                        "of failing the call.")
    litellm_cache: bool = Field(True, description="Cache responses in Redis (the audit found caching off).")
    litellm_cache_ttl: int = Field(3600, ge=1, le=30 * 86400, description="Seconds a cached response lives.")
    ollama_cpu_models: list[OllamaModel] = Field(
        default_factory=lambda: ["qwen2.5:7b"], description="Models the CPU fallback (service ollama-cpu) must "
                                                            "have; pulled when missing.")

    @field_validator("litellm_models")
    @classmethod
    def _backends_known(cls, models: dict[str, Model], info: ValidationInfo) -> dict[str, Model]:
        backends = info.data.get("litellm_backends")
        bad = [f"{n}.backend {m.backend!r} is not in litellm_backends" for n, m in models.items()
               if backends is not None and m.backend not in backends]
        if bad:
            raise ValueError("; ".join(bad))
        return models

    @field_validator("litellm_fallbacks")
    @classmethod
    def _models_known(cls, fallbacks: dict[str, list[str]], info: ValidationInfo) -> dict[str, list[str]]:
        models = info.data.get("litellm_models")
        if models is None:
            return fallbacks
        bad = [f"{n}: {chain!r} names models not in litellm_models: {unknown}" for n, chain in fallbacks.items()
               if (unknown := [m for m in [n, *chain] if m not in models])]
        if bad:
            raise ValueError("; ".join(bad))
        return fallbacks


def secret_env(o: LitellmOptions) -> dict[str, str]:
    """Environment variable -> secret name the gateway's process needs (master key, Redis, backend keys)."""
    env = {"LITELLM_MASTER_KEY": "litellm_master_key"}
    if o.litellm_cache:
        env["REDIS_PASSWORD"] = "redis_password"
    for backend in o.litellm_backends.values():
        if backend.api_key_secret:
            env[backend.api_key_secret.upper()] = backend.api_key_secret
    return env


def relations(o: LitellmOptions, stack: StackOptions, secret_files: Iterable[str]) -> list[str]:
    """The cache needs the stack's Redis; every secret LiteLLM reads must be in secret_files (or it never
    reaches the host)."""
    if "litellm" not in stack.stack_services:
        return []
    listed = set(secret_files)
    problems = [f"secret_files: {n!r} lacks an entry LiteLLM reads (add {{secret, owner, group}} for it)"
                for n in sorted({"litellm_master_key"} | ({"redis_password"} if o.litellm_cache else set()))
                if n not in listed]
    if o.litellm_cache and "redis" not in stack.stack_services:
        problems.append("litellm_cache: true needs the redis service in stack_services")
    problems += [f"litellm_backends.{n}.api_key_secret: {b.api_key_secret!r} is not in secret_files, so it would "
                 "never reach the host" for n, b in o.litellm_backends.items()
                 if b.api_key_secret and b.api_key_secret not in listed]
    return problems
