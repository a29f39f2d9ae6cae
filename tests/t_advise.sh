#!/usr/bin/env bash
# cptop --advise on the demo job. A job under a steady producer checkpoints
# for a while; a barrier stalled past the timeout makes one checkpoint
# expire; then both sinks are throttled (backpressure) and checkpoints wait
# behind the queued records. --advise must name the causes: the expired
# checkpoint (and why no timeout is sure to let it through), tolerance, and
# the backpressure (start delay or alignment dominating, with unaligned
# checkpoints as the fix); --json says the same for scripts; --what-if
# replays the history; bad budgets and what-ifs are usage errors.
. "$(dirname "$0")/lib.sh"
export XDG_RUNTIME_DIR=$T_TMP
CPDEMO=$top/$BUILD/bin/cpdemo
CPTOP=$top/$BUILD/bin/cptop
command -v jq >/dev/null || { fail "jq is required (scripts/deps.sh --for test)"; t_done; exit 1; }
cd "$T_TMP" && mkdir -p var

# --- usage errors need no job
"$CPTOP" --advise --what-if execution.checkpointing.interval=5s >usage.out 2>&1
check "--what-if on a key it cannot replay is a usage error (exit 2)" test $? -eq 2
check "...naming what it can replay" grep -q "it can replay execution.checkpointing.timeout" usage.out
"$CPTOP" --advise --what-if timeout >usage.out 2>&1
check "--what-if without =VALUE is a usage error" test $? -eq 2
"$CPTOP" --advise --max-replay soon >usage.out 2>&1
check "--max-replay that is not a duration is a usage error" test $? -eq 2
"$CPTOP" --advise --at -5m >usage.out 2>&1
check "--at without --replay is a usage error" test $? -eq 2
"$CPTOP" --advise --replay no-such.cprec >usage.out 2>&1
check "--replay of a file that is not there: exit 1, naming it" \
  bash -c "test $? -eq 1 && grep -q no-such.cprec usage.out"
"$CPTOP" --advise --replay no-such.cprec --what-if timeout=soon >usage.out 2>&1
check "...a bad --what-if is a usage error before the file is read" test $? -eq 2

bg "$CPDEMO" kafka --partitions 4 --bootstrap-file var/kafka.bootstrap
wait_for 10 test -s var/kafka.bootstrap || fail "cpdemo kafka did not start"
cat >adv.json <<EOF
{ "pipeline.name": "adv", "parallelism.default": 2,
  "source.kafka.bootstrap-file": "var/kafka.bootstrap",
  "sink.url": "sqlite:var/adv.db", "execution.checkpointing.storage": "var/chk",
  "execution.checkpointing.interval": "1 s", "execution.checkpointing.timeout": "5 s",
  "execution.checkpointing.tolerable-failed-checkpoints": 100,
  "execution.checkpointing.num-retained": 3 }
EOF
"$CPDEMO" produce --bootstrap-file var/kafka.bootstrap --count 1000000 --rate 3000 --seed 5 \
  >produce.log 2>&1 &
T_PIDS+=($!)
"$CPDEMO" run --config adv.json >job.log 2>&1 &
T_PIDS+=($!)
wait_for 20 test -S "$T_TMP/cptop/adv.cmd" || fail "the job did not start"

ctl() { timeout 10 "$CPTOP" --job adv --timeout 3000 ctl "$@" >>ctl.log 2>&1; }
once() { timeout 10 "$CPTOP" --job adv --once 2>/dev/null; }
# the newest completed checkpoint's id (--once lists the newest first)
newest() { once | awk '$2 == "completed" {print $1; exit}'; }
past() { local n; n=$(newest); [ -n "$n" ] && [ "$n" -ge "$1" ]; }
advise() { timeout 20 "$CPTOP" --job adv --advise "$@"; }

check "the job completes checkpoints" wait_for 30 past 5

# --- a barrier stalled past the 5 s timeout: that checkpoint expires
check "a barrier stalled for 7 s at sink 0" ctl fail stall 3 0 ms=7000
expired() { once | grep -q 'CHECKPOINT_EXPIRED'; }
check "...expires its checkpoint" wait_for 30 expired
xid=$(once | grep 'CHECKPOINT_EXPIRED' | head -1 | awk '{print $1}')

