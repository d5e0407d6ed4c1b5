#!/usr/bin/env bash
# The whole test suite: lint, unit tests, integration tests on the local cluster, then the smoke suite.
# Brings the local cluster up if needed and takes it down again afterwards if it was not running before.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export PATH="$PWD/.venv/bin:$PATH"

was_up=0
if [ -f .cluster/state.json ] && hydra cluster status 2>/dev/null | grep -q " running "; then was_up=1; fi

ruff check .
rc=0
python -m pytest -p no:cacheprovider tests/unit tests/integration tests/smoke || rc=$?
hydra secrets check || rc=1   # no tracked file holds a value of the local cluster's secrets

if [ "$was_up" = 0 ]; then
  hydra cluster down || rc=1
fi
exit "$rc"
