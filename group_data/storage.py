"""hydra-storage: EPYC 7663 (56c/112t), 251 GB RAM; one docker compose stack with Redis (G4), LiteLLM (G5),
CrewAI (G7), LangGraph (G8), Postgres, Qdrant and n8n, each pinned to its cores (seed 001 Part 4).

Only what this cluster sets differently from the declarations lives here. Every option of the services on this
host, with its type, default (from the seeds), constraint and doc, is declared once in
hydra_ops/services/{stack,redis,litellm,agents}/options.py; `hydra settings` prints them. Set a value here (or in
another group_data directory, as the local cluster does) to override a default.
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
    # Uptime Kuma's admin password: kept on the host too, so a deploy after a rotation can log in with the value
    # still in use and change it (G9).
    {"secret": "uptime_kuma_password", "owner": "root", "group": "root"},
    # n8n's owner password, for the same reason (G6).
    {"secret": "n8n_owner_password", "owner": "root", "group": "root"},
]

#: Where the audit (seed 000 Part 2.5) found the storage stack's secrets in plaintext, for
#: `hydra secrets migrate --host hydra-storage`: {absolute path on the host: {key: secret name}}. A key is a dotted
#: YAML path, or a variable of a `.env` file. The values the services run with move into the store under the names
#: the deploys use; the files keep os.environ/NAME references (YAML) or a comment (.env) instead.
secret_plaintext_sources = {
    "/mnt/user/appdata/hydra-stack/litellm/router-config.yaml": {
        "router_settings.redis_password": "redis_password",
        "general_settings.master_key": "litellm_master_key",
        "general_settings.database_password": "postgres_password",
    },
    "/mnt/user/appdata/hydra-stack/.env": {
        "LITELLM_KEY": "litellm_master_key",
        "REDIS_PASSWORD": "redis_password",
        "POSTGRES_PASSWORD": "postgres_password",
    },
}

# hydra-storage runs Unraid (seed 001 core table): the stack is adopted where it already runs, and everything
# persistent lives under /mnt (Unraid's /etc, /opt and /root are in RAM; /boot is FAT).

#: The compose project already running there (seed 002), adopted in place.
stack_dir = "/mnt/user/appdata/hydra-stack"

#: Unraid's Docker has the Compose v2 plugin (no standalone docker-compose v1).
compose_command = ["docker", "compose"]

#: Secret files on persistent storage that keeps POSIX owner and mode (not /boot: FAT), 0700 root. If appdata is
#: exported over SMB/NFS, choose a path on a pool that is not (e.g. /mnt/cache/hydra-secrets).
secret_dir = "/mnt/user/appdata/hydra-secrets"

#: Where alerts go, from Alertmanager and from the G6 workflow: the operator's hydra-tools-api on this host
#: (seed 001 Part 10: `POST http://192.168.1.244:8700/activity`). Default None (alerts stay in Alertmanager).
activity_api_url = "http://192.168.1.244:8700/activity"
