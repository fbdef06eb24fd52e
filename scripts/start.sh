#!/usr/bin/env bash
# `npm start`: install what is missing, build, and run the whole local stack in the foreground.
# Ctrl-C or SIGTERM stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_commands nats-server:nats-server openssl:openssl
ensure_node_modules
say "building"
npx turbo run build --output-logs=errors-only

state=.switchyard
mkdir -p "$state/run" "$state/nats" "$state/logs"
export SWITCHYARD_CONFIG=${SWITCHYARD_CONFIG:-config/local.yaml}
export SWITCHYARD_ADMIN_TOKEN_FILE=${SWITCHYARD_ADMIN_TOKEN_FILE:-$state/admin.token}
node -e 'import("@switchyard/runtime").then((r) => r.ensureToken(process.argv[1]))' "$SWITCHYARD_ADMIN_TOKEN_FILE"
# DoH's certificate for localhost (config/local.yaml names it) until the certs service issues one.
if [[ ! -s "$state/tls/localhost.pem" ]]; then
  mkdir -p "$state/tls"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost -keyout "$state/tls/localhost.key" -out "$state/tls/localhost.pem" 2>/dev/null
fi
export SWITCHYARD_KV_KEY_FILE=${SWITCHYARD_KV_KEY_FILE:-$state/kv.key}
node -e 'import("@switchyard/certstore").then((c) => c.ensureKvKey(process.argv[1]))' "$SWITCHYARD_KV_KEY_FILE"

pids=()
stop_all() {
  trap - INT TERM EXIT
  say "stopping"
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill -TERM "${pids[i]}" 2>/dev/null || true; done
  wait || true
  say "stopped"
}
trap stop_all INT TERM EXIT

# NATS users per role, least privilege (README, "NATS users"): credentials under $state/nats/auth.
nats_auth=$(node scripts/nats-auth.mjs "$state")
nats-server -c "$nats_auth" -a 127.0.0.1 -p 10422 -js -sd "$state/nats" >"$state/logs/nats.log" 2>&1 &
pids+=($!)

node services/edge/dist/main.js &
pids+=($!)

# Every service that exists joins here (services/*/dist/main.js other than the edge).
for main in services/*/dist/main.js; do
  case "$main" in services/edge/*) continue ;; esac
  # The nftables agent programs this host's kernel firewall: only as root and with a firewall section.
  if [[ "$main" == services/nftables/* ]]; then
    if [[ $(id -u) -ne 0 ]] || ! grep -q '^firewall:' "$SWITCHYARD_CONFIG"; then
      say "nftables agent not started (it needs root and a firewall section in $SWITCHYARD_CONFIG)"
      continue
    fi
  fi
  node "$main" &
  pids+=($!)
done

cat >&2 <<INFO

  Switchyard is running (config: $SWITCHYARD_CONFIG, state: $state/)
    DNS        udp+tcp 127.0.0.1:10053   dig @127.0.0.1 -p 10053 ...
    SMTP       127.0.0.1:10025   submission 10587   SMTPS 10465
    HTTPS/DoH  127.0.0.1:10443   HTTP 10080   kdig @127.0.0.1 -p 10443 +https +tls-ca=$state/tls/localhost.pem +tls-hostname=localhost ...
    edge admin 127.0.0.1:10900 (gRPC)   metrics http://127.0.0.1:10901/metrics
    NATS       nats://127.0.0.1:10422 (JetStream in $state/nats)
    certs      internal CA (trust it: npx yardctl certs ca > switchyard-ca.pem)
    yardctl    npx yardctl workers | routes | stats | certs list
  Ctrl-C stops everything.

INFO
# Run until a signal, or until any process exits.
wait -n "${pids[@]}" || true
