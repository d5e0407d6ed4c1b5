"""Local-cluster overrides for the SOLLOL nodes: only what must differ from production (the Ollama double).

`hydra cluster up --flavour systems` copies this file to .cluster-systems/group_data/sollol.py and appends the
artifact URLs (the double's tarball, the wheel mirror for the gateway's venv).
"""

#: Version label of the double's tarball (keeps it apart from a real release in the install root).
ollama_version = "0.8.0-double"

#: Per-token delay of the double, in ms: a stand-in for GPU decode time the benchmarks can reason about.
ollama_extra_env = {"OLLAMA_DOUBLE_TOKEN_DELAY_MS": "20"}

#: A stopped node leaves the rotation within 2 s (the fault test measures it).
sollol_health_interval = 2
