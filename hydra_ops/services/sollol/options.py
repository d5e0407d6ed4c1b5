"""The SOLLOL cluster (seed 003): every option with its type, default (from the seed), constraint and doc.

Seed 003 sets nine knobs; SOLLOL 0.9.66 reads only some of them (its source, docs/research/issue-13-*.md):
- read by SOLLOL: SOLLOL_MIN_VRAM_MB (sollol_min_vram_mb), the Ray worker count that bounds parallel requests
  (SOLLOL_RAY_WORKERS <- sollol_max_concurrent_requests), the gateway port (SOLLOL_PORT), the dashboard port
  (SOLLOL_DASHBOARD_PORT, used only by SOLLOL's hybrid router, which needs RPC backends);
- realised by hydra-ops' launcher around SOLLOL's gateway: the routing modes fast/reliable/async (names SOLLOL
  defines but never wires in) mapped onto SOLLOL's routing strategies, and the model placement;
- read by the application only (SOLLOL has no such setting): SOLLOL_DEFAULT_ROUTING_MODE,
  SOLLOL_PARALLEL_REQUESTS, SOLLOL_MAX_CONCURRENT_REQUESTS, SOLLOL_VRAM_MONITORING and every HYDRA_* setting;
  they go to the application's environment file, named as such.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from hydra_ops.services.ollama.options import _model
from hydra_ops.services.tabbyapi.options import PipSpec
from hydra_ops.settings import AbsPath, Environment, Options, PipArgs, Port, ServiceUser

#: the routing modes SOLLOL 0.9.66 names (sollol/routing_modes.py RoutingMode); anything else is refused
ROUTING_MODES = ("fast", "reliable", "async")
_HOST = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")

ModelName = Annotated[str, AfterValidator(_model)]


def _host(name: str) -> str:
    if not _HOST.fullmatch(name):
        raise ValueError("is not an inventory host name")
    return name


HostName = Annotated[str, AfterValidator(_host)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Node(_Strict):
    """One Ollama node of the cluster: the largest model (billions of parameters) its GPU memory holds."""

    capacity_b: float = Field(gt=0, le=1000, description="Largest model size it can hold, in billions of "
                                                         "parameters (seed 003: node 1 \"30B+\", node 2 70B).")


class TierModel(_Strict):
    """A model of a tier: its size and the nodes it is pulled onto (every one must be able to hold it)."""

    model: ModelName
    size_b: float = Field(gt=0, le=1000, description="Parameters, in billions.")
    nodes: list[HostName] = Field(min_length=1, description="Nodes the model is placed on (pulled there; requests "
                                                            "for it are routed only there).")


def _tier(model: str, size_b: float, *nodes: str) -> TierModel:
    return TierModel(model=model, size_b=size_b, nodes=list(nodes))


_BOTH = ("sollol-1", "sollol-2")
#: seed 003's tiers in priority order; "powerful node" is node 2 (70B), "light node" node 1
SEED_TIERS = {
    "code": [_tier("qwen2.5-coder:7b", 7, *_BOTH), _tier("deepseek-coder-v2:latest", 15.7, "sollol-2"),
             _tier("codellama:13b", 13, "sollol-2"), _tier("qwen2.5-coder:3b", 3, *_BOTH),
             _tier("deepseek-coder:6.7b", 6.7, *_BOTH), _tier("qwen2.5-coder:1.5b", 1.5, "sollol-1")],
    "reasoning": [_tier("qwen3:14b", 14, "sollol-2"), _tier("qwen3:1.7b", 1.7, "sollol-1")],
    "general": [_tier("llama3.1:70b", 70, "sollol-2"), _tier("mistral:latest", 7.2, *_BOTH),
                _tier("llama3.2:3b", 3.2, *_BOTH), _tier("qwen3:8b", 8, *_BOTH)],
}
#: seed 003's reasoning-engine settings: the application reads them, SOLLOL does not
SEED_APP_ENV = {"HYDRA_REASONING_MODE": "auto", "HYDRA_REASONING_MODEL": "qwen3:14b",
                "HYDRA_USE_REASONING_MODEL": "true", "HYDRA_MAX_THINKING_TOKENS": "6000",
                "HYDRA_DEEP_THINKING_THRESHOLD": "9.5"}


class SollolOptions(Options):
    """The SOLLOL gateway in front of the Ollama nodes of group sollol, and the models placed on them."""

    prefixes = ("sollol_",)

    sollol_pip_packages: list[PipSpec] = Field(default_factory=lambda: ["sollol==0.9.66"], min_length=1,
                                               description="What the gateway's venv installs (pinned).")
    sollol_pip_args: PipArgs = Field(default_factory=list, description="Extra pip arguments (an internal "
                                                                            "mirror: --index-url or --find-links).")
    sollol_install_root: AbsPath = Field("/opt/sollol", description="Venv and launcher of the gateway.")
    sollol_config_dir: AbsPath = Field("/etc/sollol", description="Gateway settings and the application's "
                                                                  "environment file.")
    sollol_user: ServiceUser = Field("sollol", description="System user the gateway runs as.")
    sollol_gateway_host: Annotated[str, AfterValidator(_host)] = Field(
        "sollol-1", description="Inventory host (of group sollol) that runs the gateway.")
    sollol_port: Port = Field(8090, description="Gateway port (SOLLOL_PORT). Seed 003 names none, and SOLLOL's "
                                                "default 11434 is the node's own Ollama port.")
    sollol_dashboard_port: Port = Field(8080, description="SOLLOL_DASHBOARD_PORT (seed 003: :8080); SOLLOL "
                                                          "starts its dashboard only with RPC backends, which this "
                                                          "cluster has none of, so the port stays reserved.")
    sollol_routing_mode: str = Field("async", description="Default routing mode (seed 003: async); one of fast, "
                                                          "reliable, async. A request may ask for another with "
                                                          "the X-Hydra-Routing-Mode header.")
    sollol_max_concurrent_requests: int = Field(4, ge=1, le=64, description="Requests run at once on SOLLOL's "
                                                "Ray actors (SOLLOL_RAY_WORKERS; seed 003: "
                                                "SOLLOL_MAX_CONCURRENT_REQUESTS=4).")
    sollol_min_vram_mb: int = Field(100, ge=0, le=1_000_000, description="SOLLOL_MIN_VRAM_MB: below this free "
                                    "VRAM a GPU counts as overwhelmed (seed 003: 100; SOLLOL's default 1000).")
    sollol_health_interval: int = Field(5, ge=1, le=300, description="Seconds between the launcher's probes of "
                                        "each node; a stopped node stops receiving requests within this window.")
    sollol_nodes: dict[HostName, Node] = Field(
        default_factory=lambda: {"sollol-1": Node(capacity_b=34), "sollol-2": Node(capacity_b=70)}, min_length=1,
        description="Every Ollama node by inventory name with the largest model it holds (seed 003: node 1 "
                    "\"30B+\", taken as 34B; node 2 70B).")
    sollol_model_tiers: dict[Annotated[str, AfterValidator(_host)], list[TierModel]] = Field(
        default_factory=lambda: dict(SEED_TIERS), min_length=1,
        description="Seed 003's model tiers (code, reasoning, general) in priority order: each model's size and "
                    "the nodes it is placed on.")
    sollol_app_env: Environment = Field(
        default_factory=lambda: dict(SEED_APP_ENV),
        description="Application settings SOLLOL does not read (seed 003's HYDRA_* reasoning settings); written "
                    "with the seed's unread SOLLOL_* settings to <config_dir>/hydra-app.env.")
    sollol_ready_timeout: int = Field(300, ge=10, le=3600, description="Seconds the (re)started gateway may take "
                                      "to answer (it starts a local Ray cluster first).")

    @field_validator("sollol_routing_mode")
    @classmethod
    def _mode(cls, mode: str) -> str:
        if mode not in ROUTING_MODES:
            raise ValueError("is not a routing mode SOLLOL has (fast, reliable, async)")
        return mode

    @model_validator(mode="after")
    def _placement(self) -> SollolOptions:
        problems = []
        for tier, models in self.sollol_model_tiers.items():
            for m in models:
                for node in m.nodes:
                    spec = self.sollol_nodes.get(node)
                    if spec is None:
                        problems.append(f"tier {tier}: {m.model} is placed on {node}, which is not in sollol_nodes")
                    elif m.size_b > spec.capacity_b:
                        problems.append(f"tier {tier}: {m.model} ({m.size_b:g}B) is placed on {node}, which holds "
                                        f"at most {spec.capacity_b:g}B")
        if self.sollol_gateway_host not in self.sollol_nodes:
            problems.append(f"sollol_gateway_host {self.sollol_gateway_host!r} is not in sollol_nodes")
        if self.sollol_port == self.sollol_dashboard_port:
            problems.append("sollol_port and sollol_dashboard_port are the same port")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def placement(self) -> dict[str, list[str]]:
        """Model -> the nodes it is placed on (a model in two tiers is placed on the union)."""
        out: dict[str, list[str]] = {}
        for models in self.sollol_model_tiers.values():
            for m in models:
                out.setdefault(m.model, [])
                out[m.model] += [n for n in m.nodes if n not in out[m.model]]
        return out

    def models_on(self, node: str) -> list[str]:
        """The models placed on one node, in tier order."""
        return [model for model, nodes in self.placement().items() if node in nodes]
