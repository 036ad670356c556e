#!/usr/bin/env bash
# Debian packages the tests need: Mesa's lavapipe (CPU Vulkan driver, from bookworm-backports, for
# the WebGPU execution-provider tests) and Chromium (browser end-to-end tests).
set -euo pipefail
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
src=/etc/apt/sources.list.d/debian.sources
if [ -f "$src" ] && grep -q '^Suites: bookworm bookworm-updates$' "$src"; then
  $SUDO sed -i 's/^Suites: bookworm bookworm-updates$/Suites: bookworm bookworm-updates bookworm-backports/' "$src"
fi
need=()
dpkg -s mesa-vulkan-drivers 2>/dev/null | grep -q '^Version: 25' || need+=(mesa-vulkan-drivers)
if [ ${#need[@]} -gt 0 ]; then
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q -t bookworm-backports "${need[@]}"
fi
