#!/usr/bin/env bash
# cptop --flink against JobManagers gone wrong, over real HTTP
# (tests/flink_hostile.py, one broken way each): a body that is not JSON,
# wrong types, HTTP 500 with Flink's errors, a body dripped past --timeout,
# one that never ends (past the 8 MiB bound), redirects to ftp://, to
# another host and in a loop, a server that accepts and never answers.
# Each --once ends within 10 s, exit 1, naming the request and the
# problem; a redirect on the same host is followed; a dashboard shows the
# problem and DISCONNECTED, and q still quits at once.
. "$(dirname "$0")/lib.sh"
export XDG_RUNTIME_DIR=$T_TMP
CPTOP=$top/$BUILD/bin/cptop
cd "$T_TMP"
command -v python3 >/dev/null || { fail "python3 is needed (the servers)"; t_done; exit 1; }

MODES=(garbage types http500 http500-stats slow endless redirect-ftp redirect-host redirect-loop
       silent redirect-same)
python3 "$top/tests/flink_hostile.py" "$T_TMP" "${MODES[@]}" >>"$T_TMP/srv.log" 2>&1 &
T_PIDS+=($!)
for m in "${MODES[@]}"; do
  wait_for 15 test -s "$T_TMP/$m.port" || fail "the $m server did not start" "$(tail -2 "$T_TMP/srv.log")"
done
url() { echo "http://127.0.0.1:$(cat "$T_TMP/$1.port")"; }

# all at once (each waits out its --timeout), each timed
for m in "${MODES[@]}"; do
  (t0=$(date +%s%N)
   timeout 20 "$CPTOP" --flink "$(url "$m")" --once --timeout 3000 >"$m.out" 2>&1
   echo "$? $((($(date +%s%N) - t0) / 1000000))" >"$m.rc") &
done
wait_for 25 sh -c "test \$(ls $T_TMP/*.rc | wc -l) -eq ${#MODES[@]}"

# expect MODE REGEX WHAT: exit 1 within 10 s, the message matching REGEX
expect() {
  local m=$1 re=$2 what=$3 rc ms
  read -r rc ms < "$m.rc" || { fail "$m: no result"; return; }
  if [ "$rc" = 1 ] && [ "$ms" -le 10000 ] && grep -qE -- "$re" "$m.out"; then
    ok "$what: exit 1 in ${ms} ms, saying so"
  else
    fail "$what" "exit $rc after $ms ms: $(head -c 400 "$m.out")"
  fi
}
JIDRE='/jobs/[0-9a-f]{32}'
# /config and /jobs/overview are asked together: the first answer to arrive is named
expect garbage "^cptop: no checkpoint statistics from http://127\.0\.0\.1:[0-9]+ within 3000 ms: /(config|jobs/overview): not JSON" \
  "a body that is not JSON"
check "  its bytes quoted without the terminal's escapes" sh -c "! grep -q \$(printf '\\033') garbage.out"
expect types "$JIDRE/checkpoints: total: field \"total\" must be an integer" \
  "/checkpoints with a string for a count (the rest well-formed)"
expect http500 "/(config|jobs/overview): HTTP 500: Internal server error\.\$" \
  "HTTP 500 with Flink's errors"
expect http500-stats "$JIDRE/checkpoints: HTTP 500: Internal server error\.\$" \
  "HTTP 500 on /checkpoints alone (the job itself well-formed)"
expect slow "/(config|jobs/overview): Operation timed out after [0-9]+ milliseconds with [0-9]+ out of [0-9]+ bytes|no complete answer to GET /(config|jobs/overview) \([0-9]+ bytes received\)" \
  "a body dripped past --timeout"
expect endless "/(config|jobs/overview): the answer is larger than 8388608 bytes" \
  "a body that never ends"
expect redirect-ftp "/(config|jobs/overview): redirected \(HTTP 302\) to ftp://127\.0\.0\.1/flink/[a-z/]+, which is not http\(s\)" \
  "a redirect to ftp://"
expect redirect-host "redirected \(HTTP 302\) to another host \(http://127\.0\.0\.2:[0-9]+/[a-z/]+\): cptop follows redirects only on 127\.0\.0\.1" \
  "a redirect to another host"
check "  which was never asked anything" test ! -e "$T_TMP/redirect-host.other"
expect redirect-loop "more than 3 redirects \(the last to http://127\.0\.0\.1:[0-9]+/" \
  "redirects in a loop"
expect silent "/(config|jobs/overview): Operation timed out after [0-9]+ milliseconds with 0 bytes received|no complete answer to GET /(config|jobs/overview) \(0 bytes received\)" \
  "a server that accepts and never answers"
read -r rc ms < redirect-same.rc
check "a redirect on the same host (a proxy's 307 to /v1/...) is followed: exit 0" test "$rc" = 0
check "  showing the job" grep -q '^topology: Source: numbers x1$' redirect-same.out
check "  asked there" grep -q '^/v1/jobs/[0-9a-f]*/checkpoints$' "$T_TMP/redirect-same.log"

# ---------------------------------------------------------------- dashboards
for m in http500-stats silent; do
  tui_start "$m" 150 20 \
    "env XDG_RUNTIME_DIR=$T_TMP LANG=C.UTF-8 TERM=screen $CPTOP --flink $(url "$m") --timeout 3000 2>$T_TMP/$m.err"
done
tui_expect "the dashboard's header names the failing request and what it got" 10 http500-stats \
  "^cptop victim .*Flink 1\.19\.1  no data yet  ! /jobs/…/checkpoints: HTTP 500"
tui_expect "  no statistics, so DISCONNECTED (the job's state stays unknown)" 10 http500-stats \
  "DISCONNECTED"
tui_expect "a silent server: the header says so and DISCONNECTED" 12 silent \
  "^cptop Flink +no data yet .*! /(config|jobs/overview): (Operation timed out|no complete)" \
  "^✗? ?DISCONNECTED"
for m in http500-stats silent; do
  tui_keys "$m" q
  t0=$SECONDS
  wait_for 3 tui_dead "$m"
  check "q ends the $m dashboard at once (a request still out or not)" tui_dead "$m"
  check "  and it wrote nothing to stderr" test ! -s "$T_TMP/$m.err"
done
t_done
