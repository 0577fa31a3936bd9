#!/usr/bin/env bash
# Quick start, command 1: install what the demo needs (Debian/Ubuntu, as root),
# then run the connector against a throwaway local OpenLDAP. Leaves nothing running.
set -euo pipefail
cd "$(dirname "$0")"
bash .ci/install
exec python3 -m connector.app.demo "$@"
