#!/usr/bin/env bash
# Runs every test binary under $BUILD/tests and every tests/t_*.sh script,
# each forked with a timeout; prints one summary line last: "N passed, N failed".
#   tests/run.sh [FILTER]     FILTER: substring of "binary.test" names (the
#                             binaries' tests) and of script names
#   TEST_JOBS=N               N at a time (default 1); most of a test's time
#                             is spent waiting on the processes it drives, so
#                             two share two cores well. Each one's output is
#                             printed whole when it ends; the longest (by the
#                             last run here, else tests/durations) start
#                             first; a test whose source has the line
#                             "run.sh: alone" (a comment) runs with no other
#                             beside it.
set -u
BUILD=${BUILD:-build}
filter=${1:-}
jobs_max=${TEST_JOBS:-1}
here=$(cd "$(dirname "$0")" && pwd)
passed=0 failed=0
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
times=$BUILD/tests/.durations   # "name seconds" lines from the last run here
[ -f "$times" ] || times=$here/durations

# tally NAME LOG RC: adds the log's "N passed, N failed" line to the totals
tally() {
  local name=$1 log=$2 rc=$3 line p f
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

# What to run: every binary (the filter picks among its tests), the scripts
# whose names hold the filter; longest first by the figures at hand.
names=()
for t in "$BUILD"/tests/test_*; do
  [ -x "$t" ] && names+=("$(basename "$t")")
done
for s in "$here"/t_*.sh; do
  name=$(basename "$s" .sh)
  if [ -n "$filter" ] && [[ "$name" != *"$filter"* ]]; then continue; fi
  names+=("$name")
done
if [ -f "$times" ] && [ ${#names[@]} -gt 0 ]; then
  mapfile -t names < <(for n in "${names[@]}"; do
    echo "$(awk -v n="$n" '$1 == n { s = $2 } END { print s + 0 }' "$times") $n"
  done | sort -k1,1nr -k2 | cut -d' ' -f2)
fi

source_of() { # NAME: the file that says whether it runs alone
  if [[ $1 == test_* ]]; then echo "$here/$1.c"; else echo "$here/$1.sh"; fi
}
alone() { grep -q 'run.sh: alone' "$(source_of "$1")" 2>/dev/null; }
# those that run alone first: later, the pool would idle while they wait
solo=() pool=()
for n in "${names[@]}"; do
  if alone "$n"; then solo+=("$n"); else pool+=("$n"); fi
done
names=("${solo[@]}" "${pool[@]}")

# one NAME: runs it into $work/NAME.log, its status and seconds beside
one() {
  local name=$1 t0=$SECONDS
  if [[ $name == test_* ]]; then
    CPT_FILTER="$filter" "$BUILD/tests/$name" >"$work/$name.log" 2>&1
  else
    BUILD=$BUILD timeout "${SCRIPT_TIMEOUT:-600}" bash "$here/$name.sh" >"$work/$name.log" 2>&1
  fi
  echo $? >"$work/$name.rc.tmp"
  echo $((SECONDS - t0)) >"$work/$name.sec"
  mv "$work/$name.rc.tmp" "$work/$name.rc"
}

declare -A reported=()
: >"$work/seconds"
# report: prints and tallies every test that has ended and was not reported
report() {
  local n
  for n in "${names[@]}"; do
    [ -z "${reported[$n]:-}" ] && [ -f "$work/$n.rc" ] || continue
    reported[$n]=1
    echo "== $n"
    cat "$work/$n.log"
    tally "$n" "$work/$n.log" "$(cat "$work/$n.rc")"
    echo "-- $n: $(cat "$work/$n.sec") s"
    # (a binary run with a filter ran a few of its tests: not its figure)
    if [ -z "$filter" ] || [[ $n != test_* ]]; then echo "$n $(cat "$work/$n.sec")" >>"$work/seconds"; fi
  done
}

running=0
for n in "${names[@]}"; do
  limit=$jobs_max
  alone "$n" && limit=1
  while [ "$running" -ge "$limit" ]; do
    wait -n
    running=$((running - 1))
    report
  done
  one "$n" &
  running=$((running + 1))
  if [ "$limit" -eq 1 ]; then wait; running=0; report; fi
done
wait
report
# Keep the figures of what did not run this time (a filtered run).
if [ -f "$BUILD/tests/.durations" ]; then
  awk 'NR == FNR { seen[$1] = 1; print; next } !($1 in seen)' "$work/seconds" \
    "$BUILD/tests/.durations" >"$work/all"
else
  cp "$work/seconds" "$work/all"
fi
[ -d "$BUILD/tests" ] && cp "$work/all" "$BUILD/tests/.durations"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
