"""Local-cluster overrides for hydra-storage: the seeds' sizes scaled to this 2-core test machine, and images built
on the host (no registry is reachable).

`hydra cluster up` copies this file to .cluster/group_data/storage.py and appends stack_builds and
stack_base_images with this run's artifact URLs and sums. The production defaults (declared in
hydra_ops/services/*/options.py) stay untouched.
"""

#: Two cores, no room for a reserved OS pool.
host_reserved_cpuset = ""

#: Headroom on a 24 GiB test machine that also runs the other two hosts.
host_memory_headroom = "4g"

#: The services this issue covers, scaled down, plus the CPU fallback (the Ollama double: no weights here).
#: All share one pool: two cores cannot give five services their own.
stack_services = {
    "redis": {"image": "hydra-local/redis:7.0.15", "cpuset": "0", "mem_limit": "256m", "cpu_pool": "local",
              "read_only": True},
    "litellm": {"image": "hydra-local/litellm:1.106.2", "cpuset": "1", "mem_limit": "1536m", "cpu_pool": "local"},
    "crewai": {"image": "hydra-local/crewai:1.15.30", "cpuset": "0", "mem_limit": "1g", "cpu_pool": "local"},
    "langgraph": {"image": "hydra-local/langgraph:1.2.22", "cpuset": "1", "mem_limit": "512m",
                  "cpu_pool": "local"},
    "ollama-cpu": {"image": "hydra-local/ollama-cpu:0.8.0-double", "cpuset": "0-1", "mem_limit": "256m",
                   "cpu_pool": "local", "ports": ["11500:11434"]},
    "prometheus": {"image": "hydra-local/prometheus:2.42.0", "cpuset": "0-1", "mem_limit": "256m",
                   "cpu_pool": "local", "read_only": True},
    "alertmanager": {"image": "hydra-local/alertmanager:0.25.0", "cpuset": "0-1", "mem_limit": "128m",
                     "cpu_pool": "local", "read_only": True},
    "uptime-kuma": {"image": "hydra-local/uptime-kuma:1.23.16-double", "cpuset": "0-1", "mem_limit": "128m",
                    "cpu_pool": "local"},
    "blackbox": {"image": "hydra-local/blackbox:0.23.0", "cpuset": "0-1", "mem_limit": "64m", "cpu_pool": "local",
                 "read_only": True},
    # the real n8n (from npm); its CLI runs beside the server in the same container during a deploy
    "n8n": {"image": "hydra-local/n8n:1.72.1", "cpuset": "0-1", "mem_limit": "1g", "cpu_pool": "local",
            "user": "1000:1000"},
}

#: 100gb scaled to MB (DESIGN.md: "Redis maxmemory in MB").
redis_maxmemory = "64mb"

#: The local cluster shares its kernel with the machine running it: persist the sysctl, do not change the kernel.
apply_sysctls_live = False

#: Short enough that a dead backend fails a test quickly.
litellm_request_timeout = 60

#: The default flavour's hydra-storage is plain Debian: the Debian layout, not the Unraid one group_data sets.
stack_dir = "/opt/hydra-stack"
compose_command = ["docker-compose"]
secret_dir = "/etc/hydra/secrets"

#: No plaintext files to migrate on the Debian stand-in (the seeds flavour's Unraid host has the audit's).
secret_plaintext_sources = {}

#: Scrape and alert fast enough for a test to see an alert within seconds (production: 15s and 2m).
prometheus_scrape_interval = "2s"
monitoring_alert_for = "4s"
