"""hydra-ai: G3 secret files, G11 model fetch, G10 TabbyAPI (ExLlamaV2), then G11 loads the configured model.

Run: `hydra deploy ai` (from a checkout also `pyinfra inventory.py deploys/ai.py`).
"""

from pyinfra import host

from hydra_ops.config import host_config
from hydra_ops.platform import preflight
from hydra_ops.services.models import serve
from hydra_ops.services.secrets import secret_files

if "ai" in host.groups:
    host_config()  # every option of the host checked, once, before any fact or operation
    preflight("G3", "G11", "G10")
    secret_files()
    serve()  # models, TabbyAPI, the model loaded
