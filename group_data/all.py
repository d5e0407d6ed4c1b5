"""Data shared by every Hydra host. Each variable: what it is, its default, why."""

#: Name of the cluster; selects secrets/<cluster>.sops.yaml and labels audit output. Default "hydra".
cluster_name = "hydra"

#: Directory on every host where hydra-ops keeps helper scripts it installs. Default "/usr/local/lib/hydra-ops".
hydra_lib_dir = "/usr/local/lib/hydra-ops"
