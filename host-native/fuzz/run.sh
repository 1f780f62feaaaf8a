#!/usr/bin/env bash
# Runs every fuzzer (or those named) for SECONDS each (default 25): first over its regression inputs
# (fuzz/regressions/<name>/, each one a bug found and fixed), then coverage-guided from fuzz/corpus/<name>/
# into a scratch corpus. Exits non-zero on the first crash, leak or timeout; the crashing input is left in
# out/fuzz/artifacts/. Usage: fuzz/run.sh [-t SECONDS] [name...]   e.g. fuzz/run.sh -t 3600 fuzz_js
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
native="$(cd "$here/.." && pwd)"
seconds=25
if [ "${1:-}" = "-t" ]; then seconds="$2"; shift 2; fi
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(fuzz_dbus fuzz_dns fuzz_config fuzz_js fuzz_net)
"$here/build.sh"
export VIGIL_FUZZ_BUNDLE="$native/out/fuzz/fuzz-parsers.js"
art="$native/out/fuzz/artifacts"
mkdir -p "$art"
for n in "${names[@]}"; do
  bin="$native/out/fuzz/$n"
  if [ -d "$here/regressions/$n" ]; then
    "$bin" "$here/regressions/$n"/* >"$art/$n.regressions.log" 2>&1 || { cat "$art/$n.regressions.log" >&2; echo "[vigil] [fuzz] $n: a regression input fails again" >&2; exit 1; }
  fi
  work="$native/out/fuzz/corpus/$n"
  mkdir -p "$work"
  "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=1536 -print_final_stats=1 -artifact_prefix="$art/$n-" \
    "$work" "$here/corpus/$n" >"$art/$n.log" 2>&1 || { tail -60 "$art/$n.log" >&2; echo "[vigil] [fuzz] $n crashed; input in $art" >&2; exit 1; }
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$art/$n.log")"
  cov="$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$art/$n.log" | tail -1)"
  echo "[vigil] [fuzz] $n: ${execs:-?} runs in ${seconds} s, $cov, corpus $(ls "$work" | wc -l) inputs, no crash"
done
