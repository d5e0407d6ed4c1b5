"""Local-cluster overrides for the spark hosts: the vLLM double's image (built on the host from the local base
image: no GPU or model weights here), no GPU request, and the seed's sizes scaled to this 2-core machine.

`hydra cluster up --flavour systems` copies this file to .cluster-systems/group_data/spark.py and appends
spark_builds, spark_base_images and traefik_pip_args with this run's artifact URLs and sums.
"""

#: The double under a local tag (devcluster/local/stack_images.py VLLM_DOUBLE_TAG).
spark_vllm_image = "hydra-local/vllm-double:0.33.0"

#: Docker here has no NVIDIA runtime.
spark_gpu_runtime = False

#: The seed's three services and fractions; two shared cores, small memory caps, the double's latency per
#: request (seed 004: embeddings about 10 ms) and slots. Two embedding slots cap a host at ~200 req/s, below what
#: this 2-core machine can send, so benchmarks/spark_embeddings.py measures the hosts, not the client.
spark_services = {
    "embeddings": {"model": "answerdotai/ModernBERT-base", "port": 8001, "gpu_memory_utilization": 0.10,
                   "runner": "pooling", "cpuset": "0-1", "mem_limit": "128m", "max_num_seqs": 2,
                   "extra_args": ["--latency-ms", "10"]},
    "ocr": {"model": "tencent/HunyuanOCR", "port": 8003, "gpu_memory_utilization": 0.40, "runner": "generate",
            "cpuset": "0-1", "mem_limit": "128m", "extra_args": ["--latency-ms", "280"]},
    "inference": {"model": "openai/gpt-oss-20b", "port": 8004, "gpu_memory_utilization": 0.45,
                  "runner": "generate", "cpuset": "0-1", "mem_limit": "128m", "extra_args": ["--latency-ms", "50"]},
}

#: Health checks every second, so the fault test sees Traefik route around a stopped service quickly.
traefik_health_interval = "1s"
traefik_health_timeout = "1s"
