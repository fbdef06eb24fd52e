#!/usr/bin/env bash
# `npm start`: install what is missing, build, and run the whole local stack in the foreground.
# Ctrl-C or SIGTERM stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

# dig, kdig and swaks: the banner prints commands that use them.
ensure_commands nats-server:nats-server setpriv:util-linux dig:dnsutils kdig:knot-dnsutils swaks:swaks cc:gcc make:make
ensure_node_modules
say "building"
npx turbo run build --output-logs=errors-only

state=.switchyard
mkdir -p "$state/run" "$state/nats" "$state/logs"
# supervise.mjs gives each process a pid file here; an upgraded edge names its successor in it.
export SWITCHYARD_RUN_DIR=$state/run
export SWITCHYARD_CONFIG=${SWITCHYARD_CONFIG:-config/local.yaml}
export SWITCHYARD_ADMIN_TOKEN_FILE=${SWITCHYARD_ADMIN_TOKEN_FILE:-$state/admin.token}
node -e 'import("@switchyard/runtime").then((r) => r.ensureToken(process.argv[1]))' "$SWITCHYARD_ADMIN_TOKEN_FILE"
export SWITCHYARD_KV_KEY_FILE=${SWITCHYARD_KV_KEY_FILE:-$state/kv.key}
node -e 'import("@switchyard/certstore").then((c) => c.ensureKvKey(process.argv[1]))' "$SWITCHYARD_KV_KEY_FILE"
# The internal CA (certs service), written here once it answers: DoH and SMTP TLS verify against it.
ca=$state/ca.pem
rm -f "$ca"

# The stack, in start order: name, command, ";". scripts/supervise.mjs restarts a process that dies
# (with backoff) and stops them in reverse order on Ctrl-C/SIGTERM.
stack=()
pools=()
# NATS users per role, least privilege (README, "NATS users"): credentials under $state/nats/auth.
nats_auth=$(node scripts/nats-auth.mjs "$state")
stack+=(nats nats-server -c "$nats_auth" -a 127.0.0.1 -p 10422 -js -sd "$state/nats" -l "$state/logs/nats.log" ";")

stack+=(edge node services/edge/dist/main.js ";")
# The web console (packages/console): its own process on edge.console, a client of the admin APIs.
stack+=(console node packages/console/dist/main.js ";")
# The demo web app the http site www.switchyard.test proxies to (config/local.yaml, http).
stack+=(demo-upstream node scripts/demo-upstream.mjs 10980 ";")

# Every service that exists joins here (services/*/dist/main.js other than the edge).
for main in services/*/dist/main.js; do
  case "$main" in services/edge/*) continue ;; esac
  name=$(basename "$(dirname "$(dirname "$main")")")
  # The nftables agent programs this host's kernel firewall: only as root and with a firewall section.
  if [[ "$main" == services/nftables/* ]]; then
    if [[ $(id -u) -ne 0 ]] || ! grep -q '^firewall:' "$SWITCHYARD_CONFIG"; then
      say "nftables agent not started (it needs root and a firewall section in $SWITCHYARD_CONFIG)"
      continue
    fi
  else
    pools+=("$name") # a worker: its pool has its name
  fi
  stack+=("$name" node "$main" ";")
done

node scripts/supervise.mjs "${stack[@]}" &
supervisor=$!
ready=""
stop_all() {
  trap - INT TERM
  [[ -z "$ready" ]] || kill -TERM "$ready" 2>/dev/null || true
  kill -TERM "$supervisor" 2>/dev/null || true
  wait "$supervisor" || true
  exit "${1:-0}"
}
trap stop_all INT TERM

# The banner's commands work once it is printed. In the background: a signal interrupts `wait`.
node scripts/wait-ready.mjs "$ca" "${pools[@]}" &
ready=$!
if ! wait "$ready"; then
  say "the stack did not come up; its logs are above"
  stop_all 1
fi
ready=""

cat >&2 <<INFO

  Switchyard is running (config: $SWITCHYARD_CONFIG, state: $state/, internal CA: $ca)
    DNS        udp+tcp 127.0.0.1:10053
      dig @127.0.0.1 -p 10053 switchyard.test MX
      dig @127.0.0.1 -p 10053 +tcp www.switchyard.test
    DoH        https://localhost:10443/dns-query (HTTP 10080)
      kdig @127.0.0.1 -p 10443 +https +tls-ca=$ca +tls-hostname=localhost switchyard.test
    HTTPS      https://www.switchyard.test:10443 (http service, proxied to the demo upstream :10980)
      curl --cacert $ca --resolve www.switchyard.test:10443:127.0.0.1 https://www.switchyard.test:10443/
      npx yardctl http sites
    SMTP       127.0.0.1:10025   submission 10587   SMTPS 10465
      swaks --server 127.0.0.1:10025 --to demo@switchyard.test
    edge admin 127.0.0.1:10900 (gRPC)   metrics http://127.0.0.1:10901/metrics
    console    http://127.0.0.1:10902/console/ (log in with the admin token: cat $SWITCHYARD_ADMIN_TOKEN_FILE)
      curl -sI http://127.0.0.1:10902/console/
    NATS       nats://127.0.0.1:10422 (JetStream in $state/nats)
    yardctl
      npx yardctl workers
      npx yardctl routes
      npx yardctl stats
      npx yardctl certs list
  A service that dies is restarted. Ctrl-C stops everything.

INFO
# Until a signal (the trap stops the supervisor), or until the supervisor ends.
wait "$supervisor" || true
