#!/usr/bin/env bash
# Fetches the third-party C code of the native host into host-native/.cache/ (gitignored), by package
# name through Debian's own apt, with a private apt configuration: its own sources list, state and cache
# directories, so the system's apt setup is never touched and no multiarch is needed.
#   - QuickJS: Debian trixie's `quickjs` source package (2025.04.26), pinned by the SHA-256 of its orig
#     tarball. Not npm qjsc (2021-03-27: it crashes on ordinary async code after GC).
#   - mbedTLS: bookworm's `mbedtls` source package (2.28.3-1, no Debian patches to the library), pinned the
#     same way. It is compiled by the Makefile with src/mbedtls_config.h (a TLS 1.2 client only): Debian's
#     prebuilt libmbedtls.a enables every module and pushes the aarch64 binary over its 1.5 MB budget.
# Idempotent: does nothing when the pinned files are already there.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="$here/.cache"
QUICKJS_VERSION=2025.04.26
MBEDTLS_VERSION=2.28.3-1
MBEDTLS_UPSTREAM=2.28.3
MBEDTLS_ORIG_SHA256=3b4953aa55a681e084d31892d9904cc5328d6b4958ea57b90ae4b4f94ae69a8d
QUICKJS_ORIG_SHA256=ec81da5b3249ed648dbc7df4a1654988910e66a118d9b71cb63534216efcfbbe
mkdir -p "$cache"

# The Debian archive the machine already uses (deb822 or one-line sources), trixie for the source package.
mirror="$(cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null | awk '
  /^URIs:/ && !/security/ { print $2; exit } /^deb / && !/security/ { for (i = 2; i <= NF; i++) if ($i ~ /^http/) { print $i; exit } }' || true)"
mirror="${mirror:-http://deb.debian.org/debian}"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg

apt_private() { # $1 = name of the private config, $2 = sources.list text, rest = apt-get arguments
  local dir="$cache/apt-$1"; shift
  mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial"
  printf '%s\n' "$1" > "$dir/sources.list"; shift
  apt-get -q -o Dir::Etc::sourcelist="$dir/sources.list" -o Dir::Etc::sourceparts=/nonexistent \
    -o Dir::State::Lists="$dir/lists" -o Dir::Cache="$dir/cache" -o Dir::State::status=/var/lib/dpkg/status \
    -o Debug::NoLocking=1 "$@"
}

# ---- QuickJS --------------------------------------------------------------------------------------------
orig="$cache/quickjs_${QUICKJS_VERSION}.orig.tar.xz"
if [ ! -f "$cache/quickjs/quickjs.c" ] || ! echo "$QUICKJS_ORIG_SHA256  $orig" | sha256sum -c --status 2>/dev/null; then
  if ! echo "$QUICKJS_ORIG_SHA256  $orig" | sha256sum -c --status 2>/dev/null; then
    src="deb-src [signed-by=$keyring] $mirror trixie main"
    apt_private trixie-src "$src" update >/dev/null
    (cd "$cache" && apt_private trixie-src "$src" source --download-only "quickjs=${QUICKJS_VERSION}-1" >/dev/null)
  fi
  echo "$QUICKJS_ORIG_SHA256  $orig" | sha256sum -c --status || {
    echo "[vigil] [native] $orig does not match the pinned SHA-256 $QUICKJS_ORIG_SHA256" >&2; exit 1; }
  rm -rf "$cache/quickjs" && mkdir -p "$cache/quickjs"
  tar -xJf "$orig" -C "$cache/quickjs" --strip-components=1
fi

# ---- mbedTLS ---------------------------------------------------------------------------------------------
morig="$cache/mbedtls_${MBEDTLS_UPSTREAM}.orig.tar.gz"
if [ ! -f "$cache/mbedtls/library/ssl_tls.c" ] || ! echo "$MBEDTLS_ORIG_SHA256  $morig" | sha256sum -c --status 2>/dev/null; then
  if ! echo "$MBEDTLS_ORIG_SHA256  $morig" | sha256sum -c --status 2>/dev/null; then
    src="deb-src [signed-by=$keyring] $mirror bookworm main"
    apt_private bookworm-src "$src" update >/dev/null
    (cd "$cache" && apt_private bookworm-src "$src" source --download-only "mbedtls=${MBEDTLS_VERSION}" >/dev/null)
  fi
  echo "$MBEDTLS_ORIG_SHA256  $morig" | sha256sum -c --status || {
    echo "[vigil] [native] $morig does not match the pinned SHA-256 $MBEDTLS_ORIG_SHA256" >&2; exit 1; }
  rm -rf "$cache/mbedtls" && mkdir -p "$cache/mbedtls"
  tar -xzf "$morig" -C "$cache/mbedtls" --strip-components=1
fi
