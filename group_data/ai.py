"""hydra-ai: RTX 5090 + RTX 4090, TabbyAPI (ExLlamaV2, tensor parallel) on :5000 (G10, G11).

Every variable is documented with its default; defaults come from seed 002 ("Stability Improvements",
"Configuration") and the audit (G10: keep ExLlamaV2 in production; G11: Llama 3.3 70B).
"""

#: GPUs nvidia-smi should list on this host; the G10 audit reports a host that shows another count. Default 2
#: (RTX 5090 + RTX 4090).
expected_gpu_count = 2

#: Secret files for TabbyAPI: api and admin key (its api_tokens.yml is built from the same secrets).
secret_files = [
    {"secret": "tabby_api_key", "owner": "root", "group": "root"},
    {"secret": "tabby_admin_key", "owner": "root", "group": "root"},
]

# ---------------------------------------------------------------------------------------------------------------
# G10: TabbyAPI install. Upstream main dropped the ExLlamaV2 backend on 2026-07-14; EXL2 needs the
# exl2-checkpoint branch (or an older commit). Pin the archive's sha256 after downloading it once yourself:
# the deploy refuses to run without it rather than install something unverified.
# ---------------------------------------------------------------------------------------------------------------

#: Label of the pinned source (a commit or the checkpoint branch); part of the install directory.
#: Default "exl2-checkpoint".
tabby_revision = "exl2-checkpoint"

#: Source archive of that revision. Default: GitHub's archive of the exl2-checkpoint branch.
tabby_source_url = "https://github.com/theroyallab/tabbyAPI/archive/refs/heads/exl2-checkpoint.tar.gz"

#: sha256 of the archive. Default "" (unset: the deploy stops and asks for it; nothing is guessed).
tabby_source_sha256 = ""

#: pip requirement specs installed into the venv; "." means the unpacked source itself, ".[x]" with its extra x.
#: Default [".[cu12]"]: the extra the ExLlamaV2-era TabbyAPI source defines for CUDA 12.8 (its extras are cu12,
#: amd, extras, dev). cu12 brings torch 2.8.0+cu128 and the matching exllamav2 0.3.2 (+cu128.torch2.8.0) wheels,
#: which the RTX 5090 needs (Blackwell: CUDA 12.8, seed 002). The deploy reads the unpacked pyproject.toml and
#: refuses an extra the source does not define before it builds the venv (pip itself would only warn).
tabby_pip_packages = [".[cu12]"]

#: Extra pip arguments (index URLs, --no-index/--find-links for an internal mirror). Default [] (PyPI).
tabby_pip_args: list[str] = []

#: NixOS: nixpkgs attributes the install and the prestart script need (python3 for the venv; curl, ss, ps,
#: mountpoint, bash), put on the system and on the unit's PATH. Default below.
tabby_nix_packages = ["python311", "curl", "iproute2", "procps", "util-linux", "bash"]

#: NixOS: open tabby_port (and the canary's) in networking.firewall. Default True.
tabby_open_firewall = True

#: Root of all TabbyAPI installs (<root>/<revision>-<sha256[:12]>, venv inside). Default "/opt/tabbyapi".
tabby_install_root = "/opt/tabbyapi"

#: Dedicated service user. Default "tabby" (the seed ran it as the operator's login user "typhon").
tabby_user = "tabby"

# ---------------------------------------------------------------------------------------------------------------
# G10: service (seed 002 "Stability Improvements")
# ---------------------------------------------------------------------------------------------------------------

#: Address and port TabbyAPI listens on. Defaults "0.0.0.0" and 5000.
tabby_host = "0.0.0.0"
tabby_port = 5000

#: GPUs the service may use (CUDA_VISIBLE_DEVICES, nvidia-smi order via PCI_BUS_ID). Default [0, 1] (5090, 4090).
tabby_gpus = [0, 1]

#: PYTORCH_CUDA_ALLOC_CONF. Default "expandable_segments:True".
tabby_pytorch_alloc_conf = "expandable_segments:True"

#: systemd restart policy: Restart=on-failure every RestartSec, at most StartLimitBurst starts per
#: StartLimitIntervalSec, so a VRAM failure does not loop forever. Defaults 30, 5, 300 (seed 002).
tabby_restart_sec = 30
tabby_start_limit_burst = 5
tabby_start_limit_interval_sec = 300

#: TimeoutStartSec: model loading time allowed. Default 300.
tabby_timeout_start_sec = 300

