#!/bin/sh
# Starts nats-server with one user per role: reads each role's password from its secret
# (/run/secrets/nats_<role>, one line "role:password") into $SWITCHYARD_NATS_PASSWORD_<ROLE>,
# which auth.conf names. nats-server parses a variable's value as a config value, so a bare
# password that starts with digits ("2e5f...", a hex password one time in ~1.6) is read as a number
# and the server exits with a parse error: each value is exported as a quoted string.
# $SWITCHYARD_NATS_CONFIG names the config (default /etc/nats/nats.conf; the tests point it elsewhere).
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
  password=${line#*:}
  case "$password" in
    *\"* | *\\*)
      echo "nats: the password in $file holds a quote or a backslash; make-secrets.sh makes hex ones" >&2
      exit 1
      ;;
  esac
  export "SWITCHYARD_NATS_PASSWORD_$(echo "$role" | tr '[:lower:]' '[:upper:]')=\"$password\""
done
exec nats-server -c "${SWITCHYARD_NATS_CONFIG:-/etc/nats/nats.conf}" "$@"
