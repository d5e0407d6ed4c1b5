"""hydra-ai: G3 secret files, G11 model fetch, G10 TabbyAPI (ExLlamaV2), then G11 loads the configured model.

Run from the project root: `pyinfra inventory.py deploys/ai.py`.
"""

from pyinfra import host

from hydra_ops.gaps.g03_secrets import secret_files
from hydra_ops.gaps.g10_tabbyapi import tabbyapi
from hydra_ops.gaps.g11_models import fetch_models, load_model
from hydra_ops.platform import preflight
from hydra_ops.validation import validate_secrets, validate_tabby_roles

if "ai" in host.groups:
    validate_secrets(host.data.dict(), host.name)  # all data checks before any fact or operation
    validate_tabby_roles(host.data.dict(), host.name)
    preflight("G3", "G11", "G10")
    secret_files()
    fetch_models()  # the prestart refuses to start TabbyAPI without its model
    tabbyapi()
    load_model()
