#!/usr/bin/env bash
# cptop --flink against a real cpdemo run with agent.rest.listen: a barrier
# stalled at one subtask from the agent side (ctl fail stall) shows up in
# the Flink view as that subtask still pending, while the others' acks are
# there, within the poll (1 s) + 1 s of the agent reporting the checkpoint.
. "$(dirname "$0")/lib.sh"
export XDG_RUNTIME_DIR=$T_TMP
CPDEMO=$top/$BUILD/bin/cpdemo
CPTOP=$top/$BUILD/bin/cptop
command -v python3 >/dev/null || { fail "python3 is required"; t_done; exit 1; }
cd "$T_TMP" && mkdir -p var

bg "$CPDEMO" kafka --partitions 2 --bootstrap-file var/kafka.bootstrap
wait_for 10 test -s var/kafka.bootstrap || fail "cpdemo kafka did not start"
bg "$CPDEMO" produce --bootstrap-file var/kafka.bootstrap --count 2000000 --rate 2000 --seed 7
cat > demo.json <<EOF
{ "pipeline.name": "fdemo", "parallelism.default": 2,
  "source.kafka.bootstrap-file": "var/kafka.bootstrap",
  "sink.url": "sqlite:var/fdemo.db",
  "execution.checkpointing.interval": "2 s",
  "execution.checkpointing.timeout": "30 s",
  "execution.checkpointing.storage": "var/checkpoints",
  "agent.rest.listen": "127.0.0.1:0" }
EOF
bg "$CPDEMO" run --config demo.json
check "the job says where its REST endpoint is" \
  wait_for 20 grep -q '"rest":"http://127.0.0.1:' "$T_TMP/cptop/fdemo.json"
REST=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["rest"])' "$T_TMP/cptop/fdemo.json")
check "it completes checkpoints (agent view)" \
  wait_for 30 sh -c "'$CPTOP' --job fdemo --once 2>/dev/null | grep -qE '^ +[0-9]+ completed'"

# each line of a --json stream with the wall time it arrived at
cat > stamp.py <<'PY'
import sys, time
for l in sys.stdin:
    sys.stdout.write("%.3f %s" % (time.time(), l))
    sys.stdout.flush()
PY
"$CPTOP" --job fdemo --json 2>/dev/null | python3 stamp.py > agent.log &
T_PIDS+=($!)
"$CPTOP" --flink "$REST" --poll 1000 --json 2>/dev/null | python3 stamp.py > flink.log &
T_PIDS+=($!)
wait_for 15 grep -q '"type":"cp_completed"' flink.log || fail "no checkpoint through Flink"
date +%s.%N > stall.t
check "a barrier stalls at aggregate#1 for 6 s (ctl fail stall)" \
  "$CPTOP" --job fdemo ctl fail stall 2 1 ms=6000
sleep 9

# The stalled checkpoint: the first triggered after the stall whose
# aggregate#1 ack came (if at all) 4 s or more after its trigger.
cat > judge.py <<'PY'
import json, sys
t0 = float(open("stall.t").read())
def read(fn):
    out = []
    for l in open(fn):
        t, _, j = l.partition(" ")
        try:
            out.append((float(t), json.loads(j)))
        except ValueError:
            pass
    return out
agent, flink = read("agent.log"), read("flink.log")
STALLED = (2, 1)
def first(log, pred):
    return next((t for t, e in log if pred(e)), None)
cand = [(t, e["id"]) for t, e in agent if e.get("type") == "cp_triggered" and t >= t0 - 0.5]
cp = None
for t, i in cand:
    ack = first(agent, lambda e: e.get("type") == "ack" and e["id"] == i and (e["op"], e["subtask"]) == STALLED)
    if ack is None or ack - t >= 4:
        cp, seen_agent = i, t
        break
assert cp, "no stalled checkpoint in the agent's stream"
# Flink view: cp in flight, another subtask's ack placed, none from aggregate#1
ended = first(flink, lambda e: e.get("type") in ("cp_completed", "cp_failed") and e["id"] == cp)
other = first(flink, lambda e: e.get("type") == "ack" and e["id"] == cp and (e["op"], e["subtask"]) != STALLED)
stalled = first(flink, lambda e: e.get("type") == "ack" and e["id"] == cp and (e["op"], e["subtask"]) == STALLED)
assert other is not None, f"checkpoint {cp}: no ack through Flink"
assert ended is None or ended > other and (stalled is None or stalled > other), "ended first"
assert stalled is None or stalled - seen_agent >= 3, f"checkpoint {cp}: aggregate#1 acked too soon"
lag = other - seen_agent
assert lag <= 2.0, f"checkpoint {cp}: pending shown {lag:.2f} s after the agent's trigger (poll 1 s + 1 s)"
print(f"checkpoint {cp}: aggregate#1 pending through Flink {lag:.2f} s after the agent reported it")
PY
check "the stalled subtask is pending in the Flink view within poll + 1 s" python3 judge.py
sed 's/^/  (/; s/$/)/' "$T_TMP/out"
t_done
