#!/usr/bin/env bash
# What a dashboard sees of one checkpoint of `cpdemo run`: every subtask's
# barrier and ack, each in a causally sensible order, read by `cptop --json`.
. "$(dirname "$0")/lib.sh"
export XDG_RUNTIME_DIR=$T_TMP
CPDEMO=$top/$BUILD/bin/cpdemo
CPTOP=$top/$BUILD/bin/cptop
cd "$T_TMP" && mkdir -p var
bg "$CPDEMO" kafka --partitions 4 --bootstrap-file var/kafka.bootstrap
wait_for 10 test -s var/kafka.bootstrap || fail "cpdemo kafka did not start"
check "produce" "$CPDEMO" produce --bootstrap-file var/kafka.bootstrap --count 20000 --seed 1
cat > ev.json <<'JSON'
{ "pipeline.name": "ev", "parallelism.default": 3,
  "source.kafka.bootstrap-file": "var/kafka.bootstrap", "sink.url": "sqlite:var/ev.db",
  "execution.checkpointing.interval": "400 ms", "execution.checkpointing.storage": "var/chk" }
JSON
bg "$CPDEMO" run --config ev.json
wait_for 15 test -e "$T_TMP/cptop/ev.json" || fail "cpdemo run did not start"
timeout 4 "$CPTOP" --job ev --json > events.jsonl
check "the stream has completed checkpoints" grep -q '"type":"cp_completed"' events.jsonl

