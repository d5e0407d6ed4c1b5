"""Seeds-flavour overrides for hydra-storage, the Unraid-shaped host running the audit's "before" project (seed 002:
litellm, ollama, redis, postgres and an unmanaged letta service in /mnt/user/appdata/hydra-stack).

The Unraid layout (stack_dir, compose_command, secret_dir, secret_plaintext_sources) comes from the real
group_data/storage.py unchanged; only what a 2-core test machine and locally built images need is set here.
`hydra cluster up` copies this file to .cluster-seeds/group_data/storage.py and appends this run's artifact URLs.
"""

#: Two cores, no room for a reserved OS pool.
host_reserved_cpuset = ""

#: Headroom on a 24 GiB test machine that also runs the other two hosts.
host_memory_headroom = "4g"

#: The services of the adopted project that hydra-ops manages, under the names the project already uses (the CPU
#: Ollama is service `ollama`, as in seed 002), plus the agent runtimes of G7/G8 and the monitoring of G6/G9.
#: Service `letta` is not listed: it stays as the project defines it. Images are the ones the before state runs
#: (built locally: no registry), and the monitoring images the default flavour builds.
stack_services = {
    "redis": {"image": "hydra-local/redis:7.0.15", "cpuset": "0", "mem_limit": "256m", "cpu_pool": "local",
              "read_only": True},
    "postgres": {"image": "hydra-local/postgres:15-bookworm", "cpuset": "0-1", "mem_limit": "512m",
                 "cpu_pool": "local", "cap_add": ["CHOWN", "DAC_OVERRIDE", "FOWNER", "SETGID", "SETUID"]},
    "litellm": {"image": "hydra-local/litellm:1.106.2", "cpuset": "1", "mem_limit": "1536m", "cpu_pool": "local"},
    "crewai": {"image": "hydra-local/crewai:1.15.30", "cpuset": "0", "mem_limit": "1g", "cpu_pool": "local"},
    "langgraph": {"image": "hydra-local/langgraph:1.2.22", "cpuset": "1", "mem_limit": "512m",
                  "cpu_pool": "local"},
    "ollama": {"image": "hydra-local/ollama-cpu:0.8.0-double", "cpuset": "0-1", "mem_limit": "256m",
               "cpu_pool": "local", "role": "ollama-cpu", "ports": ["11434:11434"]},
    # Unraid's node exporter runs in the stack (deploys/monitoring.py installs nothing on Unraid)
    "node-exporter": {"image": "hydra-local/node-exporter:1.5.0", "cpuset": "0-1", "mem_limit": "64m",
                      "cpu_pool": "local", "read_only": True},
    # seed 001 Part 10 (G6 metrics and workflow, G9), as in the default flavour's stack but smaller
    "prometheus": {"image": "hydra-local/prometheus:2.42.0", "cpuset": "0-1", "mem_limit": "256m",
                   "cpu_pool": "local", "read_only": True},
    "alertmanager": {"image": "hydra-local/alertmanager:0.25.0", "cpuset": "0-1", "mem_limit": "64m",
                     "cpu_pool": "local", "read_only": True},
    "blackbox": {"image": "hydra-local/blackbox:0.23.0", "cpuset": "0-1", "mem_limit": "64m", "cpu_pool": "local",
                 "read_only": True},
    "uptime-kuma": {"image": "hydra-local/uptime-kuma:1.23.16-double", "cpuset": "0-1", "mem_limit": "128m",
                    "cpu_pool": "local"},
    # the real n8n (from npm); its CLI runs beside the server in the same container during a deploy
    "n8n": {"image": "hydra-local/n8n:1.72.1", "cpuset": "0-1", "mem_limit": "768m", "cpu_pool": "local",
            "user": "1000:1000"},
}

#: 100gb scaled to MB.
redis_maxmemory = "64mb"

#: The local cluster shares its kernel with the machine running it: persist the sysctl (in /boot/config/go), do not
#: change the kernel.
apply_sysctls_live = False

#: Short enough that a dead backend fails a test quickly.
litellm_request_timeout = 60

#: The CPU fallback is the project's `ollama` service (seed 002), reached by its name on the stack's network: its
#: port :11434 is published on the host's loopback only (its API pulls and deletes models for anyone).
litellm_backends = {
    "tabbyapi": {"host": "hydra-ai", "port": 5000, "path": "/v1", "api_key_secret": "tabby_api_key"},
    "ollama_lb": {"host": "hydra-compute", "port": 11400, "path": "", "api_key_secret": None},
    "ollama_gpu0": {"host": "hydra-compute", "port": 11434, "path": "", "api_key_secret": None},
    "ollama_gpu1": {"host": "hydra-compute", "port": 11435, "path": "", "api_key_secret": None},
    "ollama_cpu": {"host": "ollama", "port": 11434, "path": "", "api_key_secret": None},
}

#: Scrape and alert fast enough for a test to see an alert within seconds (production: 15s and 2m).
prometheus_scrape_interval = "2s"
monitoring_alert_for = "4s"
