#!/usr/bin/env bash
# Generate the compose stack's secrets (random, mode 0600) if they do not exist.
# Compose mounts file secrets as they are on the host, so a connector's secret
# is owned by the uid the connector image runs as (10001); slapd's entrypoint
# reads its own as root before it drops privileges.
set -euo pipefail
dir="$(cd "$(dirname "$0")" && pwd)/secrets"
mkdir -p "$dir"
umask 077
for name in ldap_root_password connector-it-centre connector-bte; do
  [ -s "$dir/$name" ] || python3 -c 'import secrets; print(secrets.token_urlsafe(24))' > "$dir/$name"
done
if [ "$(id -u)" = 0 ]; then
  chown 10001:10001 "$dir"/connector-*
else
  echo "not root: run 'sudo chown 10001:10001 $dir/connector-*' so the daemons can read them" >&2
fi
echo "secrets in $dir"
