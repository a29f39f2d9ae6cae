#!/usr/bin/env bash
# Chaos: the job runs supervised while a producer feeds it, and at least 20
# failures drawn at random from the whole catalogue are injected through
# `cptop ctl` (kill a subtask, stall a barrier, decline, fail and slow
# storage writes, fail a sink commit, crash the process, take the broker
# down, add broker latency, throttle a subtask). Then the input is drained
# and `cpdemo verify` must find nothing lost and nothing duplicated. Seeded:
# CHAOS_SEED=N reproduces a run (the seed is printed). CHAOS_N sets the
# number of failures (default 24).
#
# It runs twice: with the defaults (file:// storage, SQLite), then with
# checkpoints on S3 (s3rver) and the sink on PostgreSQL (a private cluster).
# CHAOS_BACKENDS picks runs, any of: defaults, s3-pg, unaligned (unaligned
# checkpoints), timeout (aligned with a 200 ms aligned-checkpoint-timeout,
# going unaligned when it passes); tests/t_chaos_unaligned.sh runs the last
# two.
. "$(dirname "$0")/lib.sh"
export XDG_RUNTIME_DIR=$T_TMP
CPDEMO=$top/$BUILD/bin/cpdemo
CPTOP=$top/$BUILD/bin/cptop
seed=${CHAOS_SEED:-$(( $(date +%s) % 100000 ))}
nfail=${CHAOS_N:-24}
[ "$nfail" -ge 20 ] || nfail=20 # the deck holds every kind twice
echo "  chaos seed $seed (CHAOS_SEED=$seed reproduces this run), $nfail failures"
RANDOM=$seed
cd "$T_TMP"

# pick LO HI: P = a number in [LO, HI] from the seeded sequence (in this
# shell: a $(subshell) would not advance it)
pick() { P=$(( $1 + RANDOM % ($2 - $1 + 1) )); }

# ctl ARGS...: a command the job accepts; while the process restarts (a
# crash) its agent is away for a moment, so ask again for up to 15 s
ctl() {
  local i out
  for ((i = 0; i < 30; i++)); do
    if out=$("$CPTOP" --job chaos --timeout 2000 ctl "$@" 2>&1); then
      echo "$out"
      return 0
    fi
    sleep 0.5
  done
  echo "$out"
  return 1
}

