#!/usr/bin/env bash
# bench/stream udp: UDP forward against direct and nginx's stream module (see udp.mjs). Installs
# nginx and its stream module when root (else names them), builds the repo if needed, runs udp.mjs
# in its own process group and stops whatever is left on exit.
#
#   bash bench/stream/udp.sh     # markdown table on stdout
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here/../.."
source bench/lib.sh

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
ensure_built services/stream/dist/main.js services/edge/dist/main.js packages/testkit/dist/index.js

run_in_group node "$here/udp.mjs"
