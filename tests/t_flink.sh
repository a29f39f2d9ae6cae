#!/usr/bin/env bash
# cptop --flink against a live endpoint that answers Flink's REST API
# (agent_hello --rest, libcpagent's REST facade): --once shows the same
# checkpoints as through the agent, --json prints the derived messages,
# ctl trigger completes a checkpoint and names it, abort is refused with
# Flink's reason, the dashboard watches it and shows a stopped server as
# disconnected; bad URLs and a dead port are said, not hung on.
. "$(dirname "$0")/lib.sh"
export XDG_RUNTIME_DIR=$T_TMP
HELLO=$top/$BUILD/bin/agent_hello
CPTOP=$top/$BUILD/bin/cptop
cd "$T_TMP"

"$HELLO" --job-id fl --interval-ms 300 --rest 127.0.0.1:0 >>"$T_TMP/fl.log" 2>&1 &
HPID=$!
T_PIDS+=($HPID)
wait_for 10 grep -q 'Flink REST API on port' "$T_TMP/fl.log" || fail "agent_hello did not serve REST"
PORT=$(sed -nE 's/.*Flink REST API on port ([0-9]+).*/\1/p' "$T_TMP/fl.log" | head -1)
URL=http://127.0.0.1:$PORT
wait_for 10 sh -c "timeout 10 '$CPTOP' --flink $URL --once | grep -q '^ *3 completed'" ||
  fail "no third checkpoint through Flink"

# ---------------------------------------------------------------- --once
# Both sources show the newest 10; a slower interval keeps their windows
# overlapping however long the two reads take on a loaded machine.
timeout 10 "$CPTOP" --job fl ctl set execution.checkpointing.interval 1s >/dev/null 2>&1
timeout 15 "$CPTOP" --flink "$URL" --once > flink.txt 2>&1; rc=$?
timeout 15 "$CPTOP" --job fl --once > agent.txt 2>&1
check "--once through Flink exits 0" test "$rc" = 0
check "--once names the job and its topology" grep -q '^topology: source x2 -> sum x1' flink.txt
# every completed checkpoint both show: id, status, trigger, duration, size, acks
rows() { grep -E '^ +[0-9]+ completed' "$1" | sed 's/ *$//' | sort; }
rows flink.txt > flink.rows
rows agent.txt > agent.rows
check "the 3 or more completed checkpoints waited for are in both" \
  test "$(comm -12 flink.rows agent.rows | wc -l)" -ge 3
check "each reads the same through Flink and through the agent" sh -c '
  for id in $(awk "{print \$1}" flink.rows); do
    a=$(grep -E "^ +$id completed" agent.rows) || continue
    test "$a" = "$(grep -E "^ +$id completed" flink.rows)" || { echo "differs: $id"; exit 1; }
  done'

# ---------------------------------------------------------------- --list
timeout 10 "$CPTOP" --flink "$URL" --list > list.txt 2>&1
check "--list through Flink names the cluster's job, running" grep -qE '^[0-9a-f]{32} +hello +RUNNING' list.txt

# ---------------------------------------------------------------- --json
# both sources' streams over the same seconds (the interval is 1 s here)
timeout 5 "$CPTOP" --job fl --json > ajson.txt 2>/dev/null &
APID=$!
timeout 4 "$CPTOP" --flink "$URL" --json > json.txt 2>/dev/null
wait "$APID"
check "--json starts with the state line" sh -c "head -1 json.txt | grep -q '\"type\":\"state\"'"
check "--json then prints derived events" grep -q '"type":"cp_completed"' json.txt
check "--json: one valid JSON object per line" python3 -c '
import json,sys
for l in open("json.txt"): json.loads(l)'
# checkpoints that started and ended between two polls: their acks carry
# Flink's per-subtask figures (before their end), the agent's for the same
# subtasks, to Flink's milliseconds
cat > acks.py <<'PY'
import json
def acks(fn):
    out, ended = {}, set()
    for l in open(fn):
        e = json.loads(l)
        if e["type"] in ("cp_completed", "cp_failed"):
            ended.add(e["id"])
        if e["type"] == "ack":
            assert e["id"] not in ended, f"{fn}: ack after the end of {e['id']}"
            out[(e["id"], e["op"], e["subtask"])] = e
    return out
