#!/usr/bin/env bash
# run.sh SECONDS JOBS TARGET... — runs each libFuzzer target for SECONDS,
# JOBS of them at a time (the machine's cores, not one after another: CI's
# time is the sum otherwise), each from its seed corpus and dictionary.
# A target that finds a crash prints the tail of its log, then (last, where
# a CI excerpt still shows them) the cause and the input: in base64 when it
# is small, so a crash seen only in CI can be replayed by hand
# (base64 -d > x; build/fuzz/TARGET x). Every target is run either way.
# The last line is "N passed, N failed".
set -u
secs=$1 jobs=$2; shift 2
one() {
  local t=$1 secs=$2 log=build/fuzz/$1.log
  mkdir -p "build/fuzz/corpus-$t" "build/fuzz/crash-$t"
  if build/fuzz/"$t" -max_total_time="$secs" -max_len=65536 -timeout=10 \
       -dict="tests/fuzz/$t.dict" -print_final_stats=1 \
       -artifact_prefix="build/fuzz/crash-$t/" \
       "build/fuzz/corpus-$t" "tests/fuzz/corpus/$t" 2>"$log"; then
    echo "fuzz: $t ok ($(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$') runs in ${secs}s)"
  else
    echo "fuzz: $t FAILED"; tail -40 "$log"
    local cause input
    cause=$(grep -m1 -E 'fuzz invariant failed|runtime error|ERROR: AddressSanitizer|ERROR: libFuzzer' "$log")
    input=$(ls -t "build/fuzz/crash-$t"/* 2>/dev/null | head -1)
    echo "FUZZFAIL $t: ${cause:-no cause in the log}"
    if [ -n "$input" ]; then
      echo "FUZZFAIL $t: input $input ($(stat -c %s "$input") bytes)"
      [ "$(stat -c %s "$input")" -le 4096 ] && base64 -w 0 "$input" | sed "s/^/FUZZFAIL $t: base64 /" && echo
    fi
  fi
}
export -f one
out=$(printf '%s\n' "$@" | xargs -P "$jobs" -I{} bash -c 'one "$1" "$2"' _ {} "$secs")
echo "$out" | grep -v '^FUZZFAIL '
echo "$out" | grep '^FUZZFAIL ' || true
failed=$(echo "$out" | grep '^FUZZFAIL ' | cut -d: -f1 | sort -u | wc -l)
echo "$(($# - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
