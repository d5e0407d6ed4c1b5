"""hydra-ai: G3 secret files, then G10 TabbyAPI (ExLlamaV2) with its prestart checks and restart limits.

Run from the project root: `pyinfra inventory.py deploys/ai.py`.
"""

from pyinfra import host

from hydra_ops.gaps.g03_secrets import secret_files
from hydra_ops.gaps.g10_tabbyapi import tabbyapi
from hydra_ops.validation import validate_ai, validate_secrets

if "ai" in host.groups:
    validate_secrets(host.data.dict(), host.name)  # all data checks before any fact or operation
    validate_ai(host.data.dict(), host.name)
    secret_files()
    tabbyapi()
