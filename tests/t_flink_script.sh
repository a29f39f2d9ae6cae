#!/usr/bin/env bash
# cptop --flink through its real HTTP client and poller against a JobManager
# that plays a script (tests/flink_script.py) in the REST shapes of Flink
# 1.12 (@class, no checkpointed_size, no percentiles), 1.15 ("NaN"
# percentiles) and 1.19: a checkpoint whose acks rise (one subtask placed
# through its subtasks), completes; one fails by expiry; a restore; a
# JobManager failover that empties the history while one is in flight (ids
# go on). --once before and after, --json throughout, whose events
# tests/flink_script_check.py checks: each once, in order, with Flink's
# reasons and figures, nothing lost across the failover.
. "$(dirname "$0")/lib.sh"
export XDG_RUNTIME_DIR=$T_TMP
CPTOP=$top/$BUILD/bin/cptop
cd "$T_TMP"
command -v python3 >/dev/null || { fail "python3 is needed (the scripted server)"; t_done; exit 1; }

VERSIONS=(1.12 1.15 1.19)
declare -A URL SRV
for v in "${VERSIONS[@]}"; do
  python3 "$top/tests/flink_script.py" "$T_TMP/$v.port" --version "$v" --gate "$T_TMP/$v.go" \
    >>"$T_TMP/$v.srv" 2>&1 &
  SRV[$v]=$!
  T_PIDS+=($!)
done
for v in "${VERSIONS[@]}"; do
  wait_for 15 test -s "$T_TMP/$v.port" || fail "the $v server did not start" "$(tail -2 "$T_TMP/$v.srv")"
  URL[$v]=http://127.0.0.1:$(cat "$T_TMP/$v.port")
done

# ---------------------------------------------------------------- before: step 0
for v in "${VERSIONS[@]}"; do
  timeout 15 "$CPTOP" --flink "${URL[$v]}" --once > "before.$v" 2>&1; rc=$?
  check "$v: --once exits 0" test "$rc" = 0
  check "$v:   names the job, its topology and its one checkpoint" sh -c "
    grep -q '^job f1175c417ed0b0000000000000000001 (payments), pid 0, status running' before.$v &&
    grep -q '^topology: Source: payments x2 -> Map: parse x2 -> Sink: totals x1' before.$v &&
    grep -qE '^ +1 completed +periodic +aligned +500ms +4000 B .* 5/5 acks' before.$v"
done

# ---------------------------------------------------------------- a JobManager stuck on subtasks
# A checkpoint Flink lists as ended waits for its subtasks' figures before
# its end is told (so acks come first). --once against a JobManager that
# never answers those still shows it as Flink ended it, not "in flight".
python3 "$top/tests/flink_script.py" "$T_TMP/stall.port" --version 1.19 --stall '/subtasks/' \
  --gate "$T_TMP/stall.never" \
  >>"$T_TMP/stall.srv" 2>&1 &
T_PIDS+=($!)
wait_for 15 test -s "$T_TMP/stall.port" || fail "the stalling server did not start"
timeout 15 "$CPTOP" --flink "http://127.0.0.1:$(cat "$T_TMP/stall.port")" --once --timeout 1500 \
  > stall.once 2>&1; rc=$?
check "stuck on subtasks: --once exits 0 at its timeout" test "$rc" = 0
check "  the checkpoint Flink completed shows completed, with Flink's figures" \
  grep -qE '^ +1 completed +periodic +aligned +500ms +4000 B .* 5/5 acks' stall.once
check "  and nothing in flight" sh -c "! grep -q '^in flight' stall.once"
[ -n "$(grep -E '^ +1 completed' stall.once)" ] || sed 's/^/    | /' stall.once

# ---------------------------------------------------------------- --json through the script
for v in "${VERSIONS[@]}"; do
  "$CPTOP" --flink "${URL[$v]}" --json --poll 250 > "json.$v" 2> "json.$v.err" &
  T_PIDS+=($!)
  eval "JSON_${v//./_}=$!"
done
for v in "${VERSIONS[@]}"; do
  # the state first (it covers step 0), then the script runs
  wait_for 15 grep -q '"type":"state"' "json.$v" || fail "$v: no state line" "$(tail -2 "json.$v.err")"
  touch "$T_TMP/$v.go"
done
for v in "${VERSIONS[@]}"; do
  if ! wait_for 30 grep -q '"type":"cp_completed","job":"[0-9a-f]*","seq":[0-9]*,"ts_us":[0-9]*,"id":7,' "json.$v"; then
    fail "$v: the script did not reach its end" "at step $(cat "$T_TMP/$v.port.step")"
  fi
done
for v in "${VERSIONS[@]}"; do
  pid_var=JSON_${v//./_}
  kill "${!pid_var}" 2>/dev/null
  wait "${!pid_var}" 2>/dev/null
  check "$v: the server played all 14 steps" grep -q '^14 ' "$T_TMP/$v.port.step"
  check "$v: --json: the events, each once, in order, across the restore and the failover" \
    python3 "$top/tests/flink_script_check.py" "json.$v" "$v"
  check "$v:   and nothing on stderr" test ! -s "json.$v.err"
done

# ---------------------------------------------------------------- after: what Flink still has
for v in "${VERSIONS[@]}"; do
  timeout 15 "$CPTOP" --flink "${URL[$v]}" --once > "after.$v" 2>&1; rc=$?
  check "$v: --once after the failover exits 0" test "$rc" = 0
  check "$v:   the new JobManager's counts: 2 completed, 1 restore" \
    grep -q '^checkpoints: total 2, in progress 0, completed 2, failed 0, restored 1;' "after.$v"
  rows=$(grep -E '^ +[0-9]+ ' "after.$v" | awk '{print $1, $2, $5, $6}' | tr '\n' ' ')
  check "$v:   its history: 7 then 6, completed, with Flink's durations and sizes" \
    test "$rows" = '7 completed 500ms 28000 6 completed 1.5s 24000 '
  [ "$rows" = '7 completed 500ms 28000 6 completed 1.5s 24000 ' ] ||
    { echo "    got: $rows"; sed 's/^/    | /' "after.$v"; }
done
t_done
