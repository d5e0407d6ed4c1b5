"""Monitoring's desired state, without hosts: Prometheus targets and rules from the inventory and thresholds,
Alertmanager's route, Uptime Kuma's monitors generated and planned (create, update in place, delete only ours)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from hydra_ops.services.monitoring import kuma, state
from hydra_ops.services.monitoring.options import MonitoringOptions
from hydra_ops.validation import ValidationError

HOSTS = {"hydra-ai": ("192.0.2.250", True), "hydra-compute": ("192.0.2.203", True),
         "hydra-storage": ("192.0.2.244", False)}


def options(**data: Any) -> MonitoringOptions:
    return MonitoringOptions.model_validate(data)


def test_prometheus_scrapes_every_exporter_labelled_with_its_host() -> None:
    doc = yaml.safe_load(state.prometheus_yml(options(), HOSTS, "alertmanager:9093"))
    jobs = {j["job_name"]: j["static_configs"] for j in doc["scrape_configs"]}
    assert [(c["targets"], c["labels"]["host"]) for c in jobs["node"]] == [
        (["192.0.2.250:9100"], "hydra-ai"), (["192.0.2.203:9100"], "hydra-compute"),
        (["192.0.2.244:9100"], "hydra-storage")]
    assert [c["labels"]["host"] for c in jobs["gpu"]] == ["hydra-ai", "hydra-compute"]  # no GPU on storage
    assert doc["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["alertmanager:9093"]


def test_rules_carry_the_seed_thresholds_and_alerts_go_to_the_activity_api() -> None:
    o = options(monitoring_thresholds={"gpu_temp_c": 75, "vram_percent": 90}, activity_api_url="http://a:8700/x")
    rules = {r["alert"]: r for r in yaml.safe_load(state.rules_yml(o))["groups"][0]["rules"]}
    assert rules["GpuTempHigh"]["expr"] == "nvidia_smi_temperature_gpu > 75"
    assert rules["VramCritical"]["expr"].endswith("> 90") and rules["StorageFull"]["expr"].endswith("> 95")
    am = yaml.safe_load(state.alertmanager_yml(o))
    assert am["receivers"][0]["webhook_configs"] == [{"url": "http://a:8700/x", "send_resolved": True}]
    assert "webhook_configs" not in yaml.safe_load(state.alertmanager_yml(options()))["receivers"][0]


@pytest.mark.parametrize(("data", "key"), [({"monitoring_thresholds": {"gpu_temp_c": 500}}, "gpu_temp_c"),
                                            ({"uptime_kuma_interval": 5}, "uptime_kuma_interval"),
                                            ({"uptime_kuma_extra_monitors": [{"name": "a", "type": "http"}]},
                                             "needs url")])
def test_bad_monitoring_data_is_refused(data: dict[str, Any], key: str) -> None:
    with pytest.raises(ValueError, match=key):
        options(**data)


def test_two_extras_with_one_name_are_refused() -> None:
    extra = {"name": "x", "type": "port", "hostname": "h", "port": 22}
    with pytest.raises(ValueError, match="x named more than once"):
        options(uptime_kuma_extra_monitors=[extra, extra])


HOST_DATA = [("hydra-compute", "192.0.2.203", {"compute"}, {"expected_gpu_count": 2}),
             ("hydra-ai", "192.0.2.250", {"ai"}, {"expected_gpu_count": 2, "tabby_source_sha256": "a" * 64}),
             ("hydra-storage", "192.0.2.244", {"storage"}, {})]


def test_monitors_cover_every_endpoint_and_extras_must_not_clash() -> None:
    o = options()
    generated = kuma.endpoints(HOST_DATA, {"litellm": "litellm", "redis": "redis"}, o)
    names = [n for n, _ in generated]
    assert "hydra-compute ollama :11434" in names and "hydra-ai tabbyapi :5000" in names
    assert "hydra-storage gpu exporter" not in names and len(names) == len(set(names)) == 11
    assert dict(generated)["storage redis"] == {"type": "port", "hostname": "redis", "port": 6379}
    assert dict(generated)["hydra-compute ollama :11434"]["url"].endswith(":11434/hydra-ops/instance-health")
    clash = options(uptime_kuma_extra_monitors=[{"name": "storage redis", "type": "port", "hostname": "h",
                                                 "port": 1}])
    with pytest.raises(ValidationError, match="storage redis is also a generated monitor's name"):
        kuma.wanted(generated, clash, "hydra-storage")


def test_plan_updates_in_place_deletes_only_its_own_and_refuses_to_take_over() -> None:
    want = {"a": {"type": "port", "hostname": "h", "port": 1, "interval": 60},
            "b": {"type": "http", "url": "http://x/", "interval": 60}}
    current = [{"id": 1, "name": "a", "description": kuma.MARK, "type": "port", "hostname": "h", "port": 2,
                "interval": 60},
               {"id": 2, "name": "gone", "description": kuma.MARK, "type": "http", "url": "http://y/"},
               {"id": 3, "name": "mine", "description": "by hand", "type": "http", "url": "http://z/"}]
    assert kuma.plan(current, want) == {"create": ["b"], "update": [(1, "a")], "delete": [(2, "gone")]}
    from uptime_kuma_api import MonitorType  # what the client really hands back for a type

    same = [{**current[0], "port": "1"}, {"id": 4, "name": "b", "description": kuma.MARK, "type": MonitorType.HTTP,
                                        "url": "http://x/", "interval": 60}]
    assert kuma.plan(same, want) == {"create": [], "update": [], "delete": []}
    with pytest.raises(ValidationError, match="'mine' exists and was not made by hydra-ops"):
        kuma.plan(current, {**want, "mine": {"type": "http", "url": "http://z/", "interval": 60}})


def test_inference_endpoints_are_probed_through_the_blackbox_exporter() -> None:
    probes = [("hydra-compute", "ollama :11434", "http://192.0.2.203:11434/hydra-ops/instance-health")]
    doc = yaml.safe_load(state.prometheus_yml(options(), HOSTS, "alertmanager:9093", probes, "blackbox:9115"))
    job = next(j for j in doc["scrape_configs"] if j["job_name"] == "probes")
    assert job["metrics_path"] == "/probe" and job["params"] == {"module": [state.PROBE_MODULE]}
    assert job["static_configs"] == [{"targets": [probes[0][2]],
                                      "labels": {"host": "hydra-compute", "service": "ollama :11434"}}]
    assert job["relabel_configs"][-1] == {"target_label": "__address__", "replacement": "blackbox:9115"}
    modules = yaml.safe_load(state.blackbox_yml())["modules"]
    assert modules[state.PROBE_MODULE]["prober"] == "http"
    rules = {r["alert"]: r for r in yaml.safe_load(state.rules_yml(options()))["groups"][0]["rules"]}
    assert rules["ServiceDown"]["expr"] == "probe_success == 0"
    no_blackbox = yaml.safe_load(state.prometheus_yml(options(), HOSTS, "alertmanager:9093", probes, None))
    assert "probes" not in [j["job_name"] for j in no_blackbox["scrape_configs"]]


def test_extra_targets_are_scraped_on_inventory_hosts_only() -> None:
    o = options(prometheus_extra_targets=[{"job": "postgres", "host": "hydra-storage", "port": 9187}])
    doc = yaml.safe_load(state.prometheus_yml(o, HOSTS, "alertmanager:9093"))
    job = next(j for j in doc["scrape_configs"] if j["job_name"] == "postgres")
    assert job["metrics_path"] == "/metrics"
    assert job["static_configs"] == [{"targets": ["192.0.2.244:9187"], "labels": {"host": "hydra-storage"}}]
    with pytest.raises(ValueError, match="host 'hydra-nowhere' is not in the inventory"):
        state.prometheus_yml(options(prometheus_extra_targets=[{"job": "x", "host": "hydra-nowhere", "port": 1}]),
                             HOSTS, "alertmanager:9093")
    with pytest.raises(ValueError, match="job 'node' is generated already"):
        state.prometheus_yml(options(prometheus_extra_targets=[{"job": "node", "host": "hydra-ai", "port": 1}]),
                             HOSTS, "alertmanager:9093")
    with pytest.raises(Exception, match="prometheus_extra_targets"):
        options(prometheus_extra_targets=[{"job": "Bad Name", "host": "hydra-ai", "port": 1}])
