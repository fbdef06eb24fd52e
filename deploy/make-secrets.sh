#!/usr/bin/env bash
# Creates the compose secrets once: deploy/secrets/{admin.token,kv.key} and one NATS login per role,
# deploy/secrets/nats-<role>.cred ("role:password"; dns, mail, certs, nftables, admin) — or in the
# directory given. Existing files are kept. The containers run as uid 1000 and docker-compose
# mounts secret files as they are, so the files belong to uid 1000 with mode 0400.
set -euo pipefail
dir=${1:-"$(dirname "$0")/secrets"}
mkdir -p "$dir"
chmod 0700 "$dir"
# 32 random bytes as 64 hex characters: the format readToken and loadKvKey accept.
random_hex() { od -An -N32 -tx1 /dev/urandom | tr -d ' \n'; }
files=()
for name in admin.token kv.key; do
  file="$dir/$name"
  files+=("$file")
  [ -s "$file" ] && continue
  (umask 077 && random_hex >"$file" && echo >>"$file")
  echo "created $file"
done
# The roles of packages/runtime/src/nats/nats-permissions.ts (NATS_ROLES).
for role in dns mail certs nftables http admin; do
  file="$dir/nats-$role.cred"
  files+=("$file")
  [ -s "$file" ] && continue
  (umask 077 && echo "$role:$(random_hex)" >"$file")
  echo "created $file"
done
if [ "$(id -u)" -eq 0 ]; then
  chown 1000:1000 "${files[@]}"
  chmod 0400 "${files[@]}"
elif [ "$(id -u)" -ne 1000 ]; then
  echo "the containers run as uid 1000: sudo chown 1000:1000 $dir/*" >&2
fi
