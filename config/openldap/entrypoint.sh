#!/bin/sh
# PID 1 of the OpenLDAP image. On first start (empty data volume) it builds
# cn=config with slapadd -n0, loads the tree, the delegation ACLs and one
# service account per connector identity whose secret file exists
# (/run/secrets/<cn>, e.g. /run/secrets/connector-it-centre); then it execs
# slapd in the foreground, which handles SIGTERM itself (clean mdb shutdown).
# slapd binds port 389 as root and then runs as the openldap user.
set -eu
DATA=/var/lib/connector-ldap
SHARE=/usr/share/connector-ldap
SECRETS=${LDAP_SECRETS_DIR:-/run/secrets}
LDAPI="ldapi://%2Fvar%2Flib%2Fconnector-ldap%2Fldapi"

# {SSHA} of the first line of a secret file, without putting it on a command line.
hash_secret() {
  head -n1 "$1" | tr -d '\r\n' > "$WORK/pw"
  slappasswd -h '{SSHA}' -T "$WORK/pw" 2>/dev/null
  rm -f "$WORK/pw"
}

if [ ! -e "$DATA/slapd.d/cn=config.ldif" ]; then
  [ -s "$SECRETS/ldap_root_password" ] || {
    echo "entrypoint: $SECRETS/ldap_root_password is missing or empty" >&2; exit 2; }
  WORK=$(mktemp -d); chmod 700 "$WORK"
  trap 'rm -rf "$WORK"' EXIT
  mkdir -p "$DATA/slapd.d" "$DATA/data"
  root_hash=$(hash_secret "$SECRETS/ldap_root_password")
  sed "s|@ROOT_PW_HASH@|$root_hash|" "$SHARE/slapd-config.ldif" > "$WORK/config.ldif"
  slapadd -n0 -F "$DATA/slapd.d" -l "$WORK/config.ldif"
  slapadd -q -n1 -F "$DATA/slapd.d" -l "$SHARE/base.ldif"
  grep -v '^#' "$SHARE/acl.ldif" > "$WORK/acl.ldif"
  slapmodify -n0 -F "$DATA/slapd.d" -l "$WORK/acl.ldif"
  made=""
  for template in "$SHARE"/identities/*.ldif; do
    name=$(basename "$template" .ldif)
    [ -s "$SECRETS/$name" ] || continue
    hash=$(hash_secret "$SECRETS/$name")
    sed "s|@PASSWORD_HASH@|$hash|" "$template" > "$WORK/identity.ldif"
    slapmodify -q -n1 -F "$DATA/slapd.d" -l "$WORK/identity.ldif"
    made="$made $name"
  done
  chown -R openldap:openldap "$DATA"
  echo "entrypoint: directory initialised; identities:${made:- none}"
fi
mkdir -p /run/slapd && chown openldap:openldap /run/slapd
exec slapd -d "${SLAPD_DEBUG_LEVEL:-stats}" -u openldap -g openldap -F "$DATA/slapd.d" \
  -h "ldap:/// $LDAPI"
