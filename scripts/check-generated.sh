#!/usr/bin/env bash
# Fails when the committed generated code differs from what the .proto files produce.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

gen="packages/proto/src/gen"
bash scripts/generate-proto.sh

status=0
if ! git diff --exit-code --stat -- "$gen"; then
  status=1
fi
untracked="$(git ls-files --others --exclude-standard -- "$gen")"
if [[ -n "$untracked" ]]; then
  echo "untracked generated files:" >&2
  echo "$untracked" >&2
  status=1
fi
if [[ "$status" -ne 0 ]]; then
  echo "check-generated: $gen is out of date; run 'npm run generate' and commit the result" >&2
fi
exit "$status"
