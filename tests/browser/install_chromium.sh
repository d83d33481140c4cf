#!/usr/bin/env bash
# The browser tests drive Debian's Chromium and ChromeDriver (no browser download at run time).
# Install them when missing, and say so.
set -euo pipefail
if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
    exit 0
fi
echo "test-browser: Chromium or ChromeDriver is missing; installing Debian's chromium and chromium-driver with apt-get"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "test-browser: not root and no sudo: install chromium chromium-driver yourself" >&2; exit 1; }
    sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get install -y -q chromium chromium-driver || { $sudo apt-get update -q && $sudo apt-get install -y -q chromium chromium-driver; }
chromium --version && chromedriver --version
