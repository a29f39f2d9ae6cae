#!/usr/bin/env bash
# Unaligned checkpoints end to end. Refused with AT_LEAST_ONCE (naming both
# keys). A supervised job under a steady producer, its sinks throttled
# through cptop (backpressure), starts aligned; `cptop ctl set` turns
# unaligned checkpoints on (what `c` in the dashboard sends): they are
# triggered unaligned, acknowledged with persisted in-flight bytes, and their
# state files hold channel state. Then kill -9 of the job while an unaligned
# checkpoint is in flight (a stalled barrier holds it): the job comes back
# from a checkpoint that has channel state. An aligned-checkpoint-timeout set
# at run time makes checkpoints start aligned and switch (the events say
# where). The Flink REST facade reports them as Flink does (checkpoint_type
# UNALIGNED_CHECKPOINT, persisted_data, unaligned_checkpoint per subtask).
# Finally a drain, and `cpdemo verify`: nothing lost, nothing twice.
. "$(dirname "$0")/lib.sh"
export XDG_RUNTIME_DIR=$T_TMP
CPDEMO=$top/$BUILD/bin/cpdemo
CPTOP=$top/$BUILD/bin/cptop
for tool in curl jq; do # required: fail loudly, never skip
  command -v "$tool" >/dev/null || { fail "$tool is required (scripts/deps.sh --for test)"; t_done; exit 1; }
done
cd "$T_TMP" && mkdir -p var

bg "$CPDEMO" kafka --partitions 4 --bootstrap-file var/kafka.bootstrap
wait_for 10 test -s var/kafka.bootstrap || fail "cpdemo kafka did not start"

config() { # NAME MORE-JSON-MEMBERS
  cat >"$1.json" <<EOF
{ "pipeline.name": "$1", "parallelism.default": 2,
  "source.kafka.bootstrap-file": "var/kafka.bootstrap",
  "sink.url": "sqlite:var/$1.db", "execution.checkpointing.storage": "var/chk",
  "execution.checkpointing.interval": "300 ms", "execution.checkpointing.timeout": "5 s",
  "execution.checkpointing.tolerable-failed-checkpoints": 100,
  "execution.checkpointing.num-retained": 10,
  "restart-strategy.fixed-delay.delay": "200 ms"${2:+, $2} }
EOF
}

# --- refused combinations, before anything is created
config alo '"execution.checkpointing.unaligned.enabled": true, "execution.checkpointing.mode": "AT_LEAST_ONCE"'
"$CPDEMO" run --config alo.json >alo.out 2>&1
check "unaligned with AT_LEAST_ONCE is refused (exit 2)" test $? -eq 2
check "...naming both keys" bash -c "grep -q 'execution.checkpointing.unaligned.enabled' alo.out &&
  grep -q 'execution.checkpointing.mode EXACTLY_ONCE' alo.out"
check "...and nothing was created" test ! -e var/chk/alo

ctl() { # args...: retried while the job restarts
  local i
  for i in $(seq 60); do
    timeout 10 "$CPTOP" --job uc --timeout 2000 ctl "$@" >>ctl.log 2>&1 && return 0
    sleep 0.25
  done
  return 1
}
throttle() { # per-record-us, on both sinks
  ctl fail throttle 3 0 "per-record-us=$1" && ctl fail throttle 3 1 "per-record-us=$1"
}
events() { cat events*.jsonl 2>/dev/null; }
# the ids of checkpoints triggered with ALIGNMENT after events line N
triggered() { events | tail -n +"$2" | grep '"type":"cp_triggered"' | grep "\"alignment\":\"$1\"" |
  grep -Eo '"id":[0-9]+' | cut -d: -f2; }
watch() { # a dashboard's event stream of the job, one file per process of it
  "$CPTOP" --job uc --json >"events.$1.jsonl" 2>/dev/null &
  T_PIDS+=($!)
}

# --- a supervised job, aligned, under backpressure
"$CPDEMO" produce --bootstrap-file var/kafka.bootstrap --count 45000 --rate 3000 --seed 11 \
  --bad-every 250 >produce.log 2>&1 &
