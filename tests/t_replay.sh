#!/usr/bin/env bash
# Record a demo job with cptop --record --headless while a barrier stalls
# until its checkpoint expires and the job process crashes; stop the
# recorder; then replay: the state at the end, the expired checkpoint in
# flight just before its expiry with the subtask it still waited on, the
# recorded events as --json, and a copy cut short (as by kill -9) that
# replays up to its last complete chunk; --advise from the recording at a
# time, and --what-if timeouts against it (which checkpoints would have
# failed, by id).
. "$(dirname "$0")/lib.sh"
export XDG_RUNTIME_DIR=$T_TMP
CPDEMO=$top/$BUILD/bin/cpdemo
CPTOP=$top/$BUILD/bin/cptop
cd "$T_TMP" && mkdir -p var
bg "$CPDEMO" kafka --partitions 2 --bootstrap-file var/kafka.bootstrap
wait_for 10 test -S var/kafka.bootstrap.ctl || fail "cpdemo kafka did not start"
bg "$CPDEMO" produce --bootstrap-file var/kafka.bootstrap --rate 500 --seed 5 --delivery-timeout 30
cat > r.json <<'JSON'
{ "pipeline.name": "rp", "parallelism.default": 2, "source.kafka.bootstrap-file": "var/kafka.bootstrap",
  "sink.url": "sqlite:var/r.db", "execution.checkpointing.storage": "var/chk",
  "execution.checkpointing.interval": "500 ms", "execution.checkpointing.timeout": "2 s",
  "execution.checkpointing.tolerable-failed-checkpoints": 100 }
JSON
"$CPDEMO" run --config r.json --supervise >job.log 2>&1 &
T_PIDS+=($!)
wait_for 20 test -e "$T_TMP/cptop/rp.json" || fail "the job did not start"

"$CPTOP" --record "$T_TMP/rec.cprec" --headless --job rp 2>rec.err &
rec=$!
T_PIDS+=($rec)
live_completed() { "$CPTOP" --job rp --once | grep -Eq "completed [1-9]"; }
check "the job checkpoints while it is recorded" wait_for 20 live_completed
check "a barrier stalls at op 1 subtask 0 for 4 s" "$CPTOP" --job rp ctl fail stall 1 0 ms=4000
expired() { "$CPTOP" --job rp --once | grep -q "CHECKPOINT_EXPIRED"; }
check "its checkpoint expires (timeout 2 s)" wait_for 15 expired
exp_id=$("$CPTOP" --job rp --once | awk '$2 == "failed" && /CHECKPOINT_EXPIRED/ {print $1; exit}')
one_after() { "$CPTOP" --job rp --once | awk -v e="${exp_id:-0}" '$2 == "completed" && $1 > e {f=1} END {exit !f}'; }
check "a later checkpoint completes before the crash" wait_for 15 one_after
pid1=$("$CPTOP" --job rp --once | sed -n 's/.*, pid \([0-9]*\),.*/\1/p')
check "the job process crashes" "$CPTOP" --job rp ctl fail crash
new_pid_completes() {
  local o; o=$("$CPTOP" --job rp --once 2>/dev/null) || return 1
  ! grep -q "pid $pid1," <<<"$o" && grep -Eq "completed [1-9]" <<<"$o"
}
check "it comes back as another process and checkpoints again" wait_for 30 new_pid_completes
sleep 1
kill -TERM "$rec"
check "the recorder ends on SIGTERM" wait_for 5 bash -c "! kill -0 $rec"
check "the recorder said nothing wrong" bash -c "! grep -q . rec.err"

"$CPTOP" --replay rec.cprec --once >end.txt 2>replay.err
check "replay --once (the end): the job's new process, restored from a checkpoint" \
  bash -c "grep -q '^job rp (rp), pid ' end.txt && ! grep -q 'pid $pid1,' end.txt && grep -Eq 'restored [1-9]' end.txt"
