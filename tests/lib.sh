# lib.sh — helpers for tests/t_*.sh: each check is one test; the script's
# last line is "N passed, N failed". Every process a script starts is
# recorded and killed by pid on exit.
set -u
BUILD=${BUILD:-build}
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"
T_PASS=0 T_FAIL=0 T_PIDS=()
T_TMP=$(mktemp -d /tmp/cpt-sh.XXXXXX)
chmod 700 "$T_TMP"
# Newest first, each waited for: a producer or job stops before the Kafka it
# talks to (stopped the other way round, a producer waits out its delivery
# timeout).
t_cleanup() {
  local i
  for ((i = ${#T_PIDS[@]} - 1; i >= 0; i--)); do
    kill "${T_PIDS[i]}" 2>/dev/null && wait "${T_PIDS[i]}" 2>/dev/null
  done
  rm -rf "$T_TMP"
}
trap t_cleanup EXIT
[ -n "${T_KEEP:-}" ] && trap 'echo "kept $T_TMP"' EXIT
ok()   { T_PASS=$((T_PASS + 1)); echo "  ok   $1"; }
fail() { T_FAIL=$((T_FAIL + 1)); echo "  FAIL $1${2:+: $2}"; }
# check NAME COMMAND...: passes when the command exits 0
check() { local n=$1; shift; if "$@" >"$T_TMP/out" 2>&1; then ok "$n"; else fail "$n" "$(tail -3 "$T_TMP/out" | tr '\n' ' ')"; fi; }
# wait_for SECONDS COMMAND...: polls until the command succeeds
wait_for() { local s=$1; shift; local i; for ((i = 0; i < s * 10; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done; return 1; }
bg() { "$@" >>"$T_TMP/bg.log" 2>&1 & T_PIDS+=($!); }
t_done() { echo "$T_PASS passed, $T_FAIL failed"; [ "$T_FAIL" -eq 0 ]; }
