#!/usr/bin/env bash
# bench/http: the one command. Installs what is missing (nginx, haproxy, caddy, wrk, h2load) when
# root, builds the repo if services/http is not built, raises the fd limit, runs bench.mjs in its own
# process group (every server on free 127.0.0.1 ports) and stops whatever is left on exit.
#
#   bash bench/http/run.sh      # markdown table on stdout, bench/results/http-<date>.json
#
# Settings: BENCH_SECONDS (5 per row), BENCH_CONNECTIONS (50), BENCH_IDLE (10000 idle connections; the fd limit must be above ~16,000).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"
source bench/lib.sh

need_apt=()
command -v nginx >/dev/null 2>&1 || need_apt+=(nginx-light)
command -v haproxy >/dev/null 2>&1 || need_apt+=(haproxy)
command -v caddy >/dev/null 2>&1 || need_apt+=(caddy)
command -v wrk >/dev/null 2>&1 || need_apt+=(wrk)
command -v h2load >/dev/null 2>&1 || need_apt+=(nghttp2-client)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
if ((${#need_apt[@]} > 0)); then
  if [[ $(id -u) -ne 0 ]]; then
    say "missing: ${need_apt[*]} — install them with: sudo apt-get install -y ${need_apt[*]}"
    exit 1
  fi
  say "installing ${need_apt[*]}"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >&2
fi

ensure_built services/http/dist/main.js services/edge/dist/main.js packages/testkit/dist/index.js

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
if (($(ulimit -n) < 16000)); then
  say "the fd limit is $(ulimit -n); 10,000 idle connections need more (run as root or raise the hard limit)"
  exit 1
fi

run_in_group node "$here/bench.mjs"
