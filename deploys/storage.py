"""hydra-storage: G3 secret files (G4 Redis, G5 LiteLLM, G7/G8 compose services follow in their issue).

Run from the project root: `pyinfra inventory.py deploys/storage.py`.
"""

from pyinfra import host

from hydra_ops.gaps.g03_secrets import secret_files
from hydra_ops.validation import validate_secrets

if "storage" in host.groups:
    validate_secrets(host.data.dict(), host.name)
    secret_files()
