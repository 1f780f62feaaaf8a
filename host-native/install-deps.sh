#!/usr/bin/env bash
# Installs the Debian packages the native build needs: the bookworm cross compilers (gcc 12, with their
# binutils and libc6-dev for each target), qemu-user to run the ARM binaries in tests, faketime (libfaketime,
# preloaded into qemu-user to run the armv7hf binary with its clock past 2038) and xz/file.
# Idempotent and quiet: installs only what is missing. The TLS library (mbedTLS) and QuickJS are not
# installed system-wide: build.sh fetches them through a private apt configuration into .cache/.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
packages=(gcc gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf qemu-user binutils-aarch64-linux-gnu
  binutils-arm-linux-gnueabihf libc6-dev-arm64-cross libc6-dev-armhf-cross libc6-dev faketime xz-utils file dpkg-dev)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