run_chaos() { # NAME STORAGE-URI SINK-URL [MORE-JSON-MEMBERS]
  local name=$1 storage=$2 sink=$3 more=${4:-} d=$T_TMP/$1
  mkdir -p "$d/var" && cd "$d" || return 1
  local records=50000
  bg "$CPDEMO" kafka --partitions 4 --bootstrap-file var/kafka.bootstrap
  wait_for 10 test -s var/kafka.bootstrap || { fail "$name: cpdemo kafka did not start"; return 1; }
  cat > chaos.json <<JSON
{ "pipeline.name": "chaos", "parallelism.default": 2,
  "source.kafka.bootstrap-file": "var/kafka.bootstrap",
  "sink.url": "$sink",
  "execution.checkpointing.storage": "$storage",
  "execution.checkpointing.interval": "400 ms",
  "execution.checkpointing.timeout": "3 s",
  "execution.checkpointing.tolerable-failed-checkpoints": 1000,
  "execution.checkpointing.num-retained": 2,
  "restart-strategy.fixed-delay.attempts": 1000,
  "restart-strategy.fixed-delay.delay": "200 ms"${more:+, $more} }
JSON
  # a steady producer for the whole run (records ids 0..N-1, every 97th malformed)
  "$CPDEMO" produce --bootstrap-file var/kafka.bootstrap --count $records --rate 2500 \
    --seed "$seed" --bad-every 97 --delivery-timeout 60 >produce.log 2>&1 &
  local producer=$!
  T_PIDS+=("$producer")
  "$CPDEMO" run --config chaos.json --supervise >job.log 2>&1 &
  local job=$!
  T_PIDS+=("$job")
  wait_for 20 test -S "$XDG_RUNTIME_DIR/cptop/chaos.cmd" || { fail "$name: the job did not start"; return 1; }
  "$CPTOP" --job chaos --json >events.jsonl 2>/dev/null &
  local watcher=$!
  T_PIDS+=("$watcher")

  # the same sequence for each backend run of a seed; every kind at least
  # twice (a deck of 2 x 10, the rest drawn at random), shuffled
  RANDOM=$seed
  local deck=() k
  for ((k = 0; k < 10; k++)); do deck+=("$k" "$k"); done
  for ((k = 20; k < nfail; k++)); do pick 0 9; deck+=("$P"); done
  for ((k = ${#deck[@]} - 1; k > 0; k--)); do
    pick 0 "$k"; local tmp=${deck[k]}; deck[k]=${deck[P]}; deck[P]=$tmp
  done
  local i accepted=0 kinds=""
  if [ "$name" = timeout ]; then
    # what the timeout is for, first, while the producer still runs: a
    # throttled parse subtask holds its barrier behind its records, so
    # the aggregates it feeds wait past 200 ms and go unaligned (drawn
    # at random, the throttles may all land on sources, which inject
    # barriers without waiting, or come after the last record)
    ctl fail throttle 1 0 per-record-us=3000 >/dev/null
    wait_for 20 grep -q '"type":"switched_to_unaligned"' events.jsonl
    ctl fail throttle 1 0 per-record-us=0 >/dev/null
  fi
  for ((i = 1; i <= nfail; i++)); do
    pick 3 9; local pause=0.$P
    pick 0 3; local op=$P
    pick 0 1; local sub=$P
    pick 200 4000; local stall=$P
    pick 1 3; local count=$P secs=$P
    pick 0 300; local slow=$P
    pick 0 150; local rtt=$P
    pick 0 3000; local slow_us=$P
    local args
    case ${deck[i - 1]:-0} in
      0) args=(fail kill "$op" "$sub") ;;
      1) args=(fail stall "$op" "$sub" "ms=$stall") ;;
      2) args=(fail decline "$op" "$sub") ;;
      3) args=(fail fail-storage "count=$count") ;;
      4) args=(fail slow-storage "ms=$slow") ;;
      5) args=(fail fail-commit) ;;
      6) args=(fail crash) ;;
      7) args=(fail broker-down "secs=$secs") ;;
      8) args=(fail kafka-latency "ms=$rtt") ;;
      9) args=(fail throttle "$op" "$sub" "per-record-us=$slow_us") ;;
    esac
    sleep "$pause"
    local out
    if out=$(ctl "${args[@]}"); then
      accepted=$((accepted + 1))
      kinds="$kinds ${args[1]}"
      echo "    $i: ${args[*]}  -> $out"
      [ "${args[1]}" = crash ] && sleep 1.5 # the supervisor's restart delay
    else
      echo "    $i: ${args[*]}  -> not accepted: $out"
    fi
  done
  check "$name: at least 20 failures accepted ($accepted of $nfail)" test "$accepted" -ge 20
  local missing="" kind
  for kind in kill stall decline fail-storage slow-storage fail-commit crash broker-down kafka-latency throttle; do
    [[ " $kinds " == *" $kind "* ]] || missing="$missing $kind"
  done
  check "$name: every kind of the catalogue was injected${missing:+ (missing:$missing)}" test -z "$missing"
  ctl fail slow-storage ms=0 >/dev/null
  ctl fail kafka-latency ms=0 >/dev/null
  for op in 0 1 2 3; do for sub in 0 1; do
    ctl fail throttle "$op" "$sub" per-record-us=0 >/dev/null
  done; done
  check "$name: the producer delivered all $records records" wait_for 90 sh -c "! kill -0 $producer 2>/dev/null"
  wait "$producer"
  check "$name: the producer exited 0" test $? -eq 0
  # the job is still up after all of it, and checkpoints complete again
  local before
  before=$("$CPTOP" --job chaos --once 2>/dev/null | grep -Eo 'completed [0-9]+' | head -1 | cut -d' ' -f2)
  check "$name: checkpoints complete after the storm" \
    wait_for 20 sh -c "n=\$('$CPTOP' --job chaos --once 2>/dev/null | grep -Eo 'completed [0-9]+' | head -1 | cut -d' ' -f2); [ \"\${n:-0}\" -gt \"${before:-0}\" ]"
  kill "$job"; wait "$job" 2>/dev/null
  kill "$watcher"; wait "$watcher" 2>/dev/null
  check "$name: the dashboard saw restores (the job recovered)" grep -q '"type":"restored"' events.jsonl
  case $name in
    unaligned) check "$name: acks persisted in-flight records (channel state)" \
      grep -Eq '"type":"ack".*"persisted_data":[1-9][0-9]*.*"unaligned":true' events.jsonl ;;
    timeout) check "$name: subtasks switched to unaligned after the timeout" \
      grep -q '"type":"switched_to_unaligned"' events.jsonl ;;
  esac
  check "$name: a drain commits everything" \
    bash -c "timeout 120 '$CPDEMO' run --config chaos.json --drain >drain.log 2>&1"
  local v
  v=$("$CPDEMO" verify --config chaos.json 2>verify.err | tail -1)
  echo "    verify: $v"
  check "$name: exactly once after $accepted failures (seed $seed)" \
    bash -c "echo '$v' | grep -Eq '^records [0-9]+, lost 0, duplicated 0, mismatched accounts 0$'"
  # verify reads the topic itself; everything produced must be in it (the
  # mock broker may hold a few extra copies of retried batches after it was
  # down: those are in the topic, so the job must count them, and verify does)
  local read
  read=$(grep -Eo 'read [0-9]+ records' verify.err | grep -Eo '[0-9]+')
  check "$name: verify read every produced record from the topic ($records <= ${read:-0})" \
    test "${read:-0}" -ge "$records"
  [ "${read:-0}" -gt "$records" ] && echo "    note: the topic holds $((read - records)) copies of retried batches (mock broker)"
  check "$name: no sanitizer report from the job" \
    bash -c "! grep -E 'ERROR: (Address|Leak|Thread)Sanitizer|runtime error:' job.log drain.log"
  if [ "$T_FAIL" -gt 0 ]; then
    echo "    --- job log (last 15 lines):"; tail -15 job.log | sed 's/^/    /'
  fi
  cd "$T_TMP"
}

