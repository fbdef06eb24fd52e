#!/usr/bin/env bash
# bench/nftables: the one command. Needs root (network namespaces, nftables). Builds the repo if the
# agent or the edge is not built, compiles bench/handoff's load generator, runs bench.mjs (which makes
# three namespaces, runs everything inside them and removes them again), and cleans up on exit.
#
#   sudo bash bench/nftables/run.sh    # markdown tables on stdout, bench/results/nftables-<date>.json
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

source bench/lib.sh

if [[ $(id -u) -ne 0 ]]; then
  say "bench/nftables needs root (network namespaces and nftables)"
  exit 1
fi
for cmd in ip nft cc; do
  command -v "$cmd" >/dev/null 2>&1 || {
    say "missing: $cmd (apt-get install -y iproute2 nftables gcc libc6-dev)"
    exit 1
  }
done
ensure_built services/nftables/dist/main.js services/edge/dist/main.js

loadgen="$root/bench/handoff/.loadgen"
if [[ ! -x "$loadgen" || "$root/bench/handoff/loadgen.c" -nt "$loadgen" ]]; then
  say "compiling the load generator"
  cc -O2 -Wall -Wextra -o "$loadgen" "$root/bench/handoff/loadgen.c"
fi
ulimit -n 65536 2>/dev/null || true

# Namespaces of a run that died before its own cleanup (run_in_group calls this on exit).
bench_cleanup() {
  for ns in $(ip netns list | awk '{print $1}' | grep -E "^sybench${bench_pid}-" || true); do ip netns del "$ns"; done
}

LOADGEN="$loadgen" run_in_group node "$here/bench.mjs"
