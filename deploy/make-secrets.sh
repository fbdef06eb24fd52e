#!/usr/bin/env bash
# Creates the compose secrets once: deploy/secrets/{admin.token,kv.key,nats.token} (or in the
# directory given). Existing files are kept. The containers run as uid 1000 and docker-compose
# mounts secret files as they are, so the files belong to uid 1000 with mode 0400.
set -euo pipefail
dir=${1:-"$(dirname "$0")/secrets"}
mkdir -p "$dir"
chmod 0700 "$dir"
for name in admin.token kv.key nats.token; do
  file="$dir/$name"
  [ -s "$file" ] && continue
  # 32 random bytes as 64 hex characters: the format readToken and loadKvKey accept.
  (umask 077 && od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$file" && echo >>"$file")
  echo "created $file"
done
if [ "$(id -u)" -eq 0 ]; then
  chown 1000:1000 "$dir"/admin.token "$dir"/kv.key "$dir"/nats.token
  chmod 0400 "$dir"/admin.token "$dir"/kv.key "$dir"/nats.token
elif [ "$(id -u)" -ne 1000 ]; then
  echo "the containers run as uid 1000: sudo chown 1000:1000 $dir/*" >&2
fi
