#!/usr/bin/env bash
# Make Docker usable for the deploy tests on a machine with no container registry:
#   1. the Debian packages docker.io (dockerd), containerd, docker-compose (the command the deploy
#      tests run) and mmdebstrap, each checked by the binary used (installed when root, else named);
#   2. a Docker daemon: reuse one that answers, else start dockerd in the background
#      (log: .switchyard/dockerd.log) and wait until `docker info` works;
#   3. the Dockerfile's default base image (node:20-bookworm-slim) when it is missing: a minimal
#      Debian root (mmdebstrap minbase) plus this host's Node and npm, laid out as in the official
#      image, trusting this host's CA bundle (NODE_EXTRA_CA_CERTS), so builds never pull.
# Idempotent and quick when everything is there. Run it, or source it and call ensure_docker.
# shellcheck shell=bash

SWITCHYARD_BASE_IMAGE=${SWITCHYARD_BASE_IMAGE:-node:20-bookworm-slim}

# ensure_dockerd: a daemon that answers `docker info`, started here when none runs.
ensure_dockerd() {
  if docker info >/dev/null 2>&1; then return 0; fi
  local log=.switchyard/dockerd.log
  mkdir -p .switchyard
  if ! pgrep -x dockerd >/dev/null 2>&1; then
    if [ "$(id -u)" -ne 0 ]; then
      say "no Docker daemon answers and starting one needs root: sudo systemctl start docker"
      return 1
    fi
    say "starting dockerd (log: $log)"
    # setsid: the daemon outlives this script and is not in its process group.
    PATH="$PATH${SWITCHYARD_SBIN_PATH:+:$SWITCHYARD_SBIN_PATH}" setsid dockerd >>"$log" 2>&1 </dev/null &
  fi
  local deadline=$((SECONDS + 60))
  until docker info >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then
      say "dockerd did not answer within 60 s; see $log"
      tail -n 20 "$log" >&2 2>/dev/null || true
      return 1
    fi
    sleep 0.5
  done
}

# ensure_base_image: the Dockerfile's default base, built locally from Debian and the host's Node.
ensure_base_image() {
  local tag=$SWITCHYARD_BASE_IMAGE
  mkdir -p .switchyard
  if docker image inspect "$tag" >/dev/null 2>&1; then return 0; fi
  local node npm_dir include ca
  node=$(command -v node)
  npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
  include=$(dirname "$(dirname "$node")")/include/node
  ca=/etc/ssl/certs/ca-certificates.crt
  [ -f "$ca" ] || ca=""
  say "building base image $tag: Debian minbase + host Node $("$node" --version) (no registry here)"
  local suite
  suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
  # The official image's layout: node, npm and the headers under /usr/local, user node (1000:1000).
  local hook='set -e; r="$1"; mkdir -p "$r/usr/local/bin" "$r/usr/local/lib/node_modules" "$r/usr/local/include";'
  hook+=" cp -a '$node' \"\$r/usr/local/bin/node\";"
  hook+=" cp -a '$npm_dir' \"\$r/usr/local/lib/node_modules/npm\";"
  hook+=' ln -s ../lib/node_modules/npm/bin/npm-cli.js "$r/usr/local/bin/npm";'
  hook+=' ln -s ../lib/node_modules/npm/bin/npx-cli.js "$r/usr/local/bin/npx";'
  [ -d "$include" ] && hook+=" cp -a '$include' \"\$r/usr/local/include/node\";"
  [ -n "$ca" ] && hook+=" mkdir -p \"\$r/etc/ssl/certs\"; cp -L '$ca' \"\$r/etc/ssl/certs/ca-certificates.crt\";"
  hook+=' chroot "$r" groupadd --gid 1000 node; chroot "$r" useradd --uid 1000 --gid node --shell /bin/bash --create-home node;'
  hook+=' rm -rf "$r/var/lib/apt/lists/"* "$r/var/cache/apt/"*.bin'
  local changes=(
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
    --change "ENV NODE_VERSION=$("$node" --version | tr -d v)"
    --change 'CMD ["node"]'
  )
  [ -n "$ca" ] && changes+=(--change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt')
  local tar log=.switchyard/base-image.log
  tar=$(mktemp --suffix=.tar)
  if ! mmdebstrap --variant=minbase --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
    --customize-hook="$hook" "$suite" "$tar" >"$log" 2>&1; then
    rm -f "$tar"
    say "mmdebstrap failed; see $log"
    tail -n 20 "$log" >&2
    return 1
  fi
  docker import "${changes[@]}" --message "switchyard local base: Debian $suite minbase + host Node" \
    "$tar" "$tag" >/dev/null
  local status=$?
  rm -f "$tar"
  return $status
}

ensure_docker() {
  # The engine (dockerd, containerd), not just a client: some images ship /usr/local/bin/docker alone.
  ensure_commands dockerd:docker.io containerd:containerd docker:docker.io \
    docker-compose:docker-compose mmdebstrap:mmdebstrap setsid:util-linux pgrep:procps || return 1
  ensure_dockerd || return 1
  ensure_base_image || return 1
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  cd "$(dirname "$0")/.."
  source scripts/lib.sh
  ensure_docker
  say "docker ready: $(docker version --format '{{.Server.Version}}'), base image $SWITCHYARD_BASE_IMAGE"
fi
