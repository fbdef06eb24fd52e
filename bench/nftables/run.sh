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

say() { printf '# %s\n' "$*" >&2; }

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
if [[ ! -f services/nftables/dist/main.js || ! -f services/edge/dist/main.js ]]; then
  say "building the repo (npx turbo run build)"
  TURBO_TELEMETRY_DISABLED=1 npx turbo run build --output-logs=errors-only >&2
fi

loadgen="$root/bench/handoff/.loadgen"
if [[ ! -x "$loadgen" || "$root/bench/handoff/loadgen.c" -nt "$loadgen" ]]; then
  say "compiling the load generator"
  cc -O2 -Wall -Wextra -o "$loadgen" "$root/bench/handoff/loadgen.c"
fi
ulimit -n 65536 2>/dev/null || true

bench_pid=""
cleanup() {
  if [[ -n "$bench_pid" ]] && kill -0 "$bench_pid" 2>/dev/null; then
    kill -TERM -- "-$bench_pid" 2>/dev/null || true
    sleep 1
    kill -KILL -- "-$bench_pid" 2>/dev/null || true
  fi
  # Namespaces of a run that died before its own cleanup.
  for ns in $(ip netns list | awk '{print $1}' | grep -E "^sybench${bench_pid}-" || true); do ip netns del "$ns"; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

LOADGEN="$loadgen" setsid node "$here/bench.mjs" &
bench_pid=$!
wait "$bench_pid"
