"""The SOLLOL cluster (seed 003): two Ollama nodes of different capacity behind the SOLLOL gateway.

Only what this cluster sets differently from the declarations lives here. Every option, with its type, default
(from seed 003), constraint and doc, is declared once in hydra_ops/services/sollol/options.py (the gateway, the
nodes' capacities, the model tiers and their placement, which of the seed's knobs SOLLOL really reads) and in
hydra_ops/services/ollama/options.py and lb/options.py (each node's Ollama); `hydra settings sollol ollama lb`
prints them.
"""

#: One GPU per node (node 1: "30B+", node 2: 70B).
expected_gpu_count = 1

#: One Ollama instance per node, on GPU 0 and Ollama's own port, which is what SOLLOL's nodes list names.
ollama_instances = [{"gpu": 0, "port": 11434}]

#: Nothing pulled by the Ollama service itself: each node gets the models sollol_model_tiers places on it.
ollama_models: list[str] = []