"$CPTOP" --replay rec.cprec --json >all.jsonl 2>>replay.err
check "replay --json: a state line first, then the recorded events" \
  bash -c "head -1 all.jsonl | grep -q '\"type\":\"state\",.*\"reason\":\"replay\"' && grep -q '\"type\":\"cp_completed\"' all.jsonl"
line=$(grep '"type":"cp_failed"' all.jsonl | grep CHECKPOINT_EXPIRED | head -1)
id=$(sed -n 's/.*"id":\([0-9]*\).*/\1/p' <<<"$line")
ts=$(sed -n 's/.*"ts_us":\([0-9]*\).*/\1/p' <<<"$line")
check "the expiry is among the recorded events" test -n "$id" -a -n "$ts"
at=$(( (ts - 1500000) / 1000000 + 1 )) # in (expiry - 1.5 s, expiry - 0.5 s]: in flight
"$CPTOP" --replay rec.cprec --once --at "@$at" >at.txt 2>>replay.err
check "just before its expiry, checkpoint $id is in flight, still waiting on the stalled subtask" \
  grep -Eq "^in flight $id: .*still waiting on [^ ]+\[0\]" at.txt
# The new process, as live --json shows it: a state line "restarted".
restart=$(grep '"type":"state"' all.jsonl | grep '"reason":"restarted"' | head -1)
restart_ts=$(sed -n 's/.*"ts_us":\([0-9]*\).*/\1/p' <<<"$restart")
check "replay --json: the crash's new process is a state line 'restarted' with its pid" \
  bash -c "[ -n '$restart_ts' ] && [ '$restart_ts' -gt '$ts' ] && grep -q '\"pid\":[1-9]' <<<'${restart:0:200}' && ! grep -q '\"pid\":$pid1,' <<<'${restart:0:200}'"
# "Just after" in recorded time, which is when cptop received a frame (a
# loaded machine can hold one back a second): halfway from the expiry to
# the new process's state, while the old process was still the one shown.
mid=$(( (ts + ${restart_ts:-$((ts + 2000000))}) / 2 ))
"$CPTOP" --replay rec.cprec --once --at "@$((mid / 1000000)).$(printf %06d $((mid % 1000000)))" \
  >after.txt 2>>replay.err
check "just after, it is in the history as expired" grep -Eq "^ +$id failed .*CHECKPOINT_EXPIRED" after.txt
check "replay printed no complaint" bash -c "! grep -q . replay.err"

# ---------------------------------------------------------------- the dashboard
# cptop --replay FILE in tmux: paused, b to the time just before the expiry:
# the checkpoint in flight, waiting on the stalled subtask (its detail: still
# waiting on it); Z: the end, where it expired; read-only; q ends it.
export LC_ALL=C.UTF-8
cat > run-replay.sh <<SH
export LANG=C.UTF-8 LC_ALL=C.UTF-8 TERM=screen TZ=UTC
'$CPTOP' --replay '$T_TMP/rec.cprec' 2> '$T_TMP/replay-tui.err'
echo \$? > '$T_TMP/replay-tui.rc'
SH
keys() { tui_keys rp "$@"; }
expect() { local n=$1 sec=$2; shift 2; tui_expect "$n" "$sec" rp "$@"; }
tui_start rp 100 30 "sh '$T_TMP/run-replay.sh'"
expect "the dashboard replays the recording: the job, the replay header, the replay keys" 10 \
  '^cptop rp  RUNNING' '^REPLAY [0-9:]{8}  [0-9:]{8} .+ [0-9:]{8} +1x' '^\? help  q quit  Space pause  t/T'
keys Space
expect "Space pauses it" 5 '^REPLAY [0-9:]{8} .* +1x  PAUSED'
hms=$(TZ=UTC date -d "@$at" +%H:%M:%S)
keys b
tui_text rp "$hms"
expect "b opens the jump prompt" 5 "^jump to: ${hms}_ "
keys Enter
expect "b $hms: checkpoint $id in flight, waiting on the stalled subtask (the header at $hms)" 5 \
  "^REPLAY $hms .*PAUSED" "^▶ #$id .* waiting on [a-z]+#0 " "^jumped to '$hms': at $hms"
