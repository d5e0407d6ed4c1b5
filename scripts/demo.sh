#!/usr/bin/env bash
# The main job on the built-in local cluster: install, boot the three hosts, audit, deploy the site
# (G1 + G2 on hydra-compute, G3 secret files, G11 + G10 on hydra-ai, the G4/G5/G7/G8 compose stack on
# hydra-storage), audit again, run the smoke suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export PATH="$PWD/.venv/bin:$PATH"

echo "== local cluster"
hydra cluster up
hydra cluster status
echo "== audit before (exit 1 means gaps are open)"
hydra audit || true
echo "== deploy: pyinfra .cluster/inventory.py deploys/monitoring.py (exporters), then deploys/site.py"
pyinfra -y .cluster/inventory.py deploys/monitoring.py
pyinfra -y .cluster/inventory.py deploys/site.py
echo "== audit after (G6's n8n workflow is still open: issue 10; every other gap must be closed)"
hydra audit || echo "(exit $?: not every gap is closed, see above)"
hydra audit --implemented
echo "== smoke suite"
hydra verify -q
echo "Done. Tear down with: .venv/bin/hydra cluster down"
