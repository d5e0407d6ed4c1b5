"""Data shared by every Hydra host.

Only what this cluster sets differently from the declarations lives here; the secrets settings (secrets_file,
sops_config, age_key_file, secret_names, secret_dir, secret_files) are declared in
hydra_ops/services/secrets/options.py and hydra_lib_dir in hydra_ops/platform.py; `hydra settings` prints them.
"""

#: Name of the cluster; labels audit output.
cluster_name = "hydra"