keys Enter
expect "its detail at that time: still waiting on the stalled subtask" 5 \
  "Checkpoint #$id in progress " "still waiting on [0-9]+ subtasks?; the furthest behind: [a-z]+#0"
keys Escape Z
expect "Z: the end of the recording, where checkpoint $id expired" 5 \
  "^ +$id failed +periodic +aligned .* EXPIRED" '^the end of the recording: at '
keys a
expect "a replay is read-only: abort says why" 5 '^a replay shows a recording: it cannot abort a checkpoint'
keys q
check "q ends the replay, exit status 0" wait_for 5 grep -qx 0 replay-tui.rc
check "the replay dashboard complained of nothing" bash -c "! grep -q . replay-tui.err"
tui_start rp2 100 30 "env LANG=C.UTF-8 LC_ALL=C.UTF-8 TERM=screen TZ=UTC '$CPTOP' --replay '$T_TMP/rec.cprec' --at @$at"
tui_expect "--at starts the interactive replay there, paused: checkpoint $id in flight at $hms" 10 rp2 \
  "^REPLAY $hms .*PAUSED" "^▶ #$id .* waiting on [a-z]+#0 "
tui_keys rp2 q
"$CPTOP" --replay rec.cprec --at soon </dev/null >/dev/null 2>at.err
check "an interactive replay from a time that is not one: refused before the terminal (exit 2)" \
  bash -c "test $? -eq 2 && grep -q \"'soon' is not a time\" at.err"
"$CPTOP" --replay rec.cprec --record again.cprec </dev/null >/dev/null 2>rec2.err
check "--replay with --record is a usage error" bash -c "test $? -eq 2 && test ! -e again.cprec"

