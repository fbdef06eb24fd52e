#!/usr/bin/env bash
# Regenerates packages/proto/src/gen from proto/**/*.proto with the repo's own buf
# and ts-proto (no network): TypeScript stubs plus the binary FileDescriptorSet
# that gRPC server reflection serves.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

buf="node_modules/.bin/buf"
plugin="node_modules/.bin/protoc-gen-ts_proto"
out="packages/proto/src/gen"

for tool in "$buf" "$plugin"; do
  if [[ ! -x "$tool" ]]; then
    echo "generate-proto: $tool is missing; run npm install at the repo root" >&2
    exit 1
  fi
done

# buf.gen.yaml has clean: true, so stale files of removed .proto files disappear.
"$buf" generate --template buf.gen.yaml
"$buf" build --as-file-descriptor-set -o "$out/descriptors.binpb"
