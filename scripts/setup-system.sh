#!/usr/bin/env bash
# Installs the system packages yzt-bridge needs on Debian/Ubuntu: SoftHSM2 behind the virtual token,
# OpenSC (pkcs11-tool), a C compiler with PKCS#11 and OpenSSL (libcrypto: SM2) headers for the
# virtual-token shim, OpenSSL for signature checks, xmlsec1 (an independent XML-DSig verifier for the
# tests), the package builders (rpm, lintian, NSIS makensis, binutils strip; dpkg-deb is always there),
# Wine (wine + wine64, and wine32 from the i386 architecture: the package tests install the Windows installer
# under it and drive 32-bit and 64-bit SKF DLLs, which mingw-w64 builds from test/virtual-token/skf-standalone.c) and
# the browsers used by the end-to-end tests and the demo; the arm64 cross compiler (pkcs11js for the arm64 .deb,
# and the arm64 test SKF library) and qemu-user-static, which runs that package's host in its test.
# Safe to run again: it installs only what is missing. Needs root (or sudo).
set -euo pipefail

packages=(softhsm2 opensc libp11-kit-dev libssl-dev gcc g++ libc6-dev make openssl ca-certificates xmlsec1 rpm lintian nsis binutils redis-server wine wine64 wine32:i386 gcc-mingw-w64-i686-win32 gcc-mingw-w64-x86-64-win32 g++-aarch64-linux-gnu qemu-user-static)
if [ "${YZT_WITH_BROWSERS:-1}" = "1" ]; then
  # libnss3-tools: certutil, to trust the demo TLS CA in the throw-away browser profiles.
  packages+=(chromium firefox-esr xvfb fonts-noto-cjk libnss3-tools)
fi

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ "${#missing[@]}" -eq 0 ]; then
  echo "system packages: all present"
  exit 0
fi

sudo_cmd=()
if [ "$(id -u)" != "0" ]; then sudo_cmd=(sudo); fi
echo "system packages: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# wine32 is an i386 package: the architecture must be known to dpkg before apt-get update.
if ! dpkg --print-foreign-architectures | grep -qx i386; then "${sudo_cmd[@]}" dpkg --add-architecture i386; fi
"${sudo_cmd[@]}" apt-get update -q
"${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
