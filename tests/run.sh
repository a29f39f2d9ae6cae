#!/usr/bin/env bash
# Runs every test binary under $BUILD/tests (and tests/t_*.sh scripts), each
# test forked with a timeout; prints one summary line last: "N passed, N failed".
#   tests/run.sh [FILTER]     FILTER: substring of "binary.test" names
set -u
BUILD=${BUILD:-build}
filter=${1:-}
here=$(cd "$(dirname "$0")" && pwd)
passed=0 failed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
run_one() { # name, command...
  local name=$1; shift
  "$@" >"$log" 2>&1
  local rc=$?
  cat "$log"
  local line p f
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
  if [ -n "$line" ]; then
    p=${line%% passed*}; f=${line#*, }; f=${f%% failed*}
    passed=$((passed + p)); failed=$((failed + f))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
      echo "  FAIL $name: exited $rc"; failed=$((failed + 1))
    fi
  else
    echo "  FAIL $name: exited $rc without a summary"; failed=$((failed + 1))
  fi
}
for t in "$BUILD"/tests/test_*; do
  [ -x "$t" ] || continue
  echo "== $(basename "$t")"
  t0=$SECONDS
  CPT_FILTER="$filter" run_one "$(basename "$t")" "$t"
  echo "-- $(basename "$t"): $((SECONDS - t0)) s"
done
for s in "$here"/t_*.sh; do
  [ -f "$s" ] || continue
  name=$(basename "$s" .sh)
  if [ -n "$filter" ] && [[ "$name" != *"$filter"* ]]; then continue; fi
  echo "== $name"
  t0=$SECONDS
  BUILD=$BUILD run_one "$name" timeout "${SCRIPT_TIMEOUT:-600}" bash "$s"
  echo "-- $name: $((SECONDS - t0)) s"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
