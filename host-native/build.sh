#!/usr/bin/env bash
# Builds the native host for x86_64 (tests), aarch64 and armv7hf: out/<arch>/vigil, static and stripped,
# and the agent's bytecode out/agent.qjsbc (compiled by the x86_64 binary; QuickJS bytecode is the same on
# every architecture for one version and configuration, which the tests check). Idempotent: make rebuilds
# only what changed. Usage: host-native/build.sh [arch...]   (default: all three)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
cd "$here"
archs=("$@")
[ ${#archs[@]} -gt 0 ] || archs=(x86_64 aarch64 armv7hf)
version="$(node -p 'require("../package.json").version')"
jobs="$(nproc 2>/dev/null || echo 2)"

# Test files build in parallel workers: one build at a time, the others wait and then find out/ fresh.
mkdir -p .cache
exec 9>.cache/build.lock
flock 9
./fetch-deps.sh
for a in "${archs[@]}"; do
  make -s ARCH="$a" VERSION="$version" -j"$jobs" >/dev/null
done

# The bytecode of the bundle: needs dist/agent.js (node build.mjs) and the x86_64 binary.
if [ -f "$repo/dist/agent.js" ] && [ -x out/x86_64/vigil ]; then
  if [ ! -f out/agent.qjsbc ] || [ "$repo/dist/agent.js" -nt out/agent.qjsbc ] || [ out/x86_64/vigil -nt out/agent.qjsbc ]; then
    out/x86_64/vigil --compile "$repo/dist/agent.js" out/agent.qjsbc
  fi
fi

for a in "${archs[@]}"; do
  printf '%-8s %9d bytes  out/%s/vigil\n' "$a" "$(stat -c %s "out/$a/vigil")" "$a"
done
[ -f out/agent.qjsbc ] && printf '%-8s %9d bytes  out/agent.qjsbc\n' bytecode "$(stat -c %s out/agent.qjsbc)"
exit 0
