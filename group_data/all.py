"""Data shared by every Hydra host. Each variable: what it is, its default, why."""

#: Name of the cluster; selects secrets/<cluster>.sops.yaml and labels audit output. Default "hydra".
cluster_name = "hydra"

#: Directory on every host where hydra-ops keeps helper scripts it installs. Default "/usr/local/lib/hydra-ops".
hydra_lib_dir = "/usr/local/lib/hydra-ops"

# ---------------------------------------------------------------------------------------------------------------
# G3: secrets (sops + age). Decrypted in memory at deploy time only; see hydra_ops/secrets.py.
# ---------------------------------------------------------------------------------------------------------------

#: The cluster's sops-encrypted secrets file, relative to the project root. Default "secrets/hydra.sops.yaml".
secrets_file = "secrets/hydra.sops.yaml"

#: sops creation rules: encrypt every value under secrets/, match nothing else (fail closed). Default ".sops.yaml".
sops_config = ".sops.yaml"

#: age private key that opens the file, kept outside the repository; SOPS_AGE_KEY_FILE overrides it.
#: Default "~/.config/hydra-ops/age/hydra.key".
age_key_file = "~/.config/hydra-ops/age/hydra.key"

#: Every secret the cluster uses; `hydra secrets init` generates missing ones, `rotate` replaces them.
#: Default: the three the audit found in plaintext (seed 000 Part 2.5) and TabbyAPI's two keys (seed 002).
secret_names = ["redis_password", "litellm_master_key", "postgres_password", "tabby_api_key", "tabby_admin_key"]

#: Directory on hosts that holds secret files (0700, root). Default "/etc/hydra/secrets".
secret_dir = "/etc/hydra/secrets"

#: Secrets this host receives as files <secret_dir>/<secret>, mode 0600: a list of
#: {"secret": name, "owner": user, "group": group}. Default [] (none).
secret_files: list[dict[str, str]] = []
