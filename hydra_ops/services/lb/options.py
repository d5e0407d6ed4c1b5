"""The nginx load balancer in front of the Ollama instances (G2): every option, declared once."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from hydra_ops.settings import AbsPath, Address, Duration, Options, Port

#: What an extra line in the LB's location may tune: buffering, timeouts and headers of the proxied request and
#: its response. Routing, rewriting, access rules, includes and log files stay hydra-ops' own: each of them could
#: serve a path the allow-list refuses (`rewrite ^ /api/pull break;`) or write where nginx's master (root) may.
EXTRA_DIRECTIVES = frozenset({
    "add_header", "chunked_transfer_encoding", "client_body_buffer_size", "client_body_timeout", "keepalive_requests",
    "limit_rate", "limit_rate_after", "proxy_buffer_size", "proxy_buffering", "proxy_buffers",
    "proxy_busy_buffers_size", "proxy_hide_header", "proxy_ignore_headers", "proxy_request_buffering",
    "proxy_set_header", "send_timeout", "tcp_nodelay"})


def _directive(text: str) -> str:
    body = text.removesuffix(";").strip()
    if (not text.endswith(";") or any(ch in body for ch in "{}#;\\'\"") or not body
            or not (text.isascii() and text.isprintable()) or len(text) > 1024):
        raise ValueError("is not a single directive (one statement ending in ';': no braces, quotes, comments or "
                         "newlines)")
    if body.split()[0] not in EXTRA_DIRECTIVES:
        raise ValueError(f"uses {body.split()[0]!r}; an extra line may only use "
                         f"{', '.join(sorted(EXTRA_DIRECTIVES))}")
    return text


_directive.what = "one tuning directive (buffers, timeouts, headers)"  # type: ignore[attr-defined]


class LbOptions(Options):
    """hydra-compute's LB: least_conn over the instances on :11400, streaming-safe, failing over."""

    prefixes = ("lb_",)

    lb_port: Port = Field(11400, description="Port the LB listens on (seed 000 Gap 2).")
    lb_listen_address: Address = Field("0.0.0.0", description="Address the LB listens on.")
    lb_open_firewall: bool = Field(True, description="NixOS: open lb_port in networking.firewall (seed 000 §6.1).")
    lb_config_path: AbsPath = Field("/etc/nginx/conf.d/ollama-lb.conf",
                                    description="Debian: where the site is written (nginx includes conf.d/*.conf).")
    lb_drain_dir: AbsPath = Field("/etc/nginx/hydra-ollama", description="Debian: one include per instance holding "
                                  "its upstream server line; a rolling restart marks it `down` there to drain it.")
    lb_method: Literal["least_conn", "round_robin", "ip_hash"] = Field(
        "least_conn", description="Balancing method (seed: least_conn).")
    lb_client_keepalive_timeout: Duration = Field(
        "0", description="How long a client connection may idle between requests; 0 (a connection per request) "
                         "means a graceful reload never closes a connection a client is about to reuse.")
    lb_keepalive: int = Field(32, ge=1, le=10000, description="Idle upstream connections kept per worker.")
    lb_max_fails: int = Field(2, ge=0, le=100, description="Failures within fail_timeout that mark an instance down.")
    lb_fail_timeout: Duration = Field("10s", description="Passive health window and how long a failed instance "
                                                         "is skipped.")
    lb_proxy_connect_timeout: Duration = Field("5s", description="Connect timeout; short so a dead instance fails "
                                                                 "over fast.")
    lb_proxy_read_timeout: Duration = Field("600s", description="Must cover queueing + model load + first token.")
    lb_proxy_send_timeout: Duration = Field("600s", description="Send timeout for large prompts.")
    lb_next_upstream_tries: int = Field(2, ge=0, le=100, description="Upstreams tried per request (failover).")
    lb_client_max_body_size: Annotated[str, Field(pattern=r"^[0-9]+[kKmMgG]?$")] = Field(
        "64m", description="Largest request body (prompts, images).")
    lb_upstream_host_header: Annotated[str, Field(pattern=r"^[A-Za-z0-9.:\[\]-]+$")] = Field(
        "127.0.0.1", description="Host header sent upstream; loopback-bound Ollama refuses foreign names (403).")
    lb_allowed_paths: list[Annotated[str, Field(pattern=r"^/[A-Za-z0-9/_.-]*$")]] = Field(
        default_factory=lambda: ["/", "/api/version", "/api/tags", "/api/ps", "/api/show", "/api/generate",
                                 "/api/chat", "/api/embed", "/api/embeddings", "/v1/models", "/v1/chat/completions",
                                 "/v1/completions", "/v1/embeddings"],
        description="Paths the LB serves (inference and read endpoints); all others, model management "
                    "included, get 403.")
    lb_debug_headers: bool = Field(False, description="Send X-Hydra-Upstream (the instance that served) to "
                                                      "clients; internal addresses, so off unless asked.")
    lb_extra_directives: list[Annotated[str, AfterValidator(_directive)]] = Field(
        default_factory=list, description="Tuning directives appended inside the LB's location block "
                         "(one statement each, from EXTRA_DIRECTIVES).")
