"""hydra-storage: EPYC 7663 (56c/112t), 251 GB RAM; one docker compose stack with Redis (G4), LiteLLM (G5),
CrewAI (G7), LangGraph (G8), Postgres, Qdrant and n8n, each pinned to its cores (seed 001 Part 4).

Every variable: what it is, its default, why. Sizes are docker/Redis size strings ("512m", "32g", "100gb").
"""

#: Expected GPUs for AI work on this host: none (the Arc A380 is Plex's). Default 0.
expected_gpu_count = 0

#: Secret files for the storage stack, read by its containers from <secret_dir> (mounted read-only).
#: Default: the three the audit found in plaintext, plus the TabbyAPI key LiteLLM calls hydra-ai with; root-owned
#: (LiteLLM's entrypoint runs as root; Postgres' entrypoint reads its file before dropping privileges).
secret_files = [
    {"secret": "redis_password", "owner": "root", "group": "root"},
    {"secret": "litellm_master_key", "owner": "root", "group": "root"},
    {"secret": "postgres_password", "owner": "root", "group": "root"},
    {"secret": "tabby_api_key", "owner": "root", "group": "root"},
]

# ---------------------------------------------------------------------------------------------------------------
# Docker engine and the compose project (G7/G8 and the stack every storage bundle runs in)
# ---------------------------------------------------------------------------------------------------------------

#: Debian packages for the engine and compose, plus curl for readiness checks. Default ["docker.io",
#: "docker-compose", "curl"] (bookworm ships compose v1 1.29; v1 and v2 read the same compose file).
docker_packages = ["docker.io", "docker-compose", "curl"]

#: The compose command, as a list. Default ["docker-compose"]; ["docker", "compose"] where the v2 plugin is installed.
compose_command = ["docker-compose"]

#: Directory of the compose project (the seeds' /mnt/user/appdata/hydra-stack). Default "/opt/hydra-stack".
stack_dir = "/opt/hydra-stack"

#: Compose project name: container names and labels derive from it. Default "hydra-stack".
compose_project = "hydra-stack"

#: CPUs kept for the OS, interrupts and the docker daemon; no service may be pinned there.
#: Default "0-7" (seed 001 Part 4: cores 0-3 OS, 4-7 docker).
host_reserved_cpuset = "0-7"

#: Memory kept for the host on top of every container's mem_limit (page cache, docker, Unraid).
#: Default "24g" (seed 001 Part 3 keeps ~20 GB "buffer: system overhead").
host_memory_headroom = "24g"

#: The stack's services: name -> {"image": pinned tag, "cpuset": cores, "mem_limit": size, "cpu_pool": name,
#: "ports": ["host:container", ...]}. Services with the same cpu_pool may share cores (Redis + Qdrant, seed 001
#: Part 4); any other overlap is refused. Redis and LiteLLM publish redis_port/litellm_port themselves. A service
#: missing here is not deployed (and removed if it ran). Default: the core allocation table of seed 001 Part 4,
#: LiteLLM and the CPU fallback in the burst pool (44-55), images pinned to release tags.
stack_services = {
    "postgres": {"image": "postgres:16.4-bookworm", "cpuset": "8-11", "mem_limit": "32g", "ports": ["5432:5432"]},
    "redis": {"image": "redis:7.2.5-bookworm", "cpuset": "12-15", "mem_limit": "110g", "cpu_pool": "cache"},
    "qdrant": {"image": "qdrant/qdrant:v1.12.4", "cpuset": "12-15", "mem_limit": "16g", "cpu_pool": "cache",
               "ports": ["6333:6333"]},
    "n8n": {"image": "n8nio/n8n:1.72.1", "cpuset": "20-27", "mem_limit": "8g", "ports": ["5678:5678"]},
    "crewai": {"image": "hydra/crewai:1.15.30", "cpuset": "28-35", "mem_limit": "16g"},
    "langgraph": {"image": "hydra/langgraph:1.2.22", "cpuset": "36-43", "mem_limit": "16g"},
    "litellm": {"image": "ghcr.io/berriai/litellm:main-v1.106.2", "cpuset": "44-47", "mem_limit": "8g"},
    "ollama-cpu": {"image": "ollama/ollama:0.8.0", "cpuset": "48-55", "mem_limit": "16g", "ports": ["11500:11434"]},
}

#: Images built on the host instead of pulled: tag -> {"template": Dockerfile template under templates/images/,
#: "vars": values it renders with}. Built when missing or when the rendered Dockerfile changed. Default: the two
#: agent runtimes (CrewAI and LangGraph publish no server image).
stack_builds = {
    "hydra/crewai:1.15.30": {"template": "python-venv.Dockerfile.j2",
                             "vars": {"base": "python:3.11-slim-bookworm", "apt_packages": [],
                                      "packages": ["crewai==1.15.30"], "pip_args": []}},
    "hydra/langgraph:1.2.22": {"template": "python-venv.Dockerfile.j2",
                               "vars": {"base": "python:3.11-slim-bookworm", "apt_packages": [],
                                        "packages": ["langgraph==1.2.22"], "pip_args": []}},
}

#: Root filesystem tarballs imported as base images (`docker import`) for air-gapped builds:
#: a list of {"tag", "url", "sha256"}. Default [] (bases come from the registry).
stack_base_images: list[dict[str, str]] = []

