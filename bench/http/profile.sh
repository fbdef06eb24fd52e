#!/usr/bin/env bash
# Profiles the http worker (node --cpu-prof) while wrk drives one bench/http row, then prints where
# its CPU time went (bench/http/profile-summary.mjs).
#
#   bash bench/http/profile.sh                      # the wrk h1 plain 1K row, 10 s
#   BENCH_ROWS="h1 TLS 1K" bash bench/http/profile.sh
#   BENCH_ROWS=handshakes SKIP_S=5 bash bench/http/profile.sh   # the first 5 s of each profile (startup) left out
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${PROFILE_OUT:-$(mktemp -d /tmp/switchyard-httpprof-XXXXXX)}"
mkdir -p "$out"
BENCH_SERVERS="${BENCH_SERVERS:-switchyard×1}" BENCH_ROWS="${BENCH_ROWS:-plain 1K}" BENCH_IDLE=0 \
  BENCH_SECONDS="${BENCH_SECONDS:-10}" BENCH_PROFILE_DIR="$out" BENCH_OUT="$out/result.json" bash "$here/run.sh"
for f in "$out"/*.cpuprofile; do node "$here/profile-summary.mjs" "$f" "${TOP:-40}"; done
echo "# profiles in $out (open them in Chrome DevTools' Performance panel)" >&2
