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

source bench/lib.sh

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

ensure_built services/edge/dist/main.js services/mail/dist/main.js

ulimit -n 65536 2>/dev/null || true

# Postfix masters take longer than a second to stop (read by the exit trap, so not a prefix).
BENCH_KILL_GRACE=2
run_in_group node "$here/bench.mjs"
