"""Unit-test helpers: production group data for hydra-compute, loaded the way pyinfra loads it."""

from __future__ import annotations

from typing import Any

import pytest

from hydra_ops import PROJECT_ROOT
from hydra_ops.targets import load_inventory


@pytest.fixture
def compute_data() -> dict[str, Any]:
    """hydra-compute's data from the real inventory + group_data (no connection is made)."""
    inventory, _ = load_inventory(PROJECT_ROOT / "inventory.py")
    return dict(inventory.get_host("hydra-compute").data.dict())
