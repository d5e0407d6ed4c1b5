"""hydra-ai: RTX 5090 + RTX 4090, TabbyAPI (ExLlamaV2, tensor parallel) on :5000 (G10, G11).

The TabbyAPI bundle is tracked in its own issue; these are the values the audit and smoke suite already read.
"""

#: TabbyAPI port (seed 002). Default 5000.
tabby_port = 5000

#: Expected GPUs by nvidia-smi index, used by the audit to confirm the host is what the design says. Default 2.
expected_gpu_count = 2

#: Secret files for TabbyAPI (its api_tokens.yml is built from them). Default: api and admin key, owned by root.
secret_files = [
    {"secret": "tabby_api_key", "owner": "root", "group": "root"},
    {"secret": "tabby_admin_key", "owner": "root", "group": "root"},
]