producer=$!
T_PIDS+=("$producer")
# (the REST history keeps every checkpoint: on a loaded machine the first
# unaligned one must still be there when the REST checks look at it)
config uc '"agent.rest.listen": "127.0.0.1:0", "web.checkpoints.history": 1000'
"$CPDEMO" run --config uc.json --supervise >job.log 2>&1 &
job=$!
T_PIDS+=("$job")
wait_for 20 test -S "$T_TMP/cptop/uc.cmd" || fail "the job did not start"
watch 1
check "both sinks throttled through cptop" throttle 3000
triggered_since() { # MARK ALIGNMENT: some checkpoint triggered so after events line MARK
  [ -n "$(triggered "$2" "$1")" ]
}
check "checkpoints start aligned" wait_for 10 triggered_since 1 aligned

# --- unaligned, turned on at run time
mark=$(events | wc -l)
check "ctl set turns unaligned checkpoints on" ctl set execution.checkpointing.unaligned.enabled true
check "checkpoints are then triggered unaligned" wait_for 10 triggered_since "$mark" unaligned
persisting() { events | grep '"type":"ack"' | grep '"unaligned":true' | grep -Eq '"persisted_data":[1-9]'; }
check "their acks say unaligned and persist in-flight bytes" wait_for 10 persisting
ucp() { # the newest unaligned checkpoint that completed (the agent keeps
  # per-subtask detail for its newest few, which the REST checks read)
  local id
  for id in $(triggered unaligned "$mark" | tac); do
    events | grep '"type":"cp_completed"' | grep -q "\"id\":$id," && { echo "$id"; return 0; }
  done
  return 1
}
check "unaligned checkpoints complete" wait_for 10 ucp
has_channel_state() { # [CHECKPOINT]: a state file of it (or of any) holds channel state
  grep -ls '^cpdemo-snapshot 1 ' var/chk/uc/chk-${1:-*}/op*-sub*.state | grep -q .
}
check "their state files hold channel state with the operator state" has_channel_state

# --- what Flink's REST API says of them
rest=$(jq -r .rest "$T_TMP/cptop/uc.json" 2>/dev/null)
jid=$(curl -s -m 10 "$rest/jobs" | jq -r '.jobs[0].id')
cp=$(ucp)
curl -s -m 10 "$rest/jobs/$jid/checkpoints/details/$cp" >details.json
check "REST: checkpoint $cp is an UNALIGNED_CHECKPOINT with persisted_data" \
  jq -e '.checkpoint_type == "UNALIGNED_CHECKPOINT" and .persisted_data > 0' details.json
curl -s -m 10 "$rest/jobs/$jid/checkpoints" >stats.json
check "REST: the history says so too, and the summary counts persisted data" \
  jq -e "(.history[] | select(.id == $cp) | .checkpoint_type == \"UNALIGNED_CHECKPOINT\") and
         .summary.persisted_data.max > 0" stats.json
vertex=$(curl -s -m 10 "$rest/jobs/$jid" | jq -r '.vertices[2].id') # the aggregate
curl -s -m 10 "$rest/jobs/$jid/checkpoints/details/$cp/subtasks/$vertex" >subtasks.json
check "REST: its subtasks are unaligned_checkpoint, and persisted in-flight bytes" \
  jq -e '(.subtasks | all(.unaligned_checkpoint)) and ([.subtasks[].alignment.persisted] | add > 0)' \
  subtasks.json
more_than_10() { curl -s -m 10 "$rest/jobs/$jid/checkpoints" >hist.json && jq -e '.counts.total > 10' hist.json >/dev/null; }
wait_for 20 more_than_10
check "REST: web.checkpoints.history 1000 keeps every checkpoint, more than Flink's default 10" \
  jq -e '.counts.total > 10 and (.history | length) == .counts.total and
         (.history | length) == ([.history[].id] | max - min + 1)' hist.json
check "REST: the checkpoint configuration says unaligned" \
  bash -c "curl -s -m 10 '$rest/jobs/$jid/checkpoints/config' | jq -e '.unaligned_checkpoints'"

