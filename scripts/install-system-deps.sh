#!/usr/bin/env bash
# Debian packages the tests need: Mesa's lavapipe (CPU Vulkan driver, from bookworm-backports, for
# the WebGPU execution-provider tests) and Chromium (browser end-to-end tests).
set -euo pipefail
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
src=/etc/apt/sources.list.d/debian.sources
if [ -f "$src" ] && grep -q '^Suites: bookworm bookworm-updates$' "$src"; then
  $SUDO sed -i 's/^Suites: bookworm bookworm-updates$/Suites: bookworm bookworm-updates bookworm-backports/' "$src"
fi
updated=0
apt_update() { [ "$updated" = 1 ] || { $SUDO apt-get update -q; updated=1; }; }
if ! dpkg -s mesa-vulkan-drivers 2>/dev/null | grep -q '^Version: 25'; then
  apt_update
  $SUDO apt-get install -y -q -t bookworm-backports mesa-vulkan-drivers
fi
if ! command -v chromium >/dev/null 2>&1; then
  apt_update
  $SUDO apt-get install -y -q chromium fonts-dejavu-core
fi
