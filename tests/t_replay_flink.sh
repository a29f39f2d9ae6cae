#!/usr/bin/env bash
# Recordings of a Flink source replay its derived events, and replay --once
# prints what live --once prints. agent_hello answers Flink's REST API and
# is an agent job at once: cptop records it both ways headless while a live
# --flink --json runs; then replay --json prints the same cp_triggered /
# cp_completed events (by id, content but for seq and receive time) as the
# live one did, --from/--to bound them to exactly the checkpoints received
# in between, --advise --replay counts every recorded checkpoint (more than
# Flink's REST history of 10), and replay --once at the end has the shape
# of live --once (topology, failures, the history's header and rows) for
# both recordings.
. "$(dirname "$0")/lib.sh"
export XDG_RUNTIME_DIR=$T_TMP
HELLO=$top/$BUILD/bin/agent_hello
CPTOP=$top/$BUILD/bin/cptop
cd "$T_TMP"

"$HELLO" --job-id x --interval-ms 300 --rest 127.0.0.1:0 >>hello.log 2>&1 &
T_PIDS+=($!)
wait_for 10 grep -q 'Flink REST API on port' hello.log || fail "agent_hello did not serve REST"
PORT=$(sed -nE 's/.*Flink REST API on port ([0-9]+).*/\1/p' hello.log | head -1)
URL=http://127.0.0.1:$PORT
wait_for 10 sh -c "timeout 10 '$CPTOP' --flink $URL --once | grep -q '^ *2 completed'" ||
  fail "no second checkpoint through Flink"

"$CPTOP" --flink "$URL" --record f.cprec --headless 2>frec.err &
frec=$!
T_PIDS+=($frec)
"$CPTOP" --job x --record a.cprec --headless 2>arec.err &
arec=$!
T_PIDS+=($arec)
sleep 1
timeout 6 "$CPTOP" --flink "$URL" --json >live.jsonl 2>live.err
# the state as live --once prints it, just before the recorders stop
timeout 10 "$CPTOP" --flink "$URL" --once >flive.txt 2>&1
timeout 10 "$CPTOP" --job x --once >alive.txt 2>&1
sleep 1
kill -TERM "$frec" "$arec"
check "the recorders end on SIGTERM" wait_for 5 bash -c "! kill -0 $frec 2>/dev/null && ! kill -0 $arec 2>/dev/null"
check "the recorders said nothing wrong" bash -c "! grep -q . frec.err arec.err"

# ---------------------------------------------------------------- --json
# ids TYPE FILE: the checkpoint ids of TYPE's events in FILE, one a line,
# in comm's (lexical) order
ids() { grep "\"type\":\"$1\"" "$2" | sed -n 's/.*"id":\([0-9]*\).*/\1/p' | sort -u; }
# same TYPE ID FILE: that event without its seq and receive time
same() { grep "\"type\":\"$1\"" "$3" | grep "\"id\":$2," | head -1 | sed -E 's/"(seq|ts_us)":[0-9]+,//g'; }
"$CPTOP" --replay f.cprec --json >rep.jsonl 2>rep.err
check "replay --json of the Flink recording exits 0, complaining of nothing" \
  bash -c "test $? = 0 && ! grep -q . rep.err"
check "it starts with a state line" bash -c "head -1 rep.jsonl | grep -q '\"type\":\"state\".*\"reason\":\"replay\"'"
ids cp_completed live.jsonl >live.done
ids cp_triggered live.jsonl >live.trig
ids cp_completed rep.jsonl >rep.done
ids cp_triggered rep.jsonl >rep.trig
check "live --flink --json printed 3 or more completed checkpoints" test "$(wc -l <live.done)" -ge 3
check "replay --json prints cp_completed for every checkpoint live --json did" \
  bash -c "test -z \"\$(comm -23 live.done rep.done)\""
check "  and cp_triggered for every one live --json did" \
  bash -c "test -z \"\$(comm -23 live.trig rep.trig)\""
# (a checkpoint in flight when live --json started has its cp_triggered in
# the state line, not on a line of its own)
for id in $(cat live.done); do
  for t in cp_triggered cp_completed; do
    l=$(same $t "$id" live.jsonl)
    [ -z "$l" ] || [ "$l" = "$(same $t "$id" rep.jsonl)" ] || echo "$t $id: $l | $(same $t "$id" rep.jsonl)"
  done
done >differ.txt
check "  each the same event (but for seq and the time it was received)" bash -c "! grep . differ.txt"
check "replay --json: one valid JSON object per line" python3 -c '
import json
for l in open("rep.jsonl"): json.loads(l)'

