#!/usr/bin/env bash
# Runs .ci/run on a clean clone of HEAD with two CPU-bound processes beside it, as CI's shared 2-core machine
# may be (issue 11: the suite must stay green under load, within 25 minutes). Prints the run's closing line and
# its wall time. Usage: scripts/ci-under-load.sh [HOGS]   (default 2; 0 runs it quiet, for the comparison)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
hogs="${1:-2}"
work="$(mktemp -d /tmp/vigil-ci-XXXXXX)"
git clone -q "$repo" "$work/main"
# .ci/run reads ../shared like CI's clean clone does.
[ -d "$repo/../shared" ] && ln -s "$(cd "$repo/../shared" && pwd)" "$work/shared"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
for _ in $(seq 1 "$hogs"); do yes > /dev/null & pids+=($!); done
t0=$SECONDS
status=0
(cd "$work/main" && CI=true bash .ci/run) > "$work/ci.log" 2>&1 || status=$?
cleanup
echo "[vigil] [ci-under-load] $hogs hogs, $((SECONDS - t0)) s, exit $status, log $work/ci.log"
tail -n 1 "$work/ci.log"
exit $status