# One line per event: seq type id op subtask channel (missing fields: -)
awk '{
  f["seq"]="-"; f["type"]="-"; f["id"]="-"; f["op"]="-"; f["subtask"]="-"; f["channel"]="-";
  for (k in f) if (match($0, "\"" k "\":\"?[A-Za-z0-9_-]+")) {
    v = substr($0, RSTART, RLENGTH); sub(/^"[a-z_]+":"?/, "", v); f[k] = v }
  print f["seq"], f["type"], f["id"], f["op"], f["subtask"], f["channel"] }' events.jsonl > ev.txt

# a checkpoint whose whole life is in the capture
cp=$(awk '$2=="cp_triggered"{t[$3]=1} $2=="cp_committed" && t[$3]{print $3; exit}' ev.txt)
check "a whole checkpoint (triggered .. committed) was captured" test -n "$cp"
P=3
awk -v cp="$cp" -v P="$P" '
  $3 != cp { next }
  { key = $4 "/" $5 }
  $2=="cp_triggered"      { trig = $1 }
  $2=="barrier_injected"  { first[key] = $1; nb[key]++ }
  $2=="barrier_received"  { if (!(key in first)) first[key] = $1; last[key] = $1; nb[key]++;
                            recv[$4 "/" $5 "/" $6] = $1 }
  $2=="alignment_start"   { as[key] = $1 }
  $2=="alignment_end"     { ae[key] = $1 }
  $2=="snapshot_start"    { ss[key] = $1 }
  $2=="snapshot_sync_done"  { sy[key] = $1 }
  $2=="snapshot_async_done" { asy[key] = $1 }
  $2=="ack"               { ack[key] = $1; nack[key]++; if ($1 > lastack) lastack = $1 }
  $2=="cp_completed"      { done = $1 }
  $2=="cp_committed"      { comm = $1 }
  END {
    bad = 0
    if (!trig || !done || !comm) { print "missing trigger/completed/committed"; exit 1 }
    for (op = 0; op < 4; op++) for (s = 0; s < P; s++) {
      k = op "/" s
      want_b = (op == 2) ? P : 1
      if (nb[k] != want_b) { print k ": " nb[k] " barriers, want " want_b; bad++ }
      if (nack[k] != 1) { print k ": " nack[k] " acks"; bad++; continue }
      if (!(first[k] > trig)) { print k ": barrier before the trigger"; bad++ }
      if (!(ss[k] > last[k] && sy[k] > ss[k] && asy[k] > sy[k] && ack[k] > asy[k])) {
        print k ": phases out of order"; bad++ }
      if (op == 2 && !(as[k] > first[k] && as[k] < last[k] && ae[k] >= last[k] && ae[k] < ss[k])) {
        print k ": alignment out of order"; bad++ }
    }
    # downstream receives after upstream forwarded
    for (s = 0; s < P; s++) {
      if (!(first["1/" s] > first["0/" s])) { print "parse " s " before its source"; bad++ }
      for (a = 0; a < P; a++)
        if (!(recv["2/" a "/" s] > first["1/" s])) { print "aggregate " a " ch " s " before parse " s; bad++ }
      if (!(first["3/" s] > last["2/" s])) { print "sink " s " before its aggregate"; bad++ }
    }
    if (!(done > lastack)) { print "completed before the last ack"; bad++ }
    if (!(comm > done)) { print "committed before completed"; bad++ }
    exit bad > 0
  }' ev.txt > order.txt
res=$?
check "checkpoint $cp: every subtask's barrier and ack, in causal order" test "$res" -eq 0
[ "$res" -eq 0 ] || head -5 order.txt

# commands at run time (a subscriber watches for the republished configuration)
timeout 8 "$CPTOP" --job ev --json > after-set.jsonl &
T_PIDS+=($!)
sleep 0.5
check "ctl set changes the interval and timeout" \
  bash -c "'$CPTOP' --job ev ctl set execution.checkpointing.interval 250ms | grep -q 'interval 250 ms' \
        && '$CPTOP' --job ev ctl set execution.checkpointing.timeout '30 s' | grep -q 'timeout 30 s'"
check "ctl set refuses a bad value, naming it" \
  bash -c "'$CPTOP' --job ev ctl set execution.checkpointing.interval soon 2>&1 | grep -q soon"
check "ctl set refuses a key that cannot change at run time" \
  bash -c "! '$CPTOP' --job ev ctl set parallelism.default 8 2>/dev/null"
check "the new settings reach dashboards (hello republished)" \
  wait_for 5 bash -c "grep '\"type\":\"hello\"' after-set.jsonl | grep -q '\"execution.checkpointing.timeout\":\"30 s\"'"
# hold a barrier, trigger, abort the checkpoint in flight
"$CPTOP" --job ev ctl fail stall 2 0 ms=3000 >/dev/null
"$CPTOP" --job ev ctl trigger >/dev/null
# the held one: in flight for a second already (one triggered just before
# the stall may still be finishing, slowly on a loaded machine)
held() { "$CPTOP" --job ev --once | sed -nE 's/^in flight ([0-9]+):.*, [0-9.]+s elapsed,.*/\1/p' | head -1; }
some_held() { [ -n "$(held)" ]; }
wait_for 5 some_held
inflight=$(held)
check "a checkpoint is in flight behind the stalled barrier" test -n "$inflight"
check "ctl abort aborts it" bash -c "'$CPTOP' --job ev ctl abort '$inflight' | grep -q aborted"
check "it is failed as aborted by the user" \
  wait_for 5 bash -c "'$CPTOP' --job ev --once | grep -E '^ +$inflight failed' | grep -q CHECKPOINT_ABORTED_BY_USER"
check "checkpoints complete again afterwards" \
  wait_for 10 bash -c "'$CPTOP' --job ev --once | awk '\$2==\"completed\" && \$1 > $inflight' | grep -q ."
# ---------------------------------------------------------------- --json across process restarts
# A supervised job crashed three times: --json says so each time with a state
# line (the new pid, instance and state, restore included) before the new
# process's messages, though the new process announced its hello and its
# restore before the subscription reached it.
cat > sup.json <<'JSON'
{ "pipeline.name": "sup", "parallelism.default": 2,
  "source.kafka.bootstrap-file": "var/kafka.bootstrap", "sink.url": "sqlite:var/sup.db",
  "execution.checkpointing.interval": "300 ms", "execution.checkpointing.storage": "var/supchk",
  "execution.checkpointing.tolerable-failed-checkpoints": 100 }
JSON
"$CPDEMO" run --config sup.json --supervise >sup.log 2>&1 &
sup_pid=$!
T_PIDS+=($sup_pid)
wait_for 20 test -e "$T_TMP/cptop/sup.json" || fail "the supervised job did not start"
job_pid() { "$CPTOP" --job sup --once 2>/dev/null | sed -nE 's/^job sup .*, pid ([0-9]+),.*/\1/p'; }
# a completed checkpoint in this process's history (a restore needs one)
has_completed() { "$CPTOP" --job sup --once 2>/dev/null | grep -Eq '^ +[0-9]+ completed '; }
wait_for 20 has_completed
"$CPTOP" --job sup --json >sup.jsonl 2>sup.err &
json_pid=$!
T_PIDS+=($json_pid)
pids=()
for n in 1 2 3; do
  old=$(job_pid)
  "$CPTOP" --job sup ctl fail crash >/dev/null 2>&1
  new_pid() { local p; p=$(job_pid); [ -n "$p" ] && [ "$p" != "$old" ]; }
  wait_for 30 new_pid || fail "crash $n: no new process"
  pids+=("$(job_pid)")
  wait_for 20 has_completed
done
sleep 2
kill "$json_pid"
check "cptop --json ends within 3 s of SIGTERM, the job still streaming" wait_for 3 ended "$json_pid"
ended "$json_pid" || kill -KILL "$json_pid"
wait "$json_pid" 2>/dev/null
check "--json begins with the job's state" bash -c "head -1 sup.jsonl | grep -q '\"type\":\"state\".*\"reason\":\"connected\"'"
# the supervisor may restart a process on its own too (a dependency slow to
# answer under load), and one that dies at once may never be seen: at least
# our 3 restarts, at most the supervisor's, each line a new instance
restarts=$(grep -c 'restarting in' sup.log)
seen=$(grep -c '"type":"state".*"reason":"restarted"' sup.jsonl)
check "one state line per restart seen ($seen; 3 crashes, $restarts restarts), each a new instance" \
  bash -c "[ $seen -ge 3 ] && [ $seen -le $restarts ] && \
           test \$(grep '\"type\":\"state\"' sup.jsonl | grep -o '\"instance\":\"[0-9a-f]*\"' | sort -u | wc -l) -eq $((seen + 1))"
# each process we crashed into: its state line names its pid and shows its
# restore (restored_from), or a restored event follows before the next state line
for p in "${pids[@]}"; do
  awk -v pid="\"pid\":$p," '/"type":"state"/ { open = index($0, pid) > 0; if (open && /"restored_from":[1-9]/) { got = 1; open = 0 } }
       /"type":"restored"/ && open { got = 1; open = 0 }
       END { exit !got }' sup.jsonl
  check "the new process (pid $p): its state line, and its restore" test $? -eq 0
done
check "--json wrote nothing on stderr" test ! -s sup.err
# stopped here, bounded: a job that does not stop is reported, not waited out
last_job=$(job_pid)
kill -TERM "$sup_pid"
if wait_for 30 ended "$sup_pid"; then
  ok "the supervised job stops on SIGTERM"
else
  fail "the supervised job stops on SIGTERM" "still running 30 s later: $(tail -2 sup.log | tr '\n' ' ')"
  [ -n "$last_job" ] && ! ended "$last_job" && kill -KILL "$last_job"
  kill -KILL "$sup_pid"
fi
wait "$sup_pid" 2>/dev/null
t_done
