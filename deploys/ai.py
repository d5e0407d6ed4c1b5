"""hydra-ai: G3 secret files, G11 model fetch, G10 TabbyAPI (ExLlamaV2), then G11 loads the configured model.

Run from the project root: `pyinfra inventory.py deploys/ai.py`.
"""

from pyinfra import host

from hydra_ops.platform import preflight
from hydra_ops.services import ai
from hydra_ops.services.models import fetch_models, load_model
from hydra_ops.services.secrets import secret_files
from hydra_ops.services.tabbyapi import tabbyapi

if "ai" in host.groups:
    ai(host.data.dict(), host.name)  # all data checks before any fact or operation
    preflight("G3", "G11", "G10")
    secret_files()
    fetch_models()  # the prestart refuses to start TabbyAPI without its model
    tabbyapi()
    load_model()
