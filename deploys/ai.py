"""hydra-ai: G3 secret files (the TabbyAPI bundles G10/G11 follow in their issue).

Run from the project root: `pyinfra inventory.py deploys/ai.py`.
"""

from pyinfra import host

from hydra_ops.gaps.g03_secrets import secret_files
from hydra_ops.validation import validate_secrets

if "ai" in host.groups:
    validate_secrets(host.data.dict(), host.name)
    secret_files()