# --from/--to: exactly the checkpoints completed in (from, to]
ts_of() { grep '"type":"cp_completed"' rep.jsonl | grep "\"id\":$1," | head -1 | sed -n 's/.*"ts_us":\([0-9]*\).*/\1/p'; }
n=$(wc -l <rep.done)
a=$(sort -n rep.done | sed -n 3p) b=$(sort -n rep.done | sed -n "$((n - 2))p")
from=$(( $(ts_of "$a") + 1 )) to=$(ts_of "$b")
epoch() { echo "@$(($1 / 1000000)).$(printf %06d $(($1 % 1000000)))"; }
"$CPTOP" --replay f.cprec --json --from "$(epoch "$from")" --to "$(epoch "$to")" >b.jsonl 2>b.err
grep '"type":"cp_completed"' rep.jsonl | while read -r l; do
  t=$(sed -n 's/.*"ts_us":\([0-9]*\).*/\1/p' <<<"$l")
  [ "$t" -gt "$from" ] && [ "$t" -le "$to" ] && sed -n 's/.*"id":\([0-9]*\).*/\1/p' <<<"$l"
done | sort -u >want.done
ids cp_completed b.jsonl >b.done
check "--from/--to: checkpoints $((a + 1))..$b of 1..$(sort -n rep.done | tail -1) (precondition)" \
  test "$(wc -l <want.done)" -ge 2
check "--from/--to print cp_completed for exactly the checkpoints received in between" \
  diff want.done b.done
check "  and no event received outside them" bash -c "
  grep -v '\"type\":\"state\"' b.jsonl | sed -n 's/.*\"ts_us\":\([0-9]*\).*/\1/p' |
    awk -v f=$from -v t=$to '\$1 < f || \$1 > t {bad=1} END {exit bad}'"
check "  after a state line that holds checkpoint $a, completed" python3 -c "
import json
s = json.loads(open('b.jsonl').readline())
assert s['type'] == 'state' and s['result']['counts']['completed'] >= $a, s['result']['counts']"

# ---------------------------------------------------------------- --advise
"$CPTOP" --advise --replay f.cprec >adv.txt 2>adv.err
check "the Flink recording holds more checkpoints than Flink's REST history (precondition)" \
  test "$n" -gt 10
check "--advise --replay of the Flink recording reads all $n of its checkpoints" \
  grep -Eq "^advice for job [0-9a-f]{32} \(hello\) from $n checkpoints \($n completed, 0 failed\)" adv.txt

# ---------------------------------------------------------------- --once
# The shape of --once: numbers and durations as N, runs of blanks as one
# (a column's width follows its numbers), checkpoints in flight (there may
# be one or none at either moment) left out, rows of one shape as one (Flink's
# REST history of 10 holds the one in flight too: live may print 9).
shape() { grep -v '^in flight' "$1" | sed -E 's/[0-9]+(\.[0-9]+)?(us|ms|s|m|h)?/N/g; s/ +/ /g' | uniq; }
for src in f a; do
  live=$([ $src = f ] && echo flive.txt || echo alive.txt)
  "$CPTOP" --replay $src.cprec --once >${src}rep.txt 2>${src}rep.err
  check "replay --once ($src): a line naming the time, then what live --once prints" \
    bash -c "head -1 ${src}rep.txt | grep -Eq '^replay at [0-9:]{8} \([0-9]+\)$'"
  tail -n +2 ${src}rep.txt >${src}rep.body
  check "  the same topology line" bash -c "grep '^topology:' $live >l.t && test -s l.t && grep '^topology:' ${src}rep.body | diff l.t -"
  check "  the same history header" bash -c "grep '^ *id status' $live >l.h && test -s l.h && grep '^ *id status' ${src}rep.body | diff l.h -"
  shape $live >l.shape
  shape ${src}rep.body >r.shape
  check "  every line of the same shape, 10 history rows each" bash -c "
    test \$(grep -Ec '^ +[0-9]+ completed ' ${src}rep.body) = 10 && diff l.shape r.shape"
done
# a seek lands on a keyframe, then plays the Flink bodies after it: the
# state at the end holds the last checkpoint the whole replay derived
# (its total counts one still in flight at the end, as the last trigger did)
check "replay --once at the end: its newest checkpoint is the last replay --json completed ($(sort -n rep.done | tail -1))" \
  bash -c "grep -Eq '^ +$(sort -n rep.done | tail -1) completed ' frep.body &&
    grep -q '^checkpoints: total $(sort -n rep.trig | tail -1),' frep.body ||
    { grep -E '^checkpoints|^ +[0-9]+ ' frep.body | head -3; false; }"
check "replay --once printed no complaint" bash -c "! grep -q . frep.err arep.err"
t_done
