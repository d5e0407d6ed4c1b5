#!/usr/bin/env bash
# A newcomer's first run, repeatable: a fresh clone of this checkout's HEAD in a temporary folder, an empty image
# cache (HYDRA_CACHE_DIR), then the README's first command (scripts/demo.sh). Prints the time it took; takes the
# cluster down and removes the clone and the cache afterwards (KEEP=1 keeps them). As root, like demo.sh.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /var/tmp/hydra-first-run.XXXXXX)
export HYDRA_CACHE_DIR="$work/cache"
mkdir "$HYDRA_CACHE_DIR"
git clone -q "$src" "$work/clone"
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
  (cd "$work/clone" && [ -x .venv/bin/hydra ] && HYDRA_CLUSTER=local .venv/bin/hydra cluster down >/dev/null 2>&1) || true
  if [ "${KEEP:-0}" != 1 ]; then rm -rf --one-file-system "$work"; fi
}
trap cleanup EXIT
start=$(date +%s)
rc=0
(cd "$work/clone" && bash scripts/demo.sh) || rc=$?
echo "first run (fresh clone, empty cache $HYDRA_CACHE_DIR): rc $rc in $(( $(date +%s) - start )) s"
exit "$rc"
