#!/usr/bin/env bash
# Generate the compose stack's secrets (random, mode 0600) if they do not exist.
set -euo pipefail
dir="$(cd "$(dirname "$0")" && pwd)/secrets"
mkdir -p "$dir"
umask 077
for name in ldap_root_password it_centre_password bte_password; do
  [ -s "$dir/$name" ] || python3 -c 'import secrets; print(secrets.token_urlsafe(24))' > "$dir/$name"
done
echo "secrets in $dir"
