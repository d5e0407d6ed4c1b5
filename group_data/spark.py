"""The vLLM cluster (seed 004): two DGX Spark hosts, each running the compose stack (ModernBERT embeddings :8001,
HunyuanOCR :8003, GPT-OSS-20B :8004 sharing GPU 0), and Traefik on spark-1 :8000 balancing the embeddings.

Only what this cluster sets differently from the declarations lives here. Every option, with its type, default
(from seed 004), constraint and doc, is declared once in hydra_ops/services/spark/options.py; `hydra settings
spark` prints them. The GPU memory fractions of the services on one GPU may add up to 0.95 at most.
"""

#: One GB10 per host.
expected_gpu_count = 1
