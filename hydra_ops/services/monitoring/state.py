"""The monitoring configuration, whatever the platform: Prometheus' scrape targets from the inventory, the
seed's alert rules, and Alertmanager's route to the Activity API; every file serialised, never pasted."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from hydra_ops.services.monitoring.options import MonitoringOptions

RULES_FILE = "hydra-rules.yml"
PROBE_MODULE = "http_2xx"
#: filesystems whose fill level matters (not RAM or image layers)
REAL_FS = 'fstype!~"tmpfs|ramfs|overlay|squashfs"'


def targets(o: MonitoringOptions, hosts: Mapping[str, tuple[str, bool]]) -> dict[str, list[dict[str, Any]]]:
    """job -> static_configs: every host's node exporter, the GPU hosts' GPU exporter (hosts: name -> (address,
    has GPUs)); each target labelled with its host name so alerts say which host."""
    def static(port: int, names: list[str]) -> list[dict[str, Any]]:
        return [{"targets": [f"{hosts[n][0]}:{port}"], "labels": {"host": n}} for n in names]
    return {"node": static(o.node_exporter_port, sorted(hosts)),
            "gpu": static(o.gpu_exporter_port, sorted(n for n, (_, gpus) in hosts.items() if gpus))}


def prometheus_yml(o: MonitoringOptions, hosts: Mapping[str, tuple[str, bool]], alertmanager: str,
                   probes: Sequence[tuple[str, str, str]] = (), blackbox: str | None = None) -> str:
    """prometheus.yml: scrape every exporter and itself, probe each inference endpoint through the blackbox
    exporter (probes: (host, service, URL); blackbox: host:port as the stack reaches it), evaluate the rules,
    alert through alertmanager (host:port as the stack reaches it)."""
    jobs = [{"job_name": "prometheus", "static_configs": [{"targets": [f"localhost:{o.prometheus_port}"]}]}]
    jobs += [{"job_name": job, "static_configs": configs} for job, configs in targets(o, hosts).items() if configs]
    extra: dict[str, list[dict[str, Any]]] = {}
    for t in o.prometheus_extra_targets:
        if t.host not in hosts:
            raise ValueError(f"prometheus_extra_targets: host {t.host!r} is not in the inventory")
        extra.setdefault(t.job, []).append({"path": t.path, "targets": [f"{hosts[t.host][0]}:{t.port}"],
                                            "labels": {"host": t.host}})
    taken = {j["job_name"] for j in jobs}
    for job, configs in sorted(extra.items()):
        if job in taken or job == "probes" or len({c["path"] for c in configs}) > 1:
            raise ValueError(f"prometheus_extra_targets: job {job!r} is generated already or mixes paths")
        jobs.append({"job_name": job, "metrics_path": configs[0]["path"],
                     "static_configs": [{k: v for k, v in c.items() if k != "path"} for c in configs]})
    if blackbox and probes:
        jobs.append({"job_name": "probes", "metrics_path": "/probe", "params": {"module": [PROBE_MODULE]},
                     "static_configs": [{"targets": [url], "labels": {"host": host, "service": service}}
                                        for host, service, url in probes],
                     "relabel_configs": [
                         {"source_labels": ["__address__"], "target_label": "__param_target"},
                         {"source_labels": ["__param_target"], "target_label": "instance"},
                         {"target_label": "__address__", "replacement": blackbox}]})
    doc = {"global": {"scrape_interval": o.prometheus_scrape_interval,
                      "evaluation_interval": o.prometheus_scrape_interval},
           "rule_files": [RULES_FILE],
           "alerting": {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]},
           "scrape_configs": jobs}
    return _yaml(doc)


#: seed 001 Part 10's resource alerts: alert name -> (threshold field, PromQL of the value per GPU or filesystem)
MEASURES = {
    "VramCritical": ("vram_percent", "100 * nvidia_smi_memory_used_bytes / nvidia_smi_memory_total_bytes"),
    "GpuTempHigh": ("gpu_temp_c", "nvidia_smi_temperature_gpu"),
    "StorageFull": ("disk_percent", f"100 * (1 - node_filesystem_avail_bytes{{{REAL_FS}}} / "
                                    f"node_filesystem_size_bytes{{{REAL_FS}}})"),
}


def checks(o: MonitoringOptions, hosts: list[str]) -> list[dict[str, Any]]:
    """What the G6 workflow asks Prometheus each run: each measure against its threshold, and each inventory
    host's node exporter (a host with no samples is an alert too)."""
    t = o.monitoring_thresholds
    out = [{"alert": name, "metric": field, "expr": expr, "above": getattr(t, field)}
           for name, (field, expr) in MEASURES.items()]
    out.append({"alert": "ServiceDown", "metric": "service_up", "expr": 'probe_success{job="probes"}', "below": 1})
    # a host name reaches PromQL as a string literal (JSON's escaping is PromQL's)
    return out + [{"alert": "ExporterDown", "metric": "node_exporter_up", "below": 1, "host": h,
                   "expr": f'up{{job="node",host={json.dumps(h)}}}'} for h in sorted(hosts)]


