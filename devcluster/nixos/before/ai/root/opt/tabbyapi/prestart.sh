#!/usr/bin/env bash
# The operator's pre-start (seed 002, "Stability Improvements"): free ports 5000/5001 from an orphaned TabbyAPI and
# check that the model disk is mounted. Runs as typhon, like the unit.
set -euo pipefail
PATH=/run/current-system/sw/bin:$PATH
for port in 5000 5001; do
  for pid in $(ss -ltnpH "sport = :$port" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u); do
    echo "prestart: killing orphan pid $pid on port $port" >&2
    kill "$pid" 2>/dev/null || true
  done
done
if ! mountpoint -q /mnt/models; then
  echo "prestart: /mnt/models is not mounted" >&2
  exit 1
fi
