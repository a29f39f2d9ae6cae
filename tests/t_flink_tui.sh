#!/usr/bin/env bash
# The dashboard driven interactively against a Flink-shaped cluster: two
# jobs (agent_hello --rest each, behind tests/flink_router.py as one
# JobManager). cptop --flink opens on the cluster overview, Enter watches
# the other job, o shows it watched, the history's newest checkpoint opens
# in the detail screen, t triggers one through Flink's REST API and the
# dashboard shows it complete, in the status line and in the history.
. "$(dirname "$0")/lib.sh"
export XDG_RUNTIME_DIR=$T_TMP
HELLO=$top/$BUILD/bin/agent_hello
CPTOP=$top/$BUILD/bin/cptop
cd "$T_TMP"
command -v python3 >/dev/null || { fail "python3 is needed (the router)"; t_done; exit 1; }

urls=()
for j in alpha beta; do
  "$HELLO" --job-id "$j" --name "$j" --interval-ms 500 --rest 127.0.0.1:0 >>"$T_TMP/$j.log" 2>&1 &
  T_PIDS+=($!)
  wait_for 10 grep -q 'Flink REST API on port' "$T_TMP/$j.log" || fail "agent_hello $j did not serve REST"
  urls+=("http://127.0.0.1:$(sed -nE 's/.*Flink REST API on port ([0-9]+).*/\1/p' "$T_TMP/$j.log" | head -1)")
done
python3 "$top/tests/flink_router.py" "$T_TMP/router.port" "${urls[@]}" >>"$T_TMP/router.log" 2>&1 &
T_PIDS+=($!)
wait_for 10 test -s "$T_TMP/router.port" || fail "the router did not start"
URL=http://127.0.0.1:$(cat "$T_TMP/router.port")

# both jobs have completed a checkpoint (under a loaded suite the first one
# can take a while): the listing shows them once they have
listed() {
  timeout 10 "$CPTOP" --flink "$URL" --list > list.txt 2>&1 &&
    [ "$(grep -cE ' RUNNING +[0-9]+s +[0-9]+s ' list.txt)" -ge 2 ]
}
wait_for 20 listed
check "--list through the router names both jobs" \
  sh -c "grep -qE '^[0-9a-f]{32} +alpha +RUNNING' list.txt && grep -qE '^[0-9a-f]{32} +beta +RUNNING' list.txt"
# uptime, last checkpoint's age, its duration, failed, in flight: each job's own
check "  with each job's last checkpoint, failed and in flight" \
  sh -c "grep -qE '^[0-9a-f]{32} +alpha +RUNNING +[0-9]+s +[0-9]+s +[0-9]+ms +0 +[0-9]+\$' list.txt &&
         grep -qE '^[0-9a-f]{32} +beta +RUNNING +[0-9]+s +[0-9]+s +[0-9]+ms +0 +[0-9]+\$' list.txt"

tui_start dash 100 30 \
  "env XDG_RUNTIME_DIR=$T_TMP LANG=C.UTF-8 TERM=screen $CPTOP --flink $URL 2>$T_TMP/dash.err"
tui_expect "two jobs: the dashboard opens on the cluster overview" 10 dash \
  "Jobs on the cluster \(2\)" "^▶ \* alpha +RUNNING" "^ +beta +RUNNING"
# LAST CP (its age), TOOK, FAILED, IN FLIGHT: the watched job's from the
# model, the other's from its own /checkpoints
tui_expect "  with each job's last checkpoint, failed and in flight" 10 dash \
  "^▶ \* alpha +RUNNING +[0-9.hms]+ +[0-9.]+m?s +[0-9.]+m?s +0 +[0-9]" \
  "^ +beta +RUNNING +[0-9.hms]+ +[0-9.]+m?s +[0-9.]+m?s +0 +[0-9]"
sleep 10
tui_expect "  and the other job's stays seconds old (it is asked again)" 5 dash \
  "^ +beta +RUNNING +[0-9.hms]+ +([0-9]\.[0-9]s|[0-9]+ms) "
tui_keys dash Down
tui_expect "Down selects the other job" 5 dash "^▶ +beta +RUNNING"
tui_keys dash Enter
tui_expect "Enter watches it: its own header and checkpoints" 10 dash \
  "^cptop beta .*RUNNING.*Flink 1\.19" "^ +[0-9]+ completed +periodic"
tui_keys dash o
tui_expect "o shows it watched now" 10 dash "^▶ \* beta +RUNNING" \
  "^ +alpha +RUNNING +[0-9.hms]+ +[0-9.]+m?s +[0-9.]+m?s +0 +[0-9]"
tui_keys dash Escape
tui_expect "Esc goes back to the job" 5 dash "History \("
tui_keys dash Tab
tui_keys dash Enter
tui_expect "Tab, Enter: the newest checkpoint of the history in detail" 5 dash \
  "Checkpoint #[0-9]+ completed" "OPERATOR +SUB"
tui_keys dash Escape
tui_keys dash t
if tui_expect "t triggers through Flink and reports the checkpoint completed" 20 dash \
  "trigger: ok, checkpoint [0-9]+ completed"; then
  id=$(sed -nE 's/.*trigger: ok, checkpoint ([0-9]+) completed.*/\1/p' "$SCREEN" | head -1)
  tui_keys dash Home
  tui_expect "  and checkpoint $id is in the history, completed" 10 dash "^. +$id completed "
fi
check "the dashboard wrote nothing to stderr" test ! -s "$T_TMP/dash.err"
tui_keys dash q
wait_for 5 tui_dead dash
check "q ends the dashboard" tui_dead dash
t_done
