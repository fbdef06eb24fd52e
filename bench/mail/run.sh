#!/usr/bin/env bash
# bench/mail: the one command. Checks for Postfix, builds the repo if the edge or the mail service is
# not built, raises the fd limit, runs bench.mjs (which starts the edge, one mail replica and private
# Postfix instances on free ports of 127.0.0.1 and stops them again), and stops whatever is left on exit.
#
#   bash bench/mail/run.sh        # markdown table on stdout, bench/results/mail-<date>.json
#
# Settings: see the top of bench/mail/bench.mjs (BENCH_ROUNDS, BENCH_SECONDS, BENCH_CONC, ...).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

say() { printf '# %s\n' "$*" >&2; }

if ! command -v postfix >/dev/null 2>&1 && [[ ! -x /usr/sbin/postfix ]]; then
  if [[ $(id -u) -ne 0 ]]; then
    say "missing: postfix — install it with: sudo apt-get install -y postfix (it need not run)"
    exit 1
  fi
  say "installing postfix (not started: the benchmark runs its own instances)"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postfix >&2
fi
export PATH="$PATH:/usr/sbin"
if [[ $(id -u) -ne 0 ]]; then
  say "Postfix instances with their own config_directory must be started as root"
  exit 1
fi

if [[ ! -d node_modules ]]; then
  say "node_modules is missing: run npm install (or npm test) at the repo root first"
  exit 1
fi
if [[ ! -f services/edge/dist/main.js || ! -f services/mail/dist/main.js ]]; then
  say "building the repo (npx turbo run build)"
  TURBO_TELEMETRY_DISABLED=1 npx turbo run build --output-logs=errors-only >&2
fi

ulimit -n 65536 2>/dev/null || true

# bench.mjs runs in its own process group, so whatever it started (edge, mail, Postfix masters) goes
# with it on exit, even if it is killed before it can stop them itself.
bench_pid=""
cleanup() {
  if [[ -n "$bench_pid" ]] && kill -0 "$bench_pid" 2>/dev/null; then
    kill -TERM -- "-$bench_pid" 2>/dev/null || true
    sleep 2
    kill -KILL -- "-$bench_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

setsid node "$here/bench.mjs" &
bench_pid=$!
wait "$bench_pid"
