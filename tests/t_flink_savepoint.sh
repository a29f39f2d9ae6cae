#!/usr/bin/env bash
# Savepoints through Flink's REST API, and a cluster older than Flink 1.17
# (no REST checkpoint trigger): tests/flink_router.py plays a 1.15.4
# JobManager in front of agent_hello --rest. ctl trigger is refused saying
# so and naming the way out; ctl savepoint [--dir] takes one and prints
# where it went; a savepoint Flink fails is reported with Flink's cause; an
# agent refuses savepoints; in the dashboard t asks first, n takes nothing,
# y takes one and the status line says where it went.
. "$(dirname "$0")/lib.sh"
export XDG_RUNTIME_DIR=$T_TMP
HELLO=$top/$BUILD/bin/agent_hello
CPTOP=$top/$BUILD/bin/cptop
cd "$T_TMP"
command -v python3 >/dev/null || { fail "python3 is needed (the router)"; t_done; exit 1; }

"$HELLO" --job-id sp --name sp --interval-ms 500 --rest 127.0.0.1:0 >>"$T_TMP/sp.log" 2>&1 &
T_PIDS+=($!)
wait_for 10 grep -q 'Flink REST API on port' "$T_TMP/sp.log" || fail "agent_hello did not serve REST"
BACK=http://127.0.0.1:$(sed -nE 's/.*Flink REST API on port ([0-9]+).*/\1/p' "$T_TMP/sp.log" | head -1)
python3 "$top/tests/flink_router.py" --flink-version 1.15.4 "$T_TMP/router.port" "$BACK" \
  >>"$T_TMP/router.log" 2>&1 &
T_PIDS+=($!)
wait_for 10 test -s "$T_TMP/router.port" || fail "the router did not start"
URL=http://127.0.0.1:$(cat "$T_TMP/router.port")

# ------------------------------------------------------------------ ctl
timeout 20 "$CPTOP" --flink "$URL" ctl trigger >trig.out 2>&1; rc=$?
check "ctl trigger on Flink 1.15 is refused (exit 1)" test "$rc" = 1
check "  saying it needs 1.17 and offering a savepoint" \
  grep -q 'no REST checkpoint trigger (Flink 1.17+).*ctl savepoint' trig.out
check "  and nothing was posted to the cluster" test ! -e "$T_TMP/router.port.savepoint"

timeout 20 "$CPTOP" --flink "$URL" ctl savepoint >sp.out 2>&1; rc=$?
check "ctl savepoint exits 0" test "$rc" = 0
check "  and prints where it went" \
  grep -qE '^ok: savepoint: ok, written to file:/tmp/flink-savepoints/savepoint-[0-9a-f]{6}-[0-9]+$' sp.out
check "  asking Flink to keep the job running, to its default directory" \
  python3 -c 'import json,sys; b=json.load(open(sys.argv[1])); sys.exit(not (b == {"cancel-job": False}))' \
  "$T_TMP/router.port.savepoint"

timeout 20 "$CPTOP" --flink "$URL" ctl savepoint --dir /data/sp >dir.out 2>&1; rc=$?
check "ctl savepoint --dir DIR exits 0, written under DIR" \
  sh -c "test $rc = 0 && grep -qE 'written to file:/data/sp/savepoint-' dir.out"
check "  DIR went as target-directory" \
  python3 -c 'import json,sys; b=json.load(open(sys.argv[1])); sys.exit(b.get("target-directory") != "/data/sp")' \
  "$T_TMP/router.port.savepoint"

timeout 20 "$CPTOP" --flink "$URL" ctl savepoint --dir /refuse/here >bad.out 2>&1; rc=$?
check "a savepoint Flink fails: exit 1 with Flink's cause" \
  sh -c "test $rc = 1 && grep -q 'savepoint failed: java.io.IOException' bad.out"
timeout 10 "$CPTOP" --flink "$URL" ctl savepoint --dir >usage.out 2>&1; rc=$?
check "ctl savepoint --dir without a directory is bad usage (exit 2)" \
  sh -c "test $rc = 2 && grep -q 'savepoint takes nothing more than --dir DIR' usage.out"
timeout 10 "$CPTOP" --job sp ctl savepoint >agent.out 2>&1; rc=$?
check "an agent refuses a savepoint (exit 1), saying where they exist" \
  sh -c "test $rc = 1 && grep -q 'takes no savepoints (a Flink cluster does' agent.out"

# ------------------------------------------------------------ dashboard
rm -f "$T_TMP/router.port.savepoint"
tui_start dash 100 30 \
  "env XDG_RUNTIME_DIR=$T_TMP LANG=C.UTF-8 TERM=screen $CPTOP --flink $URL 2>$T_TMP/dash.err"
tui_expect "the dashboard shows the 1.15 cluster's job" 10 dash "^cptop sp .*Flink 1\.15\.4" \
  "completed +periodic"
tui_keys dash t
tui_expect "t asks whether to take a savepoint instead" 5 dash \
  "no REST checkpoint trigger \(Flink 1\.17\+\)" "Take a savepoint instead\?  y: take it"
tui_keys dash n
tui_expect "n takes none" 5 dash "no savepoint taken"
check "  and posted nothing" test ! -e "$T_TMP/router.port.savepoint"
tui_keys dash t
tui_expect "t asks again" 5 dash "Take a savepoint instead\?"
tui_keys dash y
tui_expect "y takes it; the status line says where it went" 20 dash \
  "savepoint: ok, written to file:/tmp/flink-savepoints/savepoint-"
check "the dashboard wrote nothing to stderr" test ! -s "$T_TMP/dash.err"
tui_keys dash q
wait_for 5 tui_dead dash
t_done
