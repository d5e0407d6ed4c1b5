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
]
