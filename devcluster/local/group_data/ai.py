"""Local-cluster overrides for hydra-ai: the TabbyAPI double and a scaled-down restart policy.

`hydra cluster up` appends the double's source URL/sha256, the local wheel mirror and the fake model's mirror
(tabby_models with every file's sha256). The models live where production keeps them (tabby_model_dir
/mnt/models/exl2 on the /mnt/models disk), and the prestart's mount check stays on: each flavour's hydra-ai has a
file system of its own at /mnt/models (cluster.yaml `disks`; the seeds flavour's from its fileSystems).
"""

#: The double needs only PyYAML (TabbyAPI's config parser); served from the local wheel mirror.
tabby_pip_packages = ["PyYAML==6.0.3"]

#: Seconds instead of minutes so the burst-limit test finishes: 3 starts within 60 s, 1 s apart.
tabby_restart_sec = 1
tabby_start_limit_burst = 3
tabby_start_limit_interval_sec = 60

#: The fake GPUs report their free memory from /etc/hydra-ops/fake-gpus.json; wait briefly.
tabby_min_free_vram_mib = 20000
tabby_vram_wait_sec = 3
