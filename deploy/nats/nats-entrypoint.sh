#!/bin/sh
# Starts nats-server with one user per role: reads each role's password from its secret
# (/run/secrets/nats_<role>, one line "role:password") into $SWITCHYARD_NATS_PASSWORD_<ROLE>,
# which auth.conf names.
set -eu
secrets=${SWITCHYARD_NATS_SECRETS_DIR:-/run/secrets}
for role in dns mail certs nftables http admin; do
  file="$secrets/nats_$role"
  if [ ! -r "$file" ]; then
    echo "nats: credentials file $file is missing or unreadable (uid $(id -u)); run deploy/make-secrets.sh" >&2
    exit 1
  fi
  line=$(tr -d '[:space:]' <"$file")
  case "$line" in
    "$role":?*) ;;
    *)
      echo "nats: $file is not one line \"$role:password\"" >&2
      exit 1
      ;;
  esac
  export "SWITCHYARD_NATS_PASSWORD_$(echo "$role" | tr '[:lower:]' '[:upper:]')=${line#*:}"
done
exec nats-server -c /etc/nats/nats.conf "$@"
