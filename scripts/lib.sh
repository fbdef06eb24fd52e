# Shared by start.sh and test.sh: make a fresh clone runnable.
# shellcheck shell=bash

say() { printf '\033[1m[switchyard]\033[0m %s\n' "$*" >&2; }

# ensure_commands "cmd:debian-package" ...: installs missing Debian packages when root, else names them.
ensure_commands() {
  local missing=() pkgs=() pair cmd pkg
  for pair in "$@"; do
    cmd=${pair%%:*}
    pkg=${pair#*:}
    if ! command -v "$cmd" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$cmd" ] && [ ! -x "/usr/bin/$cmd" ]; then
      missing+=("$cmd")
      pkgs+=("$pkg")
    fi
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing Debian packages: ${pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
  else
    say "missing: ${missing[*]}. Install the Debian packages: sudo apt-get install ${pkgs[*]}"
    return 1
  fi
}

# ensure_node_modules: install from the lock file when node_modules is missing or older than it.
# `npm install` rather than `npm ci`: some npm 11 setups write lock files without other platforms'
# optional packages (biome, buf, turbo binaries), which `npm ci` then refuses as out of sync.
ensure_node_modules() {
  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    say "installing npm dependencies"
    npm install --no-audit --no-fund --loglevel=error
  fi
}
