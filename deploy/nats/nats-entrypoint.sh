#!/bin/sh
# Starts nats-server with the token from the secret file (nats.conf reads $SWITCHYARD_NATS_TOKEN).
set -eu
token_file=${SWITCHYARD_NATS_TOKEN_FILE:-/run/secrets/nats_token}
if [ ! -r "$token_file" ]; then
  echo "nats: token file $token_file is missing or unreadable (uid $(id -u))" >&2
  exit 1
fi
SWITCHYARD_NATS_TOKEN=$(tr -d '[:space:]' <"$token_file")
export SWITCHYARD_NATS_TOKEN
exec nats-server -c /etc/nats/nats.conf "$@"
