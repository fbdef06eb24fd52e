#!/usr/bin/env bash
# bench/dns: the one command. Checks for knotd, dnsperf and taskset, builds the repo if the dns service
# is not built, runs bench.mjs (which starts Knot and Switchyard on free ports of 127.0.0.1 and stops
# them again), and stops whatever is left on exit.
#
#   bash bench/dns/run.sh                  # results table on stdout, bench/results/dns-<date>.json
#   BENCH_PROFILE=1 bash bench/dns/run.sh  # one replica under --cpu-prof; its top frames
#
# Settings: see the top of bench/dns/bench.mjs (BENCH_ROUNDS, BENCH_SECONDS, BENCH_PIN, ...).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

source bench/lib.sh

need_apt=()
command -v knotd >/dev/null 2>&1 || need_apt+=(knot)
command -v dnsperf >/dev/null 2>&1 || need_apt+=(dnsperf)
command -v taskset >/dev/null 2>&1 || need_apt+=(util-linux)
if ((${#need_apt[@]} > 0)); then
  if [[ $(id -u) -ne 0 ]]; then
    say "missing: ${need_apt[*]} — install them with: sudo apt-get install -y ${need_apt[*]}"
    exit 1
  fi
  say "installing ${need_apt[*]}"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >&2
fi

ensure_built services/dns/dist/main.js services/edge/dist/main.js packages/testkit/dist/index.js

run_in_group node "$here/bench.mjs"
