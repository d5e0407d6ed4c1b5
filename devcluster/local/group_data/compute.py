"""Local-cluster overrides for hydra-compute: only what must differ from production (the Ollama double).

`hydra cluster up` copies this file to .cluster/group_data/compute.py and appends the artifact URL and sha256 of
the double's tarball it just built. Production defaults in group_data/compute.py stay untouched.
"""

#: Version label of the double's tarball (keeps it apart from a real release in the install root).
ollama_version = "0.8.0-double"

#: Per-token delay of the double, in ms: a stand-in for GPU decode time that benchmarks can reason about.
ollama_extra_env = {"OLLAMA_DOUBLE_TOKEN_DELAY_MS": "20"}

#: The integration tests and benchmarks read which instance served a request (production default: off).
lb_debug_headers = True
