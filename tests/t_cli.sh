#!/usr/bin/env bash
# cptop's script modes against a live job (examples/agent_hello).
. "$(dirname "$0")/lib.sh"
export XDG_RUNTIME_DIR=$T_TMP
CPTOP=$BUILD/bin/cptop
HELLO=$BUILD/bin/agent_hello

check "help exits 0 and names every mode" bash -c "$CPTOP --help | grep -q -- --once && $CPTOP --help | grep -q 'ctl set'"
check "bad usage exits 2 naming the argument" bash -c "$CPTOP --bogus 2>&1 | grep -q -- --bogus; test \${PIPESTATUS[0]} -eq 2"
check "no job: --once says so and exits 1" bash -c "$CPTOP --once 2>&1 | grep -q 'no running job'; test \${PIPESTATUS[0]} -eq 1"

bg "$HELLO" --job-id demo1 --interval-ms 300
wait_for 10 test -S "$T_TMP/cptop/demo1.cmd" || fail "agent_hello did not start"

check "--list shows the running job" bash -c "$CPTOP --list | grep -E '^demo1 +hello +[0-9]+ running'"
check "--once shows completed checkpoints" \
  wait_for 10 bash -c "$CPTOP --once | grep -E '^ +[0-9]+ completed periodic'"
check "ctl trigger is accepted" bash -c "$CPTOP ctl trigger | grep -q '^ok:'"
check "the manual checkpoint completes" wait_for 5 bash -c "$CPTOP --once | grep -q 'completed manual'"
check "ctl abort refused by the job exits 1 with its reason" \
  bash -c "$CPTOP ctl abort 1 2>&1 | grep -q 'refused (handler)'; test \${PIPESTATUS[0]} -eq 1"
check "ctl set unsupported by the job exits 1" \
  bash -c "$CPTOP ctl set a b 2>&1 | grep -q 'refused (unsupported)'; test \${PIPESTATUS[0]} -eq 1"
check "ctl abort with a bad id exits 2" bash -c "$CPTOP ctl abort x; test \$? -eq 2"
check "--json streams decodable events" \
  bash -c "timeout 2 $CPTOP --json > $T_TMP/events.jsonl; grep -q '\"type\":\"cp_completed\"' $T_TMP/events.jsonl && grep -q '\"type\":\"heartbeat\"' $T_TMP/events.jsonl"
check "--json lines are one object each" bash -c "! grep -v '^{.*}\$' $T_TMP/events.jsonl"

# a second job: now a job must be chosen
bg "$HELLO" --job-id demo2 --interval-ms 300
wait_for 10 test -S "$T_TMP/cptop/demo2.cmd"
check "two jobs: --once without --job exits 2 listing them" \
  bash -c "$CPTOP --once 2>&1 | grep -q demo2; test \${PIPESTATUS[0]} -eq 2"
check "--job picks one" bash -c "$CPTOP --job demo2 --once | grep -q '^job demo2'"
check "ctl takes its options after ctl too (cptop ctl --job ID trigger)" \
  bash -c "$CPTOP ctl --job demo2 --timeout 3000 trigger | grep -q '^ok:'"
check "--json | head: cptop ends when its reader does" \
  bash -c "timeout 10 $CPTOP --job demo2 --json | head -n 2 | wc -l | grep -qx 2; test \${PIPESTATUS[0]} -ne 124"

# clean stop removes the discovery file; kill -9 leaves a stale one
kill -TERM "${T_PIDS[0]}"; wait "${T_PIDS[0]}" 2>/dev/null
check "clean stop removes the discovery file" test ! -e "$T_TMP/cptop/demo1.json"
kill -KILL "${T_PIDS[1]}"; wait "${T_PIDS[1]}" 2>/dev/null
check "a killed job is listed as stale" bash -c "$CPTOP --list | grep -E '^demo2 .* stale'"
check "a stale job is not a target" bash -c "$CPTOP --once 2>&1 | grep -q 'no running job'"
t_done
