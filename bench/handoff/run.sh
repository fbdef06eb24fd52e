#!/usr/bin/env bash
# bench/handoff: the one command. Installs what is missing (haproxy, a C compiler), builds the repo if
# the edge is not built, compiles the load generator, raises the fd limit, runs bench.mjs (which starts
# everything on free ports of 127.0.0.1 and stops it again), and stops whatever is left on exit.
#
#   bash bench/handoff/run.sh              # the full benchmark: results table on stdout,
#                                          # bench/results/handoff-<date>.json
#   BENCH_PROFILE=1 bash bench/handoff/run.sh   # profile the edge on the handoff path (--cpu-prof)
#
# Settings: see the top of bench/handoff/bench.mjs (BENCH_ROUNDS, BENCH_RATE_SECONDS, BENCH_PIN, ...).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

source bench/lib.sh

need_apt=()
command -v haproxy >/dev/null 2>&1 || need_apt+=(haproxy)
command -v cc >/dev/null 2>&1 || need_apt+=(gcc libc6-dev)
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

ensure_built services/edge/dist/main.js packages/worker/dist/index.js services/stream/dist/main.js \
  'services/stream/build/Release/*.node' 'packages/handoff/build/Release/*.node'

loadgen="$here/.loadgen"
if [[ ! -x "$loadgen" || "$here/loadgen.c" -nt "$loadgen" ]]; then
  say "compiling the load generator"
  cc -O2 -Wall -Wextra -o "$loadgen" "$here/loadgen.c"
fi

# 5,000 held connections need ~5,000 fds in the worker and in the load generator.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
if (($(ulimit -n) < 12000)); then
  say "the fd limit is $(ulimit -n); 5,000 held connections need more (run as root or raise the hard limit)"
  exit 1
fi

LOADGEN="$loadgen" run_in_group node --experimental-websocket --disable-warning=ExperimentalWarning "$here/bench.mjs"
