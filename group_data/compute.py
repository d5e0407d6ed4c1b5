"""hydra-compute (2x RTX 5070 Ti): G1 one Ollama instance per GPU, G2 nginx least_conn LB on :11400.

Only what this cluster sets differently from the declarations lives here. Every option of the services on this
host, with its type, default (from the seeds), constraint and doc, is declared once in
hydra_ops/services/ollama/options.py and hydra_ops/services/lb/options.py; `hydra settings ollama lb` prints
them. Set a value here (or in another group_data directory, as the local cluster does) to override a default.
"""

#: GPUs nvidia-smi should list on this host; the G1 audit reports a host that shows another count.
expected_gpu_count = 2
