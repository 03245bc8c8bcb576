#!/usr/bin/env bash
# Prepares a fresh Debian 12 machine with Node 20 to build, test and try libvirt-dbus: installs the
# Debian packages (idempotently: only what is missing), the npm packages, and builds. Sourced by
# test/all and bin/try; run from the repository's root.
set -euo pipefail

step() { printf '\n==> %s\n' "$*"; }

mapfile -t DEBS < <(grep -v '^#' tools/debian-packages.txt | tr ' ' '\n' | grep .)
missing=()
for p in "${DEBS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  step "installing Debian packages: ${missing[*]}"
  SUDO=; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -q || { echo "apt-get update failed: check the network and /etc/apt/sources.list" >&2; exit 1; }
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" \
    || { echo "apt-get install failed for: ${missing[*]} (see the messages above)" >&2; exit 1; }
fi

# libvirtd re-probes QEMU on every definition when /dev/kvm is root-only: give it Debian's usual mode.
if [ -e /dev/kvm ] && [ "$(id -u)" -eq 0 ]; then
  getent group kvm >/dev/null || groupadd -r kvm
  { chgrp kvm /dev/kvm && chmod 0660 /dev/kvm; } 2>/dev/null || true
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  step "installing npm packages (npm ci)"
  npm ci --no-audit --no-fund || { echo "npm ci failed: is the npm registry reachable?" >&2; exit 1; }
fi

step "building (npm run build)"
npm run build --silent || { echo "the build failed: see the compiler messages above" >&2; exit 1; }
