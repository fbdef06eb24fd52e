# Shared by start.sh and test.sh: make a fresh clone runnable.
# shellcheck shell=bash

say() { printf '\033[1m[switchyard]\033[0m %s\n' "$*" >&2; }

# turbo prints a telemetry notice into a first run's output otherwise.
export TURBO_TELEMETRY_DISABLED=1

# Where system binaries live besides PATH (a non-root PATH often lacks the sbin directories).
SWITCHYARD_SBIN_PATH=${SWITCHYARD_SBIN_PATH-/usr/local/sbin:/usr/sbin:/sbin}

# has_command CMD: CMD is on PATH or in SWITCHYARD_SBIN_PATH.
has_command() {
  PATH="$PATH${SWITCHYARD_SBIN_PATH:+:$SWITCHYARD_SBIN_PATH}" command -v "$1" >/dev/null 2>&1
}

# has_requirement WHAT: a command (has_command), or a Perl module when WHAT has "::" (swaks needs
# Net::SSLeay for --tls, and Debian's swaks only recommends it).
has_requirement() {
  if [[ $1 == *::* ]]; then perl -M"$1" -e 1 >/dev/null 2>&1; else has_command "$1"; fi
}

# ensure_commands "cmd:debian-package" ...: installs missing Debian packages when root, else names them.
# Name the exact binary the caller runs (dockerd, not docker: a machine may ship only the client);
# "Perl::Module:debian-package" checks that Perl loads the module.
ensure_commands() {
  local missing=() pkgs=() pair cmd pkg
  for pair in "$@"; do
    cmd=${pair%:*}
    pkg=${pair##*:}
    if ! has_requirement "$cmd"; then
      missing+=("$cmd")
      # One package may provide several of the missing commands.
      [[ " ${pkgs[*]} " == *" $pkg "* ]] || pkgs+=("$pkg")
    fi
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    say "missing: ${missing[*]}. Install the Debian packages: sudo apt-get install ${pkgs[*]}"
    return 1
  fi
  say "installing Debian packages: ${pkgs[*]} (for ${missing[*]})"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null || say "apt-get update failed; trying the install anyway"
  if ! apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null; then
    say "apt-get install ${pkgs[*]} failed"
    return 1
  fi
  local still=()
  for cmd in "${missing[@]}"; do has_requirement "$cmd" || still+=("$cmd"); done
  if [ ${#still[@]} -gt 0 ]; then
    say "still missing after installing ${pkgs[*]}: ${still[*]}"
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
