"""One configuration per host (issue 22, item 1): every service's options validated together, by the host's groups,
with one error listing the problems of all of them, and resolved once per run."""

from __future__ import annotations

import pytest
from pyinfra.api.inventory import Inventory

from hydra_ops import PROJECT_ROOT
from hydra_ops.config import host_config, resolve
from hydra_ops.targets import load_inventory
from hydra_ops.validation import ValidationError

PINNED = {"tabby_source_sha256": "a" * 64,
          "tabby_models": [{"repo": "o/m", "revision": "r", "dest": "d", "files": {"config.json": "b" * 64}}]}


@pytest.fixture
def inventory() -> Inventory:
    """The real inventory and group data (nothing is connected to)."""
    return load_inventory(PROJECT_ROOT / "inventory.py")[0]


def test_each_host_gets_the_parts_of_its_groups(inventory: Inventory) -> None:
    inventory.get_host("hydra-ai").data.override_datas.update(PINNED)  # the real inventory leaves the pins to fill in
    compute, ai, storage = (resolve(inventory.get_host(n)) for n in ("hydra-compute", "hydra-ai", "hydra-storage"))
    assert [i.port for i in compute.compute.ollama.instances] == [11434, 11435] and compute.compute.lb.lb_port == 11400
    assert compute.ai is None and compute.storage is None and compute.sollol is None
    assert ai.ai.serving.tabby_port == 5000 and ai.compute is None and ai.storage is None
    assert storage.storage.stack.named("litellm") and storage.storage.secret_dir == storage.secrets.secret_dir
    assert {c.monitoring.node_exporter_port for c in (compute, ai, storage)} == {9100}
    with pytest.raises(ValidationError, match="stack_services: this host is not in the group"):
        compute.need(compute.storage, "stack_services")


def test_an_unpinned_ai_host_is_refused_with_every_missing_pin(inventory: Inventory) -> None:
    with pytest.raises(ValidationError) as caught:
        resolve(inventory.get_host("hydra-ai"))
    assert "tabby_source_sha256:" in str(caught.value) and "tabby_models[0].files:" in str(caught.value)


def test_one_error_names_the_problems_of_every_service_on_the_host(inventory: Inventory) -> None:
    h = inventory.get_host("hydra-compute")
    h.data.override_datas.update(lb_method="fastest", node_exporter_port=0, nixos_config_dir="relative",
                                 secret_dir="/etc/$(id)")
    with pytest.raises(ValidationError) as caught:
        resolve(h)
    message = str(caught.value)
    for key in ("lb_method", "node_exporter_port", "nixos_config_dir", "secret_dir"):
        assert f"{key}:" in message, (key, message)


def test_resolved_once_per_run_and_again_for_a_new_run(inventory: Inventory) -> None:
    h = inventory.get_host("hydra-storage")
    first = host_config(h)
    assert host_config(h) is first
    again = load_inventory(PROJECT_ROOT / "inventory.py")[0].get_host("hydra-storage")
    assert host_config(again) is not first and host_config(again) == first
