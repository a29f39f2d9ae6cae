#!/usr/bin/env bash
# run.sh SECONDS JOBS TARGET... — runs each libFuzzer target for SECONDS,
# JOBS of them at a time (the machine's cores, not one after another: CI's
# time is the sum otherwise), each from its seed corpus and dictionary.
# A target that finds a crash prints the tail of its log; every target is
# run either way. The last line is "N passed, N failed".
set -u
secs=$1 jobs=$2; shift 2
one() {
  local t=$1 secs=$2
  mkdir -p "build/fuzz/corpus-$t"
  if build/fuzz/"$t" -max_total_time="$secs" -max_len=65536 -timeout=10 \
       -dict="tests/fuzz/$t.dict" -print_final_stats=1 \
       "build/fuzz/corpus-$t" "tests/fuzz/corpus/$t" 2>"build/fuzz/$t.log"; then
    echo "fuzz: $t ok ($(grep -oE 'stat::number_of_executed_units: *[0-9]+' "build/fuzz/$t.log" | grep -oE '[0-9]+$') runs in ${secs}s)"
  else
    echo "fuzz: $t FAILED"; tail -40 "build/fuzz/$t.log"; echo "FUZZFAIL $t"
  fi
}
export -f one
out=$(printf '%s\n' "$@" | xargs -P "$jobs" -I{} bash -c 'one "$1" "$2"' _ {} "$secs")
echo "$out" | grep -v '^FUZZFAIL '
failed=$(echo "$out" | grep -c '^FUZZFAIL ')
echo "$(($# - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
