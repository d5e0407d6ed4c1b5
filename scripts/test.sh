#!/usr/bin/env bash
# The whole test suite: lint, unit tests, integration tests and the smoke suite on the default local cluster
# (Debian hosts), then the NixOS and Unraid tests, the rehearsal of every fix and the smoke suite on the seeds
# flavour (NixOS- and Unraid-shaped hosts), then the seeds' two other systems (SOLLOL, vLLM + Traefik) on the
# systems flavour (four more hosts).
# Each cluster is brought up if needed (all three while the unit tests run) and taken down again after its phase
# if it was not running before.
set -euo pipefail
export HYDRA_CLUSTER=local  # the checkout's scripts use the lab; an operator's hydra targets the real inventory
cd "$(dirname "$0")/.."
bash scripts/install.sh
export PATH="$PWD/.venv/bin:$PATH"

running() { [ -f "$1/state.json" ] && hydra cluster status 2>/dev/null | grep -q " running "; }
was_up=0; running .cluster && was_up=1
seeds_up=0; HYDRA_CLUSTER_FLAVOUR=seeds running .cluster-seeds && seeds_up=1
systems_up=0; HYDRA_CLUSTER_FLAVOUR=systems running .cluster-systems && systems_up=1

ruff check .
rc=0
# The clusters boot one after another in the background while the unit tests (which need no host) run; each phase
# below waits for that before its own tests. Booted hosts stay idle until their phase; a cluster already up is kept.
boot_log=$(mktemp /tmp/hydra-ops-boot.XXXXXX)
( hydra cluster up && HYDRA_CLUSTER_FLAVOUR=seeds hydra cluster up && HYDRA_CLUSTER_FLAVOUR=systems hydra cluster up
) >"$boot_log" 2>&1 &
boot=$!
durations=(--durations=15 --durations-min=20)  # the slowest tests, for whoever trims the suite's time
python -m pytest -p no:cacheprovider "${durations[@]}" tests/unit || rc=$?
if ! wait "$boot"; then
  cat "$boot_log" >&2; echo "booting the local clusters failed (log above); each phase tries again" >&2; rc=1
fi
rm -f "$boot_log"
python -m pytest -p no:cacheprovider "${durations[@]}" tests/integration tests/smoke || rc=$?
hydra secrets check || rc=1   # no tracked file holds a value of the local cluster's secrets
if [ "$was_up" = 0 ]; then
  hydra cluster down || rc=1
fi

export HYDRA_CLUSTER_FLAVOUR=seeds
# The seeds flavour's NixOS- and Unraid-shaped hosts; test_99_rehearsal.py resets every host to the
# seeds' before state, closes every gap with `hydra fix` alone, audits and runs the whole smoke suite (`hydra verify`).
python -m pytest -p no:cacheprovider "${durations[@]}" tests/seeds || rc=$?
if [ "$seeds_up" = 0 ]; then
  hydra cluster down || rc=1
fi

# Seed 003's SOLLOL nodes and gateway, seed 004's spark hosts and Traefik: deployed, faulted, smoke-tested.
export HYDRA_CLUSTER_FLAVOUR=systems
python -m pytest -p no:cacheprovider "${durations[@]}" tests/systems tests/smoke_systems || rc=$?
if [ "$systems_up" = 0 ]; then
  hydra cluster down || rc=1
fi
exit "$rc"
