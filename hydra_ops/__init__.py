"""hydra-ops: pyinfra deploys, audit and smoke suite that close the Hydra cluster's design gaps."""

from pathlib import Path

#: The installed package: templates, deploy files and the smoke suite ship inside it (a wheel is self-contained).
PACKAGE = Path(__file__).resolve().parent
TEMPLATES = PACKAGE / "templates"
DEPLOYS = PACKAGE / "deploys"
#: The folder above the package: a checkout (with devcluster/, tests/ and the lab) when run from one.
PROJECT_ROOT = PACKAGE.parent


def deploy_file(name: str) -> str:
    """The packaged deploy file for `compute`, `compute.py` or `deploys/compute.py` (what pyinfra runs)."""
    path = DEPLOYS / f"{Path(name).stem}.py"
    if not path.is_file():
        raise FileNotFoundError(f"no deploy {name!r}: one of {', '.join(sorted(p.stem for p in DEPLOYS.glob('*.py')))}")
    return str(path)
