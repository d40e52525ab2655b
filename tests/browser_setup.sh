#!/bin/sh
# Chromium and its WebDriver for tests/test_browser.py (Debian/Ubuntu, as root or with sudo).
# Idempotent: does nothing when /usr/bin/chromium and /usr/bin/chromedriver are there.
set -eu
if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
/usr/bin/chromium --version
