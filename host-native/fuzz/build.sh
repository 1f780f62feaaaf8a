#!/usr/bin/env bash
# Builds the libFuzzer harnesses into host-native/out/fuzz/ (clang-14 + libclang-rt-14-dev, from Debian)
# and the agent bundles the JS harnesses run: out/fuzz/fuzz-parsers.js (fuzz_js) and out/fuzz/fuzz-net.js
# (fuzz_net). Brings the x86_64 native build up to date first (the QuickJS/mbedTLS sources and the mbedTLS
# archive). Idempotent and quick when out/fuzz is fresh: make rebuilds only what changed, and parallel
# callers (test workers, run.sh) wait for one another on a lock. A from-scratch build takes minutes.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
native="$(cd "$here/.." && pwd)"
command -v clang-14 >/dev/null || { echo "[vigil] [fuzz] clang-14 is missing: apt-get install clang-14 libclang-rt-14-dev" >&2; exit 1; }
"$native/build.sh" x86_64 >/dev/null
mkdir -p "$native/.cache"
exec 8>"$native/.cache/fuzz-build.lock"
flock 8
make -s -C "$here" -j"$(nproc 2>/dev/null || echo 2)"