# The production-shaped backends: checkpoints on S3 (s3rver on 127.0.0.1) and
# the sink on PostgreSQL (a private cluster from tests/pg.sh).
run_chaos_s3_pg() {
  local s3rver=${CPT_S3RVER:-$top/tests/s3/node_modules/.bin/s3rver} port="" i p
  [ -x "$s3rver" ] || { fail "s3+pg: s3rver is missing ($s3rver): run scripts/deps.sh"; return 1; }
  # (not from RANDOM: the failure sequence must not depend on which port was free)
  for ((i = 0; i < 100; i++)); do
    p=$((20000 + ($$ * 31 + i * 7919) % 40000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { port=$p; break; }
  done
  mkdir -p "$T_TMP/s3data"
  "$s3rver" --directory "$T_TMP/s3data" --address 127.0.0.1 --port "$port" --silent \
    --no-vhost-buckets --allow-mismatched-signatures --configure-bucket chaos \
    >"$T_TMP/s3rver.log" 2>&1 &
  T_PIDS+=($!)
  wait_for 20 bash -c "(exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && test -d '$T_TMP/s3data/chaos'" ||
    { fail "s3+pg: s3rver did not start"; return 1; }
  export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID=S3RVER \
    AWS_SECRET_ACCESS_KEY="chaos-$$"
  local pg
  pg=$("$top/tests/pg.sh" start $$) || { fail "s3+pg: the PostgreSQL cluster did not start"; return 1; }
  local pgdir=${pg%%$'\n'*} pgurl=${pg##*$'\n'}
  run_chaos s3-pg "s3://chaos/checkpoints" "$pgurl"
  "$top/tests/pg.sh" stop "$pgdir"
}

backends=${CHAOS_BACKENDS:-all}
[ "$backends" = all ] && backends="defaults s3-pg"
for b in $backends; do
  case $b in
    defaults) run_chaos defaults "var/chk" "sqlite:var/chaos.db" ;;
    s3-pg) run_chaos_s3_pg ;;
    unaligned) run_chaos unaligned "var/chk" "sqlite:var/chaos.db" \
      '"execution.checkpointing.unaligned.enabled": true' ;;
    timeout) run_chaos timeout "var/chk" "sqlite:var/chaos.db" \
      '"execution.checkpointing.unaligned.enabled": true, "execution.checkpointing.aligned-checkpoint-timeout": "200 ms"' ;;
    *) fail "CHAOS_BACKENDS: no run \"$b\" (defaults, s3-pg, unaligned, timeout)" ;;
  esac
done
t_done
