#!/usr/bin/env bash
# Builds the libFuzzer harnesses into host-native/out/fuzz/ (clang-14 + libclang-rt-14-dev, from Debian)
# and the agent bundles the JS harnesses run: out/fuzz/fuzz-parsers.js (fuzz_js) and out/fuzz/fuzz-net.js
# (fuzz_net). Needs the x86_64 native build first (for the QuickJS/mbedTLS sources and mbedTLS archive); runs
# it when missing. Idempotent.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
native="$(cd "$here/.." && pwd)"
repo="$(cd "$native/.." && pwd)"
command -v clang-14 >/dev/null || { echo "[vigil] [fuzz] clang-14 is missing: apt-get install clang-14 libclang-rt-14-dev" >&2; exit 1; }
[ -f "$native/out/x86_64/obj/libmbed.a" ] || "$native/build.sh" x86_64 >/dev/null
mkdir -p "$native/.cache"
exec 8>"$native/.cache/fuzz-build.lock"
flock 8
make -s -C "$here" -j"$(nproc 2>/dev/null || echo 2)"
for b in fuzz-parsers fuzz-net; do
  "$repo/node_modules/.bin/esbuild" "$repo/agent/test/$b.ts" --bundle --format=iife --platform=neutral \
    --target=es2022 --log-level=warning --outfile="$native/out/fuzz/$b.js"
done