# --- kill -9 while an unaligned checkpoint is in flight
before=$(grep -c 'restored from checkpoint' job.log)
# the pid first: nothing slow between seeing the victim in flight and the kill
pid=$(timeout 10 "$CPTOP" --job uc --once 2>/dev/null | grep -Eo 'pid [0-9]+' | head -1 | cut -d' ' -f2)
ctl fail stall 3 0 ms=8000 >/dev/null
inflight() { # an unaligned checkpoint triggered after the stall, acknowledged with channel state, not complete
  # one pass over the stream (it grows by thousands of lines a second)
  events | tail -n +"$stall_mark" | awk '
    function id() { match($0, /"id":[0-9]+/); return substr($0, RSTART + 5, RLENGTH - 5) }
    /"type":"cp_triggered"/ && /"alignment":"unaligned"/ { trig[id()] = 1 }
    /"type":"cp_completed"/ { done[id()] = 1 }
    /"type":"ack"/ && /"persisted_data":[1-9]/ { held[id()] = 1 }
    END { for (i in trig) if (held[i] && !done[i]) { print i; exit 0 } exit 1 }'
}
stall_mark=$(events | wc -l)
check "an unaligned checkpoint in flight, acknowledged with channel state" wait_for 10 inflight
victim=$(inflight)
kill9() { [ -n "$1" ] && [ "$1" -gt 1 ] && kill -9 "$1"; } # never a process group
check "kill -9 the job (pid ${pid:-?}) during checkpoint ${victim:-?}" kill9 "$pid"
check "it comes back restored" \
  wait_for 20 bash -c "[ \$(grep -c 'restored from checkpoint' job.log) -gt $before ]"
restored=$(grep -Eo 'restored from checkpoint [0-9]+' job.log | tail -1 | grep -Eo '[0-9]+$')
check "from a completed checkpoint before the one in flight (${restored:-?} < ${victim:-?})" \
  test "${restored:-0}" -gt 0 -a "${restored:-0}" -lt "${victim:-0}"
check "whose state files hold channel state" has_channel_state "$restored"
wait_for 20 test -S "$T_TMP/cptop/uc.cmd"
watch 2
# a new process reads its configuration again: run-time changes and the
# throttle went with the old one
throttle 3000 >/dev/null

# --- aligned first, unaligned after a timeout
mark=$(events | wc -l)
check "ctl set the aligned-checkpoint-timeout to 100 ms, unaligned on" \
  bash -c "timeout 10 '$CPTOP' --job uc ctl set execution.checkpointing.aligned-checkpoint-timeout 100ms &&
    timeout 10 '$CPTOP' --job uc ctl set unaligned true"
check "checkpoints are triggered aligned with a timeout" \
  wait_for 10 triggered_since "$mark" aligned_timeout
switched() { events | tail -n +"$mark" | grep -q '"type":"switched_to_unaligned"'; }
check "subtasks switch to unaligned when it passes (switched_to_unaligned)" wait_for 15 switched
swid() { # a checkpoint that switched and completed
  local id
  for id in $(events | tail -n +"$mark" | grep '"type":"switched_to_unaligned"' | grep -Eo '"id":[0-9]+' | cut -d: -f2 | sort -u); do
    events | grep '"type":"cp_completed"' | grep -q "\"id\":$id," && { echo "$id"; return 0; }
  done
  return 1
}
check "switched checkpoints complete" wait_for 15 swid

# --- everything committed exactly once
throttle 0 >/dev/null
check "the producer delivered everything" wait_for 60 bash -c "! kill -0 $producer 2>/dev/null"
kill "$job"
check "the job stops on SIGTERM" wait_for 30 bash -c "! kill -0 $job 2>/dev/null"
kill -9 "$job" 2>/dev/null
wait "$job" 2>/dev/null
check "a drain commits the rest (its final checkpoint is aligned)" \
  bash -c "timeout 120 '$CPDEMO' run --config uc.json --drain >drain.log 2>&1"
v=$("$CPDEMO" verify --config uc.json 2>verify.err | tail -1)
echo "  verify: $v"
check "exactly once through unaligned checkpoints, a switch and a kill -9" \
  bash -c "echo '$v' | grep -Eq '^records [0-9]+, lost 0, duplicated 0, mismatched accounts 0$'"
check "no sanitizer report from the job" \
  bash -c "! grep -E 'ERROR: (Address|Leak|Thread)Sanitizer|runtime error:' job.log drain.log"
if [ "$T_FAIL" -gt 0 ]; then
  echo "  --- job log (last 15 lines):"; tail -15 job.log | sed 's/^/  /'
fi
t_done
