"""hydra-ops: pyinfra deploys, audit and smoke suite that close the Hydra cluster's design gaps."""

from pathlib import Path

#: The project checkout: deploys, templates and group_data are read from here.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = PROJECT_ROOT / "templates"