#: Apply sysctls to the running kernel as well as persisting them in /etc/sysctl.d. Default True. (A container
#: host that shares its kernel with the machine running it, like the local cluster, sets False.)
apply_sysctls_live = True

# ---------------------------------------------------------------------------------------------------------------
# G4: Redis as the KV/response cache tier (seed 001 Part 3, Option 2)
# ---------------------------------------------------------------------------------------------------------------

#: Redis port, published on the host. Default 6379.
redis_port = 6379

#: Memory Redis may use before it evicts. Default "100gb" (seed 001 Part 3). Must stay below the redis
#: service's mem_limit and below the host's RAM minus host_memory_headroom.
redis_maxmemory = "100gb"

#: What Redis evicts at maxmemory. Default "allkeys-lru": a cache, so any key may go.
redis_maxmemory_policy = "allkeys-lru"

#: Append-only file persistence, so a restart keeps the cache warm. Default True ("appendonly yes").
redis_appendonly = True

#: AOF fsync policy. Default "everysec" (at most a second lost; "always" costs throughput).
redis_appendfsync = "everysec"

#: uid:gid the Redis server runs as inside its image; owns its 0600 password include. Default "999:999"
#: (the official image's redis user).
redis_uid = "999:999"

# ---------------------------------------------------------------------------------------------------------------
# G5: LiteLLM gateway (seed 001 Part 5)
# ---------------------------------------------------------------------------------------------------------------

#: LiteLLM gateway port. Default 4000.
litellm_port = 4000

#: Model list: public model name -> {"backend": one of litellm_backends, "model": provider/model id, plus
#: optional "max_tokens", "description", "mode" ("embedding")}. api_base is derived from the backend so the
#: inventory, not this list, decides addresses. Default: seed 001 Part 5.
litellm_models = {
    "gpt-4": {"backend": "tabbyapi", "model": "openai/default", "max_tokens": 32768,
              "description": "70B model on RTX 5090+4090 tensor parallel"},
    "llama-70b": {"backend": "tabbyapi", "model": "openai/default"},
    "gpt-3.5-turbo": {"backend": "ollama_lb", "model": "ollama/qwen2.5:7b",
                      "description": "7B model, load balanced across 2x RTX 5070 Ti"},
    "llama-7b": {"backend": "ollama_lb", "model": "ollama/llama3.2:latest"},
    "codellama": {"backend": "ollama_gpu0", "model": "ollama/qwen2.5-coder:7b"},
    "text-embedding-ada-002": {"backend": "ollama_gpu1", "model": "ollama/nomic-embed-text", "mode": "embedding"},
    "cpu-fallback": {"backend": "ollama_cpu", "model": "ollama/qwen2.5:7b",
                     "description": "CPU inference on the EPYC burst pool (seed 001 Part 4)"},
}

#: Where each backend lives: name -> {"host": inventory host, "port": port, "path": URL path, optional
#: "api_key_secret": secret sent as its API key}. Addresses come from the inventory. Default: TabbyAPI on
#: hydra-ai:5000/v1 (with tabby_api_key), the nginx LB on hydra-compute:11400, the two GPU instances on :11434
#: (GPU 0) and :11435 (GPU 1), the CPU fallback on hydra-storage:11500.
litellm_backends = {
    "tabbyapi": {"host": "hydra-ai", "port": 5000, "path": "/v1", "api_key_secret": "tabby_api_key"},
    "ollama_lb": {"host": "hydra-compute", "port": 11400, "path": ""},
    "ollama_gpu0": {"host": "hydra-compute", "port": 11434, "path": ""},
    "ollama_gpu1": {"host": "hydra-compute", "port": 11435, "path": ""},
    "ollama_cpu": {"host": "hydra-storage", "port": 11500, "path": ""},
}

#: Fallback chains: model -> models tried in order when it fails. Default: 70B falls back to the LB'd 7B, the
#: 7B models to the CPU fallback.
litellm_fallbacks = {"gpt-4": ["gpt-3.5-turbo"], "llama-70b": ["gpt-3.5-turbo"],
                     "gpt-3.5-turbo": ["cpu-fallback"], "llama-7b": ["cpu-fallback"]}

#: Retries on the same model before falling back. Default 2.
litellm_num_retries = 2

#: Seconds before a backend call is abandoned (70B first tokens take a while). Default 600.
litellm_request_timeout = 600

#: Router strategy. Default "simple-shuffle" (seed 001's "usage-based-routing" needs per-deployment TPM limits
#: that the model list does not have; the nginx LB already balances the 7B pair).
litellm_routing_strategy = "simple-shuffle"

#: Drop OpenAI parameters a backend does not take (the openai client asks Ollama embeddings for base64) instead
#: of failing the call. Default True.
litellm_drop_params = True

#: Cache responses in Redis (the audit found caching off). Default True.
litellm_cache = True

#: Seconds a cached response lives. Default 3600.
litellm_cache_ttl = 3600

#: Models the CPU fallback (the stack's ollama-cpu service) must have; pulled when missing.
#: Default ["qwen2.5:7b"] (what the cpu-fallback model serves).
ollama_cpu_models = ["qwen2.5:7b"]