def rules_yml(o: MonitoringOptions) -> str:
    """Seed 001 Part 10's critical alerts as Prometheus rules (agent failure rate waits for its metric)."""
    t, wait = o.monitoring_thresholds, o.monitoring_alert_for

    def over(name: str) -> str:
        field, expr = MEASURES[name]
        return f"{expr} > {getattr(t, field):g}"
    rules = [
        _rule("VramCritical", over("VramCritical"), wait,
              "VRAM on {{ $labels.host }} GPU {{ $labels.gpu }} at {{ $value | printf \"%.1f\" }}%",
              "Reduce context or switch model"),
        _rule("GpuTempHigh", over("GpuTempHigh"), wait, "GPU {{ $labels.gpu }} on {{ $labels.host }} at {{ $value }} C",
              "Check cooling, reduce power limit"),
        _rule("StorageFull", over("StorageFull"), wait,
              "{{ $labels.mountpoint }} on {{ $labels.host }} at {{ $value | printf \"%.1f\" }}%",
              "Cleanup or expand array"),
        _rule("TargetDown", "up == 0", wait, "{{ $labels.job }} exporter on {{ $labels.host }} is down",
              "Check the exporter's service"),
        _rule("ServiceDown", "probe_success == 0", wait, "{{ $labels.service }} on {{ $labels.host }} does not answer",
              "Check the service (the LB hides a dead Ollama instance from clients)"),
    ]
    return _yaml({"groups": [{"name": "hydra-seed-001-part-10", "rules": rules}]})


def blackbox_yml() -> str:
    """blackbox.yml: one module, an HTTP GET that must answer 2xx within 5 s."""
    return _yaml({"modules": {PROBE_MODULE: {"prober": "http", "timeout": "5s",
                                             "http": {"preferred_ip_protocol": "ip4"}}}})


def alertmanager_yml(o: MonitoringOptions) -> str:
    """alertmanager.yml: every alert to the Activity API's webhook (or nowhere when it has no address)."""
    receiver: dict[str, Any] = {"name": "activity-api"}
    if o.activity_api_url:
        receiver["webhook_configs"] = [{"url": o.activity_api_url, "send_resolved": True}]
    route = {"receiver": "activity-api", "group_by": ["alertname", "host"], "group_wait": "5s",
             "group_interval": "1m", "repeat_interval": "4h"}
    return _yaml({"route": route, "receivers": [receiver]})


def _rule(name: str, expr: str, wait: str, summary: str, action: str) -> dict[str, Any]:
    return {"alert": name, "expr": expr, "for": wait, "labels": {"severity": "critical"},
            "annotations": {"summary": summary, "action": action}}


def _yaml(doc: dict[str, Any]) -> str:
    return "# Managed by hydra-ops (seed 001 Part 10): generated from the inventory and group data.\n" + \
        yaml.safe_dump(doc, sort_keys=False, default_flow_style=False, width=1000)
