#!/usr/bin/env bash
# Debian packages the benchmarks use beyond the tests' own (.ci/apt-packages.txt): valgrind (callgrind, the
# instruction counts per report cycle) and GNU time (CPU of the hashing runs). Mosquitto and its clients,
# the cross compilers and qemu come from the tests' list and host-native/install-deps.sh.
# Usage: bench/install-deps.sh   (as root, or with sudo available)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
sudo_() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
need=()
for p in valgrind time mosquitto mosquitto-clients coreutils; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  sudo_ apt-get update
  sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}"
fi
# Cross compilers, their C libraries and qemu-user for the size rows (QuickJS alone per architecture).
"$here/../host-native/install-deps.sh"
