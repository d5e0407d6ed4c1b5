"""hydra-compute: 2x RTX 5070 Ti. G1 (one Ollama per GPU) and G2 (nginx least_conn LB on :11400).

Every variable is documented with its default; defaults come from the seeds (000 Part 3, 001 Part 3).
Override per environment with another group_data directory (the local cluster does, see hydra_ops/local).
"""

#: GPUs nvidia-smi should list on this host; the G1 audit reports a host that shows another count (one Ollama
#: instance per GPU assumes it). Default 2 (2x RTX 5070 Ti).
expected_gpu_count = 2

# ---------------------------------------------------------------------------------------------------------------
# G1: Ollama install (the release tarball, unpacked per version; /usr/local/bin/ollama points at the active one)
# ---------------------------------------------------------------------------------------------------------------

#: Ollama version label; becomes part of the install directory. Default "0.8.0".
ollama_version = "0.8.0"

#: Release tarball URL (bin/ollama + lib/ollama inside, as upstream ships it). Default: upstream linux-amd64 asset.
ollama_release_url = "https://github.com/ollama/ollama/releases/download/v0.8.0/ollama-linux-amd64.tgz"

#: sha256 of that tarball, checked before anything is unpacked. Default: upstream's published sum for v0.8.0.
ollama_release_sha256 = "a0b6d2a8f172fd2c046287efdc1b249cd4ec7498dedd86eeefa2118b88fed985"

#: NixOS: nixpkgs attribute of the Ollama package the instances run (the release tarball above is Debian's path).
#: Default "ollama-cuda" (nixpkgs' CUDA build; the audit's services.ollama used acceleration = "cuda").
ollama_nix_package = "ollama-cuda"

#: NixOS: open the instance ports in networking.firewall (seed 000 §6.1 opens 11434 and 11435). Default True.
ollama_open_firewall = True

#: Where versions are unpacked (<root>/<version>-<sha256[:12]>). Default "/opt/ollama".
ollama_install_root = "/opt/ollama"

#: Dedicated system user (and group) the instances run as; never root. Default "ollama".
ollama_user = "ollama"

#: Model store shared by all instances (OLLAMA_MODELS). Default "/var/lib/ollama/models".
ollama_models_dir = "/var/lib/ollama/models"

# ---------------------------------------------------------------------------------------------------------------
# G1: instances, one per GPU. N entries give N units ollama@<port>.service. GPU indices are nvidia-smi's
# (CUDA_DEVICE_ORDER=PCI_BUS_ID is set so CUDA numbers GPUs the same way).
# ---------------------------------------------------------------------------------------------------------------

#: Instances: list of {"gpu": nvidia-smi index, "port": TCP port}. Default GPU 0 on 11434, GPU 1 on 11435 (seed 000).
ollama_instances = [
    {"gpu": 0, "port": 11434},
    {"gpu": 1, "port": 11435},
]

#: Address instances listen on. Default "0.0.0.0": the audit checklist curls :11434/:11435 from other hosts.
ollama_bind_address = "0.0.0.0"

#: OLLAMA_FLASH_ATTENTION. Default True (seed 000 Part 2.2: enabled in the design).
ollama_flash_attention = True

#: OLLAMA_KEEP_ALIVE: how long a model stays loaded after its last request. Default "30m".
ollama_keep_alive = "30m"

#: OLLAMA_NUM_PARALLEL: requests each instance serves at once per model. Default 4.
ollama_num_parallel = 4

#: OLLAMA_MAX_LOADED_MODELS per instance (16 GB cards hold one 7B comfortably). Default 2.
ollama_max_loaded_models = 2

#: Models pulled once into the shared store (seed 001 Part 5 model list). Default: the four fast-tier models.
ollama_models = ["qwen2.5:7b", "llama3.2:latest", "qwen2.5-coder:7b", "nomic-embed-text:latest"]

#: Extra environment for every instance, e.g. {"OLLAMA_DEBUG": "1"}. Default {} (nothing extra).
ollama_extra_env: dict[str, str] = {}

#: Seconds to wait for a freshly started instance to answer before pulling models. Default 120.
ollama_ready_timeout = 120

#: The audit's single instance; stopped and disabled so :11434 is never bound twice. Default "ollama.service".
ollama_legacy_unit = "ollama.service"

# ---------------------------------------------------------------------------------------------------------------
# G2: nginx load balancer in front of the instances
# ---------------------------------------------------------------------------------------------------------------

#: Port the LB listens on. Default 11400 (seed 000 Part 3, Gap 2).
lb_port = 11400

#: Address the LB listens on. Default "0.0.0.0".
lb_listen_address = "0.0.0.0"

#: NixOS: open lb_port in networking.firewall (seed 000 §6.1). Default True.
lb_open_firewall = True

#: Where the LB site is written (Debian nginx includes conf.d/*.conf). Default "/etc/nginx/conf.d/ollama-lb.conf".
lb_config_path = "/etc/nginx/conf.d/ollama-lb.conf"

#: Balancing method: "least_conn" (seed), "round_robin" or "ip_hash". Default "least_conn".
lb_method = "least_conn"

#: Idle keepalive connections kept open to the upstreams per worker. Default 32.
lb_keepalive = 32

#: Passive health check: failures within fail_timeout that mark an instance down. Default 2.
lb_max_fails = 2

#: Passive health check window and the time a failed instance is skipped. Default "10s".
lb_fail_timeout = "10s"

#: Connect timeout to an instance; short so a dead one fails over fast. Default "5s".
lb_proxy_connect_timeout = "5s"

#: Read timeout: must cover queueing + model load + first token (minutes). Default "600s".
lb_proxy_read_timeout = "600s"

#: Send timeout for large prompts. Default "600s".
lb_proxy_send_timeout = "600s"

#: Upstreams tried per request before giving up (failover). Default 2 (each instance once).
lb_next_upstream_tries = 2

#: Largest request body (prompts, images). Default "64m".
lb_client_max_body_size = "64m"

#: Host header sent to instances; loopback-bound Ollama answers 403 to foreign names. Default "127.0.0.1".
lb_upstream_host_header = "127.0.0.1"

#: Raw nginx directives appended inside the LB's location block, one per entry. Default [] (none).
lb_extra_directives: list[str] = []
