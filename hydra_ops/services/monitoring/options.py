"""Metrics and alerts (seed 001 Part 10): exporters on every host, Prometheus and Alertmanager in the storage
stack, the seed's critical-alert thresholds, and where alerts go (the operator's Activity API)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from hydra_ops.settings import Duration, Options, Port, Url


class Thresholds(BaseModel):
    """Seed 001 Part 10's critical alerts."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    vram_percent: float = Field(95, gt=0, le=100, description="VRAM Critical: a GPU's memory use above this.")
    gpu_temp_c: float = Field(80, gt=0, le=120, description="GPU Temp High: a GPU's temperature above this.")
    disk_percent: float = Field(95, gt=0, le=100, description="Storage Full: a filesystem's use above this.")


class MonitoringOptions(Options):
    """Exporters on every host, Prometheus and Alertmanager on the storage host, the alert rules."""

    prefixes = ("monitoring_", "node_exporter_", "gpu_exporter_", "prometheus_", "alertmanager_", "activity_")

    node_exporter_port: Port = Field(9100, description="Node exporter on every host (seed 001 Part 6).")
    gpu_exporter_port: Port = Field(9835, description="hydra-ops' nvidia-smi exporter on the GPU hosts.")
    prometheus_port: Port = Field(9090, description="Prometheus in the storage stack.")
    alertmanager_port: Port = Field(9093, description="Alertmanager in the storage stack.")
    prometheus_scrape_interval: Duration = Field("15s", description="How often every target is scraped.")
    prometheus_retention: Duration = Field("15d", description="How long Prometheus keeps samples.")
    monitoring_thresholds: Thresholds = Field(default_factory=Thresholds, description="Seed 001's alert thresholds.")
    monitoring_alert_for: Duration = Field("2m", description="How long a condition must hold before it alerts.")
    activity_api_url: Url | None = Field(None, description="Where alerts are POSTed (hydra-tools-api's /activity "
                                                           "on :8700, seed 001 Part 8); None: alerts stay in "
                                                           "Alertmanager.")