# --- backpressure: both sinks throttled, barriers wait behind records.
# The agent keeps per-subtask detail for its newest 8 checkpoints: wait
# until 10 have completed under the throttle.
throttle() { ctl fail throttle 3 0 "per-record-us=$1" && ctl fail throttle 3 1 "per-record-us=$1"; }
check "both sinks throttled" throttle 3000
from=$(( $(newest) + 10 ))
check "checkpoints complete under backpressure" wait_for 60 past "$from"

advise >advice.txt 2>advise.err
check "--advise answers" test -s advice.txt
cat advice.txt | sed 's/^/    | /' | head -60
check "it names the expired checkpoint, and why no timeout is sure to save it" \
  grep -q "no timeout is sure to let #$xid through" advice.txt
check "the timeout advice gives a Flink key and a duration" \
  grep -Eq "^  set   execution.checkpointing.timeout: [0-9]+ (ms|s|min)   \(now 5 s\)" advice.txt
check "...and what the current value did to the past" \
  grep -Eq "with 5s \(now\), [1-9][0-9]* of the last [0-9]+ would have expired" advice.txt
check "it counts the expired one against the tolerance" \
  grep -Eq "^  - [1-9][0-9]* of the last [0-9]+ failed and count: [1-9][0-9]* expired" advice.txt
check "it names backpressure as the cause (start delay or alignment dominating)" \
  grep -Eq "^\[warn\] (backpressure|alignment): (start delay|alignment) dominates" advice.txt
check "...with unaligned checkpoints as the fix" \
  grep -q "set   execution.checkpointing.unaligned.enabled: true   (now false)" advice.txt
check "the cost of a failure now, at the sampled record rate" \
  grep -Eq "a restart now replays ~[0-9]+ records \([^)]* of input at [1-9][0-9]* rec/s" advice.txt

# --- the same for scripts
advise --json >advice.json 2>/dev/null
check "--advise --json is one JSON object with the timeout advice" \
  jq -e '.advice[] | select(.kind == "timeout") | .settings[0].key == "execution.checkpointing.timeout"' advice.json
check "...and the cause, its level and evidence" \
  jq -e '[.advice[] | select(.kind == "backpressure" or .kind == "alignment")] | length >= 1 and
         (.[0].level == "warn") and (.[0].evidence | length >= 1)' advice.json

# --- what-if: a 1 ms timeout would have expired every completed one
advise --what-if execution.checkpointing.timeout=1ms --json >whatif.json 2>/dev/null
check "--what-if timeout=1ms: every completed checkpoint would have expired" \
  jq -e '.what_if.changed > 0 and .what_if.changed == .completed' whatif.json
advise --what-if tolerable-failed-checkpoints=0 >whatif.txt 2>/dev/null
check "--what-if tolerable-failed-checkpoints=0: the job would have restarted at #$xid" \
  grep -Eq "with 0 tolerated, the job would have restarted [1-9][0-9]* times? .*#$xid" whatif.txt

# --- the dashboard's Advice screen applies the backpressure advice after y
cat >run-cptop.sh <<EOS
export XDG_RUNTIME_DIR='$T_TMP' LANG=C.UTF-8 LC_ALL=C.UTF-8 TERM=screen
exec '$CPTOP' --job adv
EOS
tui_start dash 120 40 "sh '$T_TMP/run-cptop.sh'"
tui_expect "the dashboard shows the job" 20 dash "adv" "completed"
tui_keys dash A
tui_expect "A opens the Advice screen, the cause listed" 10 dash "Advice from the" \
  "warn backpressure +start delay dominates"
tui_keys dash G Enter
tui_expect "End, Enter: the confirmation names the key to send" 10 dash \
  "Apply this advice at run time" "execution.checkpointing.unaligned.enabled = true +\(now false\)"
tui_keys dash y
tui_expect "y sends set_config: the job's reply says unaligned checkpoints" 10 dash \
  "unaligned checkpoints"
unaligned_trigger() {
  timeout 10 "$CPTOP" --job adv --json 2>/dev/null |
    grep -m1 -q '"type":"cp_triggered".*"alignment":"unaligned"'
}
check "...and the job's next checkpoints are unaligned" unaligned_trigger
tui_keys dash q

throttle 0
if [ "$T_FAIL" -gt 0 ]; then
  echo "  --- job log (last 10 lines):"; tail -10 job.log | sed 's/^/  /'
  echo "  --- advise stderr:"; sed 's/^/  /' advise.err
fi
t_done
