#!/usr/bin/env bash
# Installs Debian's Chromium for the browser tests when it is missing.
# Usage: install-chromium.sh [PATH]   (default /usr/bin/chromium)
# Needs root or password-less sudo. Without them it prints why and exits 1, and the
# browser tests then fail with their own message.
set -euo pipefail

chromium="${1:-/usr/bin/chromium}"
if [ -x "$chromium" ]; then
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    run=()
elif sudo -n true 2>/dev/null; then
    run=(sudo -n)
else
    echo "install-chromium: $chromium is missing; install Debian's chromium package as root" >&2
    exit 1
fi

"${run[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${run[@]}" apt-get install -y -qq chromium >/dev/null
echo "install-chromium: installed $("$chromium" --version)"
