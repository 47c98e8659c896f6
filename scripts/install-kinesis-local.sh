#!/usr/bin/env bash
# Install kinesis-local, a Kinesis emulator from the npm registry, into .cache/kinesis-local/
# for the Kinesis sink's integration tests. Uses the machine's Node.js and npm, and does
# nothing when the pinned version is already there.
#
# Usage: scripts/install-kinesis-local.sh
# Exit status: 0 when installed, 1 when node or npm is missing or npm install fails.
set -euo pipefail

# Keep in step with KINESIS_LOCAL_VERSION in tests/integration/kinesis_local.py.
VERSION="0.6.2"

cd "$(dirname "$0")/.."
PREFIX=".cache/kinesis-local"
PACKAGE_JSON="$PREFIX/node_modules/kinesis-local/package.json"

for tool in node npm; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "install-kinesis-local: '$tool' not found; install Node.js and npm" \
            "(Debian: apt-get install nodejs npm), then run this script again" >&2
        exit 1
    fi
done

installed=""
if [[ -f "$PACKAGE_JSON" ]]; then
    installed="$(node -p "require('./$PACKAGE_JSON').version" 2>/dev/null || true)"
fi
if [[ "$installed" == "$VERSION" ]]; then
    exit 0
fi

echo "install-kinesis-local: installing kinesis-local@$VERSION into $PREFIX" >&2
mkdir -p "$PREFIX"
if ! npm install --prefix "$PREFIX" --no-audit --no-fund --loglevel=error \
    "kinesis-local@$VERSION" >&2; then
    echo "install-kinesis-local: npm install kinesis-local@$VERSION failed" >&2
    exit 1
fi
