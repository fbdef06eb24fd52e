# Sourced by bench/*/run.sh (after `cd` to the repo root): what every benchmark runner does the
# same way. The installs stay in each runner: each needs other packages and checks.

say() { printf '# %s\n' "$*" >&2; }

# ensure_built FILE...: npm dependencies present, and the repo built when any FILE is missing.
ensure_built() {
  if [[ ! -d node_modules ]]; then
    say "node_modules is missing: run npm install (or npm test) at the repo root first"
    exit 1
  fi
  local f
  for f in "$@"; do
    if ! ls $f >/dev/null 2>&1; then
      say "building the repo (npx turbo run build)"
      TURBO_TELEMETRY_DISABLED=1 npx turbo run build --output-logs=errors-only >&2
      return
    fi
  done
}

# run_in_group COMMAND...: runs the benchmark in its own process group and waits for it; on exit,
# however it comes, whatever it started goes with it (TERM, then KILL after BENCH_KILL_GRACE
# seconds), even if it is killed before it can stop its children itself. A runner may define
# bench_cleanup, run after that (e.g. to remove network namespaces).
run_in_group() {
  bench_pid=""
  trap _bench_cleanup EXIT
  trap 'exit 130' INT TERM
  setsid "$@" &
  bench_pid=$!
  wait "$bench_pid"
}

_bench_cleanup() {
  if [[ -n "$bench_pid" ]] && kill -0 "$bench_pid" 2>/dev/null; then
    kill -TERM -- "-$bench_pid" 2>/dev/null || true
    sleep "${BENCH_KILL_GRACE:-1}"
    kill -KILL -- "-$bench_pid" 2>/dev/null || true
  fi
  if declare -F bench_cleanup >/dev/null; then bench_cleanup; fi
}
