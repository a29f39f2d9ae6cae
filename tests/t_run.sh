#!/usr/bin/env bash
# cpdemo run end to end: the embedded Kafka, 200,000+ records, failures of
# every kind injected through cptop at random moments plus a kill -9 of the
# job, then `cpdemo verify`: exactly once (and at least once in that mode).
# Seeded: T_SEED=N reproduces a run; the seed is printed.
. "$(dirname "$0")/lib.sh"
export XDG_RUNTIME_DIR=$T_TMP
CPDEMO=$top/$BUILD/bin/cpdemo
CPTOP=$top/$BUILD/bin/cptop
seed=${T_SEED:-$(( $(date +%s) % 100000 ))}
echo "  seed $seed (T_SEED=$seed reproduces this run)"
RANDOM=$seed
cd "$T_TMP" && mkdir -p var

bg "$CPDEMO" kafka --partitions 4 --bootstrap-file var/kafka.bootstrap
wait_for 10 test -s var/kafka.bootstrap || fail "cpdemo kafka did not start"

check "produce 200,000 records (200 malformed)" \
  "$CPDEMO" produce --bootstrap-file var/kafka.bootstrap --count 200000 --seed "$seed" --bad-every 1000

config() { # name mode
  cat > "$1.json" <<EOF
{ "pipeline.name": "$1", "parallelism.default": 3,
  "source.kafka.bootstrap-file": "var/kafka.bootstrap",
  "sink.url": "sqlite:var/$1.db",
  "execution.checkpointing.interval": "300 ms",
  "execution.checkpointing.mode": "$2",
  "execution.checkpointing.storage": "var/checkpoints",
  "execution.checkpointing.timeout": "3 s",
  "execution.checkpointing.tolerable-failed-checkpoints": 1,
  "execution.checkpointing.num-retained": 2,
  "restart-strategy.fixed-delay.delay": "200 ms" }
EOF
}

job_pid=
start_job() { # config
  "$CPDEMO" run --config "$1.json" >>"var/$1.log" 2>&1 &
  job_pid=$!
  T_PIDS+=("$job_pid")
  wait_for 15 test -S "$T_TMP/cptop/$1.cmd"
}

# a command the job may refuse while it restarts: retried for a while
ctl() { # job args...
  local job=$1; shift
  local i
  for i in $(seq 60); do
    "$CPTOP" --job "$job" ctl "$@" >>"var/ctl.log" 2>&1 && return 0
    sleep 0.25
  done
  return 1
}

# waits until verify sees every good record committed; prints its last line
drained() { # config expected-records [verify options]
  local cfg=$1 want=$2; shift 2
  local i out
  for i in $(seq 240); do
    out=$("$CPDEMO" verify --config "$cfg.json" "$@" 2>/dev/null | tail -1)
    case "$out" in "records $want, "*) echo "$out"; return 0 ;; esac
    sleep 0.5
  done
  echo "$out"
  return 1
}

pause() { sleep "0.$(( RANDOM % 9 + 1 ))"; }

# ---------------------------------------------------------------- EXACTLY_ONCE
config eo EXACTLY_ONCE
start_job eo
check "the job starts and completes checkpoints" \
  wait_for 20 bash -c "'$CPTOP' --job eo --once | grep -q ' completed '"

# more input keeps arriving while failures land
"$CPDEMO" produce --bootstrap-file var/kafka.bootstrap --count 60000 --rate 20000 \
  --seed $((seed + 1)) --bad-every 1000 >var/produce2.log 2>&1 &
prod=$!
T_PIDS+=("$prod")

failures=("fail kill $((RANDOM % 4)) $((RANDOM % 3))"
          "fail stall $((RANDOM % 4)) $((RANDOM % 3)) ms=4000"
          "fail decline $((RANDOM % 4)) $((RANDOM % 3))"
          "fail fail-storage count=2"
          "fail fail-commit"
          "fail slow-storage ms=50"
          "fail kill $((RANDOM % 4)) $((RANDOM % 3))")
# shuffle, seeded
for ((i = ${#failures[@]} - 1; i > 0; i--)); do
  k=$((RANDOM % (i + 1))); t=${failures[i]}; failures[i]=${failures[k]}; failures[k]=$t
done
n_ok=0
for f in "${failures[@]}"; do
  pause
  # shellcheck disable=SC2086
  if ctl eo $f; then n_ok=$((n_ok + 1)); else echo "  (refused: $f)"; fi
done
ctl eo fail slow-storage ms=0 || true
check "7 failures of 6 kinds injected through cptop" test "$n_ok" -eq 7
# they take effect as the job reaches them (a stalled barrier holds the rest
# back for its 4 s): at least the kills and the failed commit restart it
check "the job failed and restarted for them" \
  wait_for 30 bash -c "test \$(grep -c 'failure:' var/eo.log) -ge 2"
check "a checkpoint expired, was declined or failed on storage" \
  wait_for 30 bash -c "'$CPTOP' --job eo --once | grep -qE 'CHECKPOINT_EXPIRED|CHECKPOINT_DECLINED|IO_EXCEPTION'"

pause
kill -9 "$job_pid"; wait "$job_pid" 2>/dev/null
check "kill -9 leaves the discovery file of a dead job (stale)" \
  bash -c "'$CPTOP' --list | grep -E '^eo .* stale'"
start_job eo
wait "$prod"
check "the second producer delivered everything" grep -q "delivered 60000, 0 delivery errors" var/produce2.log
good=$(( 200000 - 200 + 60000 - 60 ))
check "restarted from a completed checkpoint" wait_for 20 grep -q "restored from checkpoint" var/eo.log
out=$(drained eo "$good")
echo "  verify: $out"
check "exactly once: verify finds nothing lost or duplicated" \
  test "$out" = "records $good, lost 0, duplicated 0, mismatched accounts 0"
check "verify exits 0" "$CPDEMO" verify --config eo.json
kill "$job_pid"; wait "$job_pid" 2>/dev/null
check "a clean stop removes the discovery file" test ! -e "$T_TMP/cptop/eo.json"

# ---------------------------------------------------------------- AT_LEAST_ONCE
config alo AT_LEAST_ONCE
start_job alo
check "AT_LEAST_ONCE job completes checkpoints" \
  wait_for 20 bash -c "'$CPTOP' --job alo --once | grep -q ' completed '"
for f in "fail kill 2 1" "fail decline 3 0" "fail fail-commit"; do
  pause
  # shellcheck disable=SC2086
  ctl alo $f || echo "  (refused: $f)"
done
out=$(drained alo "$good" --allow-duplicates)
echo "  verify: $out"
check "at least once: nothing lost (duplicates allowed)" \
  bash -c "case '$out' in 'records $good, lost 0, '*) true ;; *) false ;; esac"
kill "$job_pid"; wait "$job_pid" 2>/dev/null
t_done
