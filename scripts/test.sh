#!/usr/bin/env bash
# The whole test suite: lint, unit tests, integration tests and the smoke suite on the default local cluster
# (Debian hosts), then the NixOS tests and the compute/ai smoke suite on the seeds flavour (NixOS-shaped hosts),
# then the seeds' two other systems (SOLLOL, vLLM + Traefik) on the systems flavour (four more hosts).
# Each cluster is brought up if needed and taken down again afterwards if it was not running before.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export PATH="$PWD/.venv/bin:$PATH"

running() { [ -f "$1/state.json" ] && hydra cluster status 2>/dev/null | grep -q " running "; }
was_up=0; running .cluster && was_up=1
seeds_up=0; HYDRA_CLUSTER_FLAVOUR=seeds running .cluster-seeds && seeds_up=1
systems_up=0; HYDRA_CLUSTER_FLAVOUR=systems running .cluster-systems && systems_up=1

ruff check .
rc=0
python -m pytest -p no:cacheprovider tests/unit tests/integration tests/smoke || rc=$?
hydra secrets check || rc=1   # no tracked file holds a value of the local cluster's secrets
if [ "$was_up" = 0 ]; then
  hydra cluster down || rc=1
fi

export HYDRA_CLUSTER_FLAVOUR=seeds
# The seeds flavour's Unraid host adopts the audit's stack (G3, G4, G5, G7, G8) and runs the exporters of its
# platforms (NixOS module, Unraid container); Prometheus, n8n (G6) and Uptime Kuma (G9) run in the default
# flavour's stack, so their checks run there.
python -m pytest -p no:cacheprovider tests/seeds tests/smoke/test_compute.py tests/smoke/test_ai.py \
  tests/smoke/test_storage.py::TestLiteLLM tests/smoke/test_storage.py::TestRedis \
  tests/smoke/test_storage.py::TestStack || rc=$?
if [ "$seeds_up" = 0 ]; then
  hydra cluster down || rc=1
fi

# Seed 003's SOLLOL nodes and gateway, seed 004's spark hosts and Traefik: deployed, faulted, smoke-tested.
export HYDRA_CLUSTER_FLAVOUR=systems
python -m pytest -p no:cacheprovider tests/systems tests/smoke_systems || rc=$?
if [ "$systems_up" = 0 ]; then
  hydra cluster down || rc=1
fi
exit "$rc"