# --- tuning advice from the recording, as its history stood at a time
if command -v jq >/dev/null; then
  "$CPTOP" --advise --replay rec.cprec >adv.txt 2>adv.err
  check "--advise --replay: advice from the recording's history at its end" \
    grep -q "^from the recording rec.cprec as it stood at " adv.txt
  last_x=$(grep '"type":"cp_failed"' all.jsonl | grep CHECKPOINT_EXPIRED | tail -1 | sed -n 's/.*"id":\([0-9]*\).*/\1/p')
  check "...naming the newest expired checkpoint, #$last_x, and why no timeout is sure to save it" \
    grep -q "no timeout is sure to let #$last_x through" adv.txt
  "$CPTOP" --advise --json --replay rec.cprec --at "@$at" >adv_before.json 2>>adv.err
  check "--advise --replay --at before the expiry: that history has no failure yet" \
    jq -e --argjson at "$at" '.failed == 0 and .completed >= 1 and .replay.at_us == $at * 1000000' adv_before.json
  # just after the expiry (mid, above): what the replay holds then, as --once says
  t_after="$((mid / 1000000)).$(printf %06d $((mid % 1000000)))"
  n_done=$(sed -n 's/.*, completed \([0-9]*\),.*/\1/p' after.txt)
  "$CPTOP" --advise --json --replay rec.cprec --at "@$t_after" --what-if execution.checkpointing.timeout=1ms \
    >wi1.json 2>>adv.err
  check "...just after it: the expiry is in it, with the $n_done completed recorded by then" \
    jq -e --argjson n "$n_done" '.failed >= 1 and .completed == $n' wi1.json
  check "--what-if timeout=1ms: each of those $n_done would have expired" \
    jq -e --argjson n "$n_done" '.what_if.changed == $n and (.what_if.ids | length) == $n' wi1.json
  # the slowest checkpoint completed by then: half its duration fails it, 1 ms more lets it through
  # (which completed by then: those --once listed at that time; their durations: the events)
  done_ids=$(awk '$2 == "completed" {printf "%s%s", sep, $1; sep = ","}' after.txt)
  slow=$(jq -sc "map(select(.type == \"cp_completed\" and (.id as \$i | [$done_ids] | index(\$i) != null)))
    | max_by(.duration_us) | [.id, .duration_us / 1000 | floor]" all.jsonl)
  slow_id=$(jq '.[0]' <<<"$slow") slow_ms=$(jq '.[1]' <<<"$slow")
  "$CPTOP" --advise --json --replay rec.cprec --at "@$t_after" \
    --what-if "execution.checkpointing.timeout=$((slow_ms / 2))ms" >wi2.json 2>>adv.err
  check "--what-if timeout=$((slow_ms / 2))ms: the slowest, #$slow_id (${slow_ms}ms), would have expired" \
    jq -e --argjson id "$slow_id" '.what_if.ids | index($id) != null' wi2.json
  "$CPTOP" --advise --replay rec.cprec --at "@$t_after" \
    --what-if "execution.checkpointing.timeout=$((slow_ms + 1))ms" >wi3.txt 2>>adv.err
  check "--what-if timeout=$((slow_ms + 1))ms lets #$slow_id through: none of the completed would have expired" \
    grep -Eq "^  with a timeout of $((slow_ms + 1))ms, 0 of the [0-9]+ completed would have expired$" wi3.txt
  # what the recording saw of the expired one after it expired: the stalled
  # barrier moving on (4 s stall, 2 s timeout): it needed at least that long
  trig=$(jq -s --argjson id "$id" 'map(select(.type == "cp_triggered" and .id == $id))[0].ts_us' all.jsonl)
  last=$(jq -s --argjson id "$id" '[.[] | select(.id == $id and .op != null) | .ts_us] | max' all.jsonl)
  busy_ms=$(( (last - trig) / 1000 ))
  check "the recording saw #$id still in progress ${busy_ms}ms after its trigger, past its expiry" \
    test "$busy_ms" -gt 2500
  t_late=$((last / 1000000 + 3)) # (recorded time is receive time: a margin)
  "$CPTOP" --advise --replay rec.cprec --at "@$t_late" \
    --what-if "execution.checkpointing.timeout=$((busy_ms - 300))ms" >wi4.txt 2>>adv.err
  check "--what-if timeout=$((busy_ms - 300))ms: #$id would have expired anyway, seen in progress past it" \
    grep -Eq "^  [0-9]+ that expired would have expired with [^ ]+ too: .*#$id \(at " wi4.txt
  "$CPTOP" --advise --json --replay rec.cprec --at "@$t_late" \
    --what-if "execution.checkpointing.timeout=$((busy_ms + 1000))ms" >wi5.json 2>>adv.err
  check "--what-if timeout=$((busy_ms + 1000))ms, longer than it was seen busy: #$id might have completed" \
    jq -e --argjson id "$id" '.what_if.might_complete | index($id) != null' wi5.json
  # --from after the expiry: the late events are there, the checkpoint's start is not:
  # nothing ties them to #$id (a later process may count its checkpoints again)
  "$CPTOP" --advise --json --replay rec.cprec --at "@$t_late" --from "@$((ts / 1000000 + 1))" \
    --what-if "execution.checkpointing.timeout=$((busy_ms - 300))ms" >wi6.json 2>>adv.err
  check "--from after its expiry: what came later is not tied to #$id, which might have completed" \
    jq -e --argjson id "$id" '.what_if.might_complete | index($id) != null' wi6.json
  check "advice from a recording printed no complaint" bash -c "! grep -q . adv.err"
else
  fail "jq is required for the advice checks (scripts/deps.sh --for test)"
fi

size=$(stat -c %s rec.cprec)
head -c $((size * 2 / 3)) rec.cprec >cut.cprec
check "a recording cut short replays up to its last complete chunk, with a note" \
  bash -c "'$CPTOP' --replay cut.cprec --once 2>cut.err | grep -q '^job rp' && grep -q 'cut short' cut.err"
check "an unknown time is refused" bash -c "! '$CPTOP' --replay rec.cprec --once --at soon 2>/dev/null"
check "the job left no sanitizer report" sh -c "! grep -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' job.log"
t_done
