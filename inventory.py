"""The real Hydra cluster (addresses from the seeds). Tunables live in group_data/.

Run as `pyinfra inventory.py deploys/compute.py`. SSH user and key come from the environment so that no operator's
path is committed: HYDRA_SSH_USER (default root), HYDRA_SSH_KEY (default: ssh-agent / ~/.ssh), HYDRA_SSH_PORT,
HYDRA_SSH_KNOWN_HOSTS (default ~/.ssh/known_hosts). `hydra audit` connects with exactly this data; `hydra verify`
and the leak checks use an ssh_config written from it (hydra_ops/targets.py: SshSpec).
Every module-level list here becomes a pyinfra group, so helpers start with an underscore.
"""

import os

_ssh = {
    "ssh_user": os.environ.get("HYDRA_SSH_USER", "root"),
    "ssh_port": int(os.environ.get("HYDRA_SSH_PORT", "22")),
    # Real hosts are checked against known_hosts; never trust on first use silently.
    "ssh_strict_host_key_checking": "yes",
}
if os.environ.get("HYDRA_SSH_KEY"):
    _ssh["ssh_key"] = os.environ["HYDRA_SSH_KEY"]
if os.environ.get("HYDRA_SSH_KNOWN_HOSTS"):
    _ssh["ssh_known_hosts_file"] = os.environ["HYDRA_SSH_KNOWN_HOSTS"]
# A login other than root works through passwordless sudo: every operation and fact (pyinfra's _sudo), the smoke
# suite (testinfra's sudo) and the leak checks (sudo -n) run as root on the host.
if _ssh["ssh_user"] != "root":
    _ssh["_sudo"] = True

ai = [("hydra-ai", {"ssh_hostname": "192.168.1.250", **_ssh})]
compute = [("hydra-compute", {"ssh_hostname": "192.168.1.203", **_ssh})]
storage = [("hydra-storage", {"ssh_hostname": "192.168.1.244", **_ssh})]

# The seeds' two other systems. Seed 003: the SOLLOL nodes (node 1 up to "30B+", node 2 up to 70B).
sollol = [("sollol-1", {"ssh_hostname": "10.9.66.154", **_ssh}), ("sollol-2", {"ssh_hostname": "10.9.66.250", **_ssh})]
# Seed 004: the DGX Spark hosts of the vLLM cluster (LAN addresses; Traefik runs on spark-1).
spark = [("spark-1", {"ssh_hostname": "192.168.1.76", **_ssh}), ("spark-2", {"ssh_hostname": "192.168.1.63", **_ssh})]
