#!/usr/bin/env bash
# The Node object-store servers the tests start: s3rver (S3 as another implementation speaks it) and Azurite
# (the Azure Storage emulator), installed from the npm registry into .ci/node at the versions package-lock.json
# pins. Needs node and npm (apt-get install nodejs npm). Idempotent: does nothing when they are there.
set -euo pipefail
cd "$(dirname "$0")/node"

if [ -x node_modules/.bin/s3rver ] && [ -x node_modules/.bin/azurite-blob ]; then
    exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
    echo "node-servers: npm is missing; install Node.js and npm (apt-get install nodejs npm)" >&2
    exit 1
fi
npm ci --no-audit --no-fund --loglevel=error
test -x node_modules/.bin/s3rver && test -x node_modules/.bin/azurite-blob