f, a = acks("json.txt"), acks("ajson.txt")
ms = lambda us: us // 1000
same = [k for k in f if k in a and f[k]["async_us"] > 0]
for k in same:
    for x in ("state_size", "checkpointed_size"):
        assert f[k][x] == a[k][x], (k, x, f[k], a[k])
    for x in ("async_us", "sync_us", "start_delay_us", "alignment_us"):
        assert ms(f[k][x]) == ms(a[k][x]), (k, x, f[k], a[k])
assert len({k[0] for k in same}) >= 2, f"real figures for {sorted({k[0] for k in same})}"
print(len(same), "acks alike")
PY
check "--json through Flink: acks with the agent's figures, before their checkpoint's end" python3 acks.py

# ---------------------------------------------------------------- ctl
timeout 20 "$CPTOP" --flink "$URL" ctl trigger > trig.txt 2>&1; rc=$?
check "ctl trigger through Flink exits 0" test "$rc" = 0
check "ctl trigger names the checkpoint it completed" grep -qE '^ok: trigger: ok, checkpoint [0-9]+ completed' trig.txt
timeout 20 "$CPTOP" --flink "$URL" ctl trigger --full > full.txt 2>&1
check "ctl trigger --full completes one too" grep -qE 'checkpoint [0-9]+ completed' full.txt
timeout 10 "$CPTOP" --flink "$URL" ctl abort 3 > abort.txt 2>&1; rc=$?
check "ctl abort is refused (exit 1)" test "$rc" = 1
check "  with Flink's reason" grep -q 'Flink has no request that aborts' abort.txt
timeout 10 "$CPTOP" --job fl ctl trigger --full > af.txt 2>&1
check "trigger --full is refused by an agent, which has no such thing" grep -q 'cannot ask for a full' af.txt

# ---------------------------------------------------------------- errors
timeout 10 "$CPTOP" --flink ftp://x --once > bad.txt 2>&1; rc=$?
check "a URL that is not http(s) is bad usage (exit 2)" test "$rc" = 2
DEAD=$(free_port_pair)
timeout 10 "$CPTOP" --flink "http://127.0.0.1:$DEAD" --timeout 1500 --once > dead.txt 2>&1; rc=$?
check "nothing listening: exit 1 within the timeout" test "$rc" = 1
check "  saying what it got" grep -q 'no checkpoint statistics from http://127.0.0.1' dead.txt

# ---------------------------------------------------------------- dashboard
tui_start dash 160 30 \
  "env XDG_RUNTIME_DIR=$T_TMP LANG=C.UTF-8 TERM=screen $CPTOP --flink $URL 2>$T_TMP/dash.err"
tui_expect "the dashboard shows the Flink job and where its data comes from" 10 dash \
  "^cptop hello .*RUNNING.*Flink 1\.19[^ ]* +data [0-9.]+s old.*http://127.0.0.1:$PORT" "live"
tui_expect "its checkpoints complete on screen" 10 dash " completed +periodic"
# the oldest one ended before cptop looked (beyond the two held for their
# figures): opened, its subtasks are asked for and shown, or, when it has
# left Flink's history since, the screen says so
tui_keys dash Tab
tui_keys dash G
tui_keys dash Enter
tui_expect "a checkpoint that ended unseen opens with Flink's figures (or why not)" 10 dash \
  "Checkpoint #[0-9]+ completed" \
  "(^sum +\*? +0 +[0-9.]+[mu]?s +20ms +[0-9.]+[mu]?s +30ms|left Flink's checkpoint history)"
tui_keys dash Escape
tui_keys dash a
tui_expect "a says Flink has no abort, and opens nothing" 5 dash "Flink has no request that aborts"
tui_keys dash t
tui_expect "t triggers through Flink and reports the checkpoint" 15 dash \
  "trigger: ok, checkpoint [0-9]+ completed"
kill "$HPID"
tui_expect "a stopped server is shown disconnected" 10 dash "DISCONNECTED"
tui_keys dash q
t_done
