#!/bin/sh
# What the tests need from the system (Debian/Ubuntu, as root or with sudo): Chromium and its
# WebDriver for tests/test_browser.py, Graphviz for the DOT rendering check in tests/test_views.py.
# Idempotent: does nothing when they are all there.
set -eu
if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] && command -v dot >/dev/null 2>&1; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver graphviz >/dev/null
/usr/bin/chromium --version
dot -V
