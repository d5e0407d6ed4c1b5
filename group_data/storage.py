"""hydra-storage: EPYC 7663, 251 GB RAM; docker stack with Redis, LiteLLM, Postgres, n8n, CrewAI, LangGraph.

The storage bundles (G3-G9) are tracked in their own issue; these are the values the audit already reads.
"""

#: LiteLLM gateway port (seed 001 Part 5). Default 4000.
litellm_port = 4000

#: Expected GPUs for AI work on this host: none (the Arc A380 is Plex's). Default 0.
expected_gpu_count = 0

#: Secret files for the storage stack (Redis, LiteLLM, Postgres read them from <secret_dir>).
#: Default: the three the audit found in plaintext, owned by root until their services take them over.
secret_files = [
    {"secret": "redis_password", "owner": "root", "group": "root"},
    {"secret": "litellm_master_key", "owner": "root", "group": "root"},
    {"secret": "postgres_password", "owner": "root", "group": "root"},
]
