#!/usr/bin/env bash
# Runs every test binary under $BUILD/tests (and tests/t_*.sh scripts), each
# test forked with a timeout; prints one summary line last: "N passed, N failed".
#   tests/run.sh [FILTER]     FILTER: substring of "binary.test" names
#   TEST_JOBS=N               scripts run N at a time (default 1); most of a
#                             script's time is spent waiting on the processes
#                             it drives, so two share two cores well. Each
#                             script's output is printed whole when it ends;
#                             the longest (by the last run here) start first;
#                             a script with the line "# run.sh: alone" runs
#                             with no other beside it.
set -u
BUILD=${BUILD:-build}
filter=${1:-}
jobs_max=${TEST_JOBS:-1}
here=$(cd "$(dirname "$0")" && pwd)
passed=0 failed=0
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
times=$BUILD/tests/.script-seconds   # "name seconds" lines from the last run

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

for t in "$BUILD"/tests/test_*; do
  [ -x "$t" ] || continue
  name=$(basename "$t")
  echo "== $name"
  t0=$SECONDS
  CPT_FILTER="$filter" "$t" >"$work/log" 2>&1
  rc=$?
  cat "$work/log"
  tally "$name" "$work/log" $rc
  echo "-- $name: $((SECONDS - t0)) s"
done

# The scripts to run, longest first by the last run's figures.
scripts=()
for s in "$here"/t_*.sh; do
  name=$(basename "$s" .sh)
  if [ -n "$filter" ] && [[ "$name" != *"$filter"* ]]; then continue; fi
  scripts+=("$name")
done
if [ -f "$times" ] && [ ${#scripts[@]} -gt 0 ]; then
  mapfile -t scripts < <(for n in "${scripts[@]}"; do
    echo "$(awk -v n="$n" '$1 == n { s = $2 } END { print s + 0 }' "$times") $n"
  done | sort -k1,1nr -k2 | cut -d' ' -f2)
fi

# one_script NAME: runs it into $work/NAME.log, its status and seconds beside
one_script() {
  local name=$1 t0=$SECONDS
  BUILD=$BUILD timeout "${SCRIPT_TIMEOUT:-600}" bash "$here/$name.sh" >"$work/$name.log" 2>&1
  echo $? >"$work/$name.rc.tmp"
  echo $((SECONDS - t0)) >"$work/$name.sec"
  mv "$work/$name.rc.tmp" "$work/$name.rc"
}

declare -A reported=()
: >"$work/seconds"
# report: prints and tallies every script that has ended and was not reported
report() {
  local n
  for n in "${scripts[@]}"; do
    [ -z "${reported[$n]:-}" ] && [ -f "$work/$n.rc" ] || continue
    reported[$n]=1
    echo "== $n"
    cat "$work/$n.log"
    tally "$n" "$work/$n.log" "$(cat "$work/$n.rc")"
    echo "-- $n: $(cat "$work/$n.sec") s"
    echo "$n $(cat "$work/$n.sec")" >>"$work/seconds"
  done
}

running=0
for n in "${scripts[@]}"; do
  # A script whose checks time answers in milliseconds says "run.sh: alone"
  # (a line of its own): it runs with no other script beside it.
  limit=$jobs_max
  grep -qx '# run.sh: alone' "$here/$n.sh" && limit=1
  while [ "$running" -ge "$limit" ]; do
    wait -n
    running=$((running - 1))
    report
  done
  one_script "$n" &
  running=$((running + 1))
  if [ "$limit" -eq 1 ]; then wait; running=0; report; fi
done
wait
report
# Keep the figures of scripts not run this time (a filtered run).
if [ -f "$times" ]; then
  awk 'NR == FNR { seen[$1] = 1; print; next } !($1 in seen)' "$work/seconds" "$times" >"$work/all"
else
  cp "$work/seconds" "$work/all"
fi
[ -d "$BUILD/tests" ] && cp "$work/all" "$times"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
