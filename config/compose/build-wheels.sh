#!/usr/bin/env bash
# Build the connector and every dependency as wheels into config/compose/wheels,
# on the host (which can reach the package index). The images install from
# there with `pip install --no-index`, so `docker build` needs no access to
# PyPI: that fits air-gapped networks and TLS-intercepting proxies alike.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
out="$repo/config/compose/wheels"
mkdir -p "$out"
rm -f "$out"/bhxh_ldap_connector-*.whl
# Fixed timestamps: the same source gives the same wheel, so the image build cache holds.
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-315532800}"
python3 -m pip wheel --quiet --disable-pip-version-check --wheel-dir "$out" "$repo"
echo "wheels in $out: $(ls "$out" | wc -l) files"
