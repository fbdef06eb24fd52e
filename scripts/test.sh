#!/usr/bin/env bash
# `npm test`: install what is missing, build, lint, check generated code, run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_commands nats-server:nats-server ip:iproute2 kdig:knot-dnsutils dig:dnsutils swaks:swaks \
  knotd:knot unbound:unbound unbound-checkconf:unbound pebble:pebble nft:nftables setpriv:util-linux unshare:util-linux \
  tc:iproute2 git:git haproxy:haproxy nginx:nginx Net::SSLeay:libnet-ssleay-perl cc:gcc make:make python3:python3 \
  /usr/bin/chromium:chromium /usr/bin/systemd-notify:systemd
ensure_node_modules
# The deploy tests (tests/deploy) need a Docker daemon and the local base image.
source scripts/ensure-docker.sh
ensure_docker

say "building"
npx turbo run build --output-logs=errors-only
say "linting"
npx biome check .
say "checking generated protobuf code"
bash scripts/check-generated.sh

say "running tests"
# SWITCHYARD_TEST_SHUFFLE=<seed>: the tests of each describe block run in a seeded random order
# (scripts/test-shuffle.mjs), to catch a test that leans on an earlier one. CI always shuffles, with
# the fixed seed below unless one is given (so a run is reproducible); `off` runs in file order.
shuffle=${SWITCHYARD_TEST_SHUFFLE:-}
if [ -z "$shuffle" ] && [ "${CI:-}" = true ]; then shuffle=20261204; fi
unit_env=()
if [ -n "$shuffle" ] && [ "$shuffle" != off ]; then
  unit_env=(env SWITCHYARD_TEST_SHUFFLE="$shuffle" NODE_OPTIONS="${NODE_OPTIONS:+$NODE_OPTIONS }--import=$PWD/scripts/test-shuffle.mjs")
  say "tests shuffled within describe blocks, seed $shuffle (SWITCHYARD_TEST_SHUFFLE=$shuffle npm test replays it)"
fi
# One runner over every package's compiled tests so the summary covers the whole repo.
# Concurrency 2: tests start real processes and this machine has 2 cores.
mapfile -t dirs < <(ls -d packages/*/dist services/*/dist 2>/dev/null)
mkdir -p .switchyard
tap=.switchyard/test-results.tap
status=0
"${unit_env[@]}" node --test --test-concurrency=2 --test-timeout=120000 \
  --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination="$tap" \
  "${dirs[@]}" || status=$?
# System tests (tests/*: the Docker deploy, the soak) start whole stacks (the deploy builds images): run after the rest,
# alone, with a deadline per file that fits an image build (the build cache makes reruns quick).
mapfile -t systems < <(ls -d tests/*/dist 2>/dev/null)
if [ ${#systems[@]} -gt 0 ]; then
  node --test --test-concurrency=1 --test-timeout=1500000 \
    --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter=tap --test-reporter-destination="$tap.systems" \
    "${systems[@]}" || status=$?
  cat "$tap.systems" >>"$tap"
fi
passed=$(grep -E '^# pass ' "$tap" | awk '{n += $3} END {print n + 0}')
# A test cancelled by the timeout is a failure too.
failed=$(grep -E '^# (fail|cancelled) ' "$tap" | awk '{n += $3} END {print n + 0}')
echo "${passed:-0} passed, ${failed:-0} failed"
exit "$status"
