"""Metrics and alerts (seed 001 Part 10): exporters on every host, Prometheus and Alertmanager in the storage
stack, the seed's critical-alert thresholds, and where alerts go (the operator's Activity API)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from hydra_ops.settings import Duration, Label, Options, Port, Url, UserName, pattern

MonitorName = Annotated[str, AfterValidator(pattern(r"^[A-Za-z0-9][A-Za-z0-9 ._:/()-]*$",
                                                    "a monitor name (letters, digits, spaces, . _ : / ( ) -)", 150))]


Email = Annotated[str, AfterValidator(pattern(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$",
                                              "an e-mail address", 254))]
WorkflowId = Annotated[str, AfterValidator(pattern(r"^[A-Za-z0-9]{8,36}$", "8-36 letters and digits", 36))]


class Thresholds(BaseModel):
    """Seed 001 Part 10's critical alerts."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    vram_percent: float = Field(95, gt=0, le=100, description="VRAM Critical: a GPU's memory use above this.")
    gpu_temp_c: float = Field(80, gt=0, le=120, description="GPU Temp High: a GPU's temperature above this.")
    disk_percent: float = Field(95, gt=0, le=100, description="Storage Full: a filesystem's use above this.")


class Monitor(BaseModel):
    """One Uptime Kuma monitor an operator adds by hand: an HTTP URL, or a host and TCP port."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    name: MonitorName = Field(description="Unique name (hydra-ops finds its monitors by name).")
    type: Literal["http", "port"] = Field(description="http: GET url answers 2xx; port: TCP connect.")
    url: Url | None = Field(None, description="For http.")
    hostname: Label | None = Field(None, description="For port: an address or a name the stack resolves.")
    port: Port | None = Field(None, description="For port.")

    @model_validator(mode="after")
    def _complete(self) -> Monitor:
        if self.type == "http" and not self.url:
            raise ValueError("an http monitor needs url")
        if self.type == "port" and not (self.hostname and self.port):
            raise ValueError("a port monitor needs hostname and port")
        return self


class ScrapeTarget(BaseModel):
    """One more exporter for Prometheus to scrape, on a host of the inventory (named, so it is labelled as one)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    job: Annotated[str, AfterValidator(pattern(r"^[a-z][a-z0-9_]{0,62}$", "a job name (a-z, 0-9, _)", 63))] = Field(
        description="Prometheus job name (targets of one job are scraped alike).")
    host: Label = Field(description="The inventory host the exporter runs on (its address comes from there).")
    port: Port = Field(description="The exporter's port.")
    path: Annotated[str, AfterValidator(pattern(r"^/[A-Za-z0-9._/-]*$", "a URL path", 200))] = Field(
        "/metrics", description="Where the exporter serves its metrics.")


class MonitoringOptions(Options):
    """Exporters on every host, Prometheus and Alertmanager on the storage host, the alert rules."""

    prefixes = ("monitoring_", "node_exporter_", "gpu_exporter_", "prometheus_", "alertmanager_", "activity_",
                "uptime_kuma_", "n8n_", "resource_monitor_", "blackbox_")

    node_exporter_port: Port = Field(9100, description="Node exporter on every host (seed 001 Part 6).")
    gpu_exporter_port: Port = Field(9835, description="The nvidia-smi exporter hydra-ops installs on the GPU hosts.")
    monitoring_open_firewall: bool = Field(True, description="Open the exporters' ports in the host firewall "
                                                             "(NixOS), so Prometheus on hydra-storage can scrape.")
    blackbox_port: Port = Field(9115, description="The blackbox exporter in the stack, which Prometheus probes "
                                                 "each inference endpoint through (not published).")
    prometheus_port: Port = Field(9090, description="Prometheus in the storage stack.")
    alertmanager_port: Port = Field(9093, description="Alertmanager in the storage stack.")
    prometheus_extra_targets: list[ScrapeTarget] = Field(
        default_factory=list, description="Exporters beyond the generated ones (node, GPU, probes), each on an "
                                          "inventory host: [{job, host, port, path}].")
    prometheus_scrape_interval: Duration = Field("15s", description="How often every target is scraped.")
    prometheus_retention: Duration = Field("15d", description="How long Prometheus keeps samples.")
    monitoring_thresholds: Thresholds = Field(default_factory=Thresholds, description="Seed 001's alert thresholds.")
    monitoring_alert_for: Duration = Field("2m", description="How long a condition must hold before it alerts.")
    activity_api_url: Url | None = Field(None, description="Where alerts are POSTed (hydra-tools-api's /activity "
                                                           "on :8700, seed 001 Part 8); None: alerts stay in "
                                                           "Alertmanager.")
    n8n_port: Port = Field(5678, description="The n8n service of the storage stack (G6), published on "
                                                 "stack_publish_address.")
    n8n_owner_email: Email = Field("ops@hydra.invalid", description="The owner account of n8n (set up by the deploy; "
                                                                    "its password is the secret n8n_owner_password).")
    resource_monitor_minutes: int = Field(15, ge=1, le=59, description="G6: how often the workflow checks "
                                                                       "(seed 000 Gap 6: every 15 minutes).")
    resource_monitor_id: WorkflowId = Field("hydraOpsResourceMon", description="The workflow's id in n8n (import "
                                            "updates this one workflow in place, never a second copy).")
    resource_monitor_name: MonitorName = Field("hydra-ops resource monitor (G6)", description="Its name in n8n.")
    uptime_kuma_port: Port = Field(3001, description="Uptime Kuma in the storage stack (G9).")
    uptime_kuma_username: UserName = Field("admin", description="Uptime Kuma's admin; its password is the secret "
                                                                 "uptime_kuma_password.")
    uptime_kuma_interval: int = Field(60, ge=20, le=86400, description="Seconds between checks (Uptime Kuma's "
                                                                       "minimum is 20).")
    uptime_kuma_extra_monitors: list[Monitor] = Field(
        default_factory=list, description="Monitors beyond the generated ones (every endpoint this project "
                                          "deploys), toward the seed's 40+; names must be unique.")

    @model_validator(mode="after")
    def _unique(self) -> MonitoringOptions:
        names = [m.name for m in self.uptime_kuma_extra_monitors]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"uptime_kuma_extra_monitors: {', '.join(twice)} named more than once")
        return self
