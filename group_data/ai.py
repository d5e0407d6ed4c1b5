"""hydra-ai: RTX 5090 + RTX 4090, TabbyAPI (ExLlamaV2, tensor parallel) on :5000 (G10, G11).

Only what this cluster sets differently from the declarations lives here. Every option of the services on this
host, with its type, default (from seed 002 and the audit), constraint and doc, is declared once in
hydra_ops/services/tabbyapi/options.py, hydra_ops/services/models/options.py and
hydra_ops/services/secrets/options.py; `hydra settings tabbyapi models secrets` prints them. Pin
tabby_source_sha256 and each file of tabby_models here before deploying: the deploy refuses anything unpinned.
"""

#: GPUs nvidia-smi should list on this host; the G10 audit reports a host that shows another count.
expected_gpu_count = 2

#: Secret files for TabbyAPI: api and admin key (its api_tokens.yml is built from the same secrets).
secret_files = [
    {"secret": "tabby_api_key", "owner": "root", "group": "root"},
    {"secret": "tabby_admin_key", "owner": "root", "group": "root"},
]
