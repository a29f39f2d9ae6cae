#!/usr/bin/env bash
# Recording a whole Flink cluster: cptop --flink URL --record FILE
# --headless, without --job, follows every running job of the cluster (two
# agent_hello --rest behind tests/flink_router.py), and the recording
# replays each of them by name, with its own checkpoints and header; a name
# the recording does not hold shows nothing of the others.
. "$(dirname "$0")/lib.sh"
export XDG_RUNTIME_DIR=$T_TMP
HELLO=$top/$BUILD/bin/agent_hello
CPTOP=$top/$BUILD/bin/cptop
cd "$T_TMP"
command -v python3 >/dev/null || { fail "python3 is needed (the router)"; t_done; exit 1; }

urls=()
for j in alpha beta; do
  "$HELLO" --job-id "$j" --name "$j" --interval-ms 400 --rest 127.0.0.1:0 >>"$T_TMP/$j.log" 2>&1 &
  T_PIDS+=($!)
  wait_for 10 grep -q 'Flink REST API on port' "$T_TMP/$j.log" || fail "agent_hello $j did not serve REST"
  urls+=("http://127.0.0.1:$(sed -nE 's/.*Flink REST API on port ([0-9]+).*/\1/p' "$T_TMP/$j.log" | head -1)")
done
python3 "$top/tests/flink_router.py" "$T_TMP/router.port" "${urls[@]}" >>"$T_TMP/router.log" 2>&1 &
T_PIDS+=($!)
wait_for 10 test -s "$T_TMP/router.port" || fail "the router did not start"
URL=http://127.0.0.1:$(cat "$T_TMP/router.port")
jid_of() { timeout 10 "$CPTOP" --flink "$URL" --list | awk -v n="$1" '$2 == n { print $1 }'; }
ALPHA=$(jid_of alpha)
BETA=$(jid_of beta)
check "the cluster lists both jobs" sh -c "test ${#ALPHA} = 32 && test ${#BETA} = 32"

"$CPTOP" --flink "$URL" --record "$T_TMP/c.cprec" --headless 2>"$T_TMP/rec.err" &
REC=$!
T_PIDS+=($REC)
sleep 14 # the second job is followed within 5 s; then 9 s of both
kill "$REC"
wait_for 10 ended "$REC"
check "the recorder ended cleanly, silent" sh -c "test -s '$T_TMP/c.cprec' && test ! -s '$T_TMP/rec.err'"

for j in alpha beta; do
  id=$ALPHA; [ "$j" = beta ] && id=$BETA
  tui_start "r$j" 120 30 \
    "env XDG_RUNTIME_DIR=$T_TMP LANG=C.UTF-8 TERM=screen $CPTOP --replay $T_TMP/c.cprec --job $j --at +13s 2>$T_TMP/r$j.err"
  tui_expect "--replay --job $j: that job, under its cluster id, with its checkpoints" 10 "r$j" \
    "^cptop $j \($id\) +RUNNING" "^ +[0-9]+ completed periodic .* 3/3 *$"
  # the seek lands on a keyframe; the checkpoints after it have their acks
  # (the recording repeats the job's shape after each keyframe)
  tui_cap "r$j"
  check "  every checkpoint shown has its acks, those after the keyframe too" \
    sh -c "! grep -qE ' [0-2]/3 *\$' '$SCREEN'"
  tui_keys "r$j" q
  wait_for 5 tui_dead "r$j"
done
tui_start rid 120 30 \
  "env XDG_RUNTIME_DIR=$T_TMP LANG=C.UTF-8 TERM=screen $CPTOP --replay $T_TMP/c.cprec --job $BETA --at +13s"
tui_expect "--replay --job ID: the same job" 10 rid "^cptop beta \($BETA\)"
tui_keys rid q
tui_start rno 120 30 \
  "env XDG_RUNTIME_DIR=$T_TMP LANG=C.UTF-8 TERM=screen $CPTOP --replay $T_TMP/c.cprec --job gamma --at +13s"
tui_expect "--replay --job of a job not recorded shows no other job's" 10 rno \
  "no finished checkpoint yet"
tui_keys rno q
t_done