#: Prestart: free VRAM (MiB) each GPU in tabby_gpus must have, and how long to wait for it (s).
#: Defaults: 20000 MiB per GPU (a 70B 4.0bpw model needs ~45 GB over both), wait 60 s.
tabby_min_free_vram_mib = 20000
tabby_vram_wait_sec = 60

#: Prestart: require tabby_model_dir to be a mount point (seed: mnt-models.mount). Default True.
tabby_require_mount = True

# ---------------------------------------------------------------------------------------------------------------
# G10: config.yml (seed 002 "Configuration")
# ---------------------------------------------------------------------------------------------------------------

#: Directory of EXL2 models. Default "/mnt/models/exl2".
tabby_model_dir = "/mnt/models/exl2"

#: Model loaded at start-up (G11: Llama 3.3 70B). Default "Llama-3.3-70B-Instruct-exl2-4.0bpw".
tabby_model_name = "Llama-3.3-70B-Instruct-exl2-4.0bpw"

#: Backend. Default "exllamav2" (G10: V3 stays a canary).
tabby_backend = "exllamav2"

#: Tensor parallelism over the heterogeneous pair. Default True.
tabby_tensor_parallel = True

#: Automatic split (True) or the manual tabby_gpu_split in GB per GPU. Defaults True and [] (seed: [32, 24]).
tabby_gpu_split_auto = True
tabby_gpu_split: list[float] = []

#: VRAM (MB) kept free per GPU by autosplit. Default [96].
tabby_autosplit_reserve = [96]

#: Context length and KV cache precision. Defaults 32768 and "FP16" (seed 002).
tabby_max_seq_len = 32768
tabby_cache_mode = "FP16"

#: Draft model for speculative decoding, or "" for none. Default "" (seed 002: no VRAM left for a draft at 70B).
tabby_draft_model_name = ""

# ---------------------------------------------------------------------------------------------------------------
# G11: models. Fetched file by file from a Hugging Face style mirror (<base>/<repo>/resolve/<revision>/<file>),
# each file checked against the sha256 pinned here, resumable, moved into tabby_model_dir only when complete.
# ---------------------------------------------------------------------------------------------------------------

#: Base URL of the model mirror. Default "https://huggingface.co".
model_base_url = "https://huggingface.co"

#: Staging directory for incomplete downloads; must be on the same filesystem as tabby_model_dir so the finished
#: model moves into place atomically. Default "/mnt/models/.incoming".
model_download_dir = "/mnt/models/.incoming"

#: Models to fetch: {"repo", "revision", "dest" (directory name under tabby_model_dir), "files": {name: sha256}}.
#: Default: Llama 3.3 70B EXL2 4.0bpw (G11) with no files pinned yet: list each file with its sha256 (the
#: mirror's LFS object ids) before deploying; an empty list is refused rather than downloaded unchecked.
tabby_models = [
    {"repo": "turboderp/Llama-3.3-70B-Instruct-exl2", "revision": "4.0bpw",
     "dest": "Llama-3.3-70B-Instruct-exl2-4.0bpw", "files": {}},
]

# ---------------------------------------------------------------------------------------------------------------
# G10: ExLlamaV3 side by side (seed 002 "ExLlamaV3 Migration Guide"), promoted or rolled back with
# `hydra tabby promote` / `hydra tabby rollback`, which set tabby_serving and deploy.
# ---------------------------------------------------------------------------------------------------------------

#: Which install serves on tabby_port: "stable" (the settings above) or "canary" (with tabby_canary applied).
#: Default "stable".
tabby_serving = "stable"

#: The canary: overrides of the settings above, without the "tabby_" prefix (revision, source_url,
#: source_sha256, pip_packages, pip_args, port, backend, model_dir, model_name, cache_mode, gpu_split,
#: gpu_split_auto, autosplit_reserve, max_seq_len, draft_model_name); it runs as tabbyapi-canary.service on its
#: own port with its own venv and config. Default {} (no canary; both 70B models do not fit in 56 GB at once).
#: Seed 002's V3 test setup would be:
#:   {"revision": "<main commit>", "source_url": "...", "source_sha256": "...", "backend": "exllamav3",
#:    "pip_packages": [".[cu128]", "exllamav3==1.6.5"], "port": 5001, "model_dir": "/mnt/models/exl3",
#:    "model_name": "Llama-3.3-70B-Instruct-exl3-4.0bpw", "gpu_split_auto": False, "gpu_split": [28, 24],
#:    "cache_mode": "Q4"}
tabby_canary: dict = {}

#: Where the outgoing config.yml and unit are copied before a promote or rollback switches installs.
#: Default "/var/backups/hydra-ops/tabbyapi".
tabby_backup_dir = "/var/backups/hydra-ops/tabbyapi"
