#!/usr/bin/env bash
# bench/stream udp: UDP forward against direct and nginx's stream module (see udp.mjs). Installs
# nginx and its stream module when root (else names them), builds the repo if needed, runs udp.mjs
# in its own process group and stops whatever is left on exit.
#
#   bash bench/stream/udp.sh     # markdown table on stdout
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here/../.."
say() { printf '# %s\n' "$*" >&2; }

need_apt=()
command -v nginx >/dev/null 2>&1 || need_apt+=(nginx-light)
[[ -f /usr/lib/nginx/modules/ngx_stream_module.so ]] || need_apt+=(libnginx-mod-stream)
if ((${#need_apt[@]} > 0)); then
  if [[ $(id -u) -ne 0 ]]; then
    say "missing: ${need_apt[*]} — install them with: sudo apt-get install -y ${need_apt[*]}"
    exit 1
  fi
  say "installing ${need_apt[*]}"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >&2
fi
if [[ ! -f services/stream/dist/main.js || ! -f services/edge/dist/main.js || ! -f packages/testkit/dist/index.js ]]; then
  say "building the repo (npx turbo run build)"
  TURBO_TELEMETRY_DISABLED=1 npx turbo run build --output-logs=errors-only >&2
fi

bench_pid=""
cleanup() {
  if [[ -n "$bench_pid" ]] && kill -0 "$bench_pid" 2>/dev/null; then
    kill -TERM -- "-$bench_pid" 2>/dev/null || true
    sleep 1
    kill -KILL -- "-$bench_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
setsid node "$here/udp.mjs" &
bench_pid=$!
wait "$bench_pid"
