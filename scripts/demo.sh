#!/usr/bin/env bash
# The demo, end to end: installs what is missing, builds, starts the embedded
# Kafka, a steady generator and the checkpointed job, and opens the cptop
# dashboard on it (t trigger, f inject a failure, a abort, ? every key, q
# quit); then proves the results are exactly once with `cpdemo verify`.
# Without a terminal (or with --scripted) it tours cptop's script modes
# instead. Everything it starts is stopped on exit (also on Ctrl-C), and
# the commands that replay its recording printed (scripts/demo_lib.sh).
# --s3 keeps the checkpoints on S3 (an s3rver it starts on 127.0.0.1);
# --pg writes the results to PostgreSQL (a private cluster it starts).
#
#   scripts/demo.sh [--s3] [--pg] [--scripted] [--seconds N]
#                   (N: how long the scripted stream shows, 20)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
seconds=20
scripted= s3= pg=
[ -t 0 ] && [ -t 1 ] || scripted=1
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --s3) s3=1 ;;
    --pg) pg=1 ;;
    --seconds) seconds=${2:?--seconds needs a number}; shift ;;
    --scripted) scripted=1 ;;
    *) echo "demo: unknown option '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done

need=demo
[ -n "$pg" ] && need=demo-pg
[ -n "$s3" ] && need=demo-s3
bash scripts/deps.sh --for "$need"
[ -n "$s3" ] && [ -n "$pg" ] && bash scripts/deps.sh --for demo-pg
echo "demo: building" >&2
make -j"$(nproc)" --no-print-directory build/bin/cptop build/bin/cpdemo >&2

work=$(mktemp -d /tmp/cptop-demo.XXXXXX)
chmod 700 "$work"
pids=()
pgdir=
# the session is recorded (cptop --record) outside $work, which is removed
rec=$here/build/demo-$(date +%Y%m%d-%H%M%S).cprec
. "$here/scripts/demo_lib.sh"
demo_traps   # however it ends: everything stopped, the replay commands printed
export XDG_RUNTIME_DIR=$work          # the job and cptop meet in a private runtime dir
CPDEMO=$here/build/bin/cpdemo
CPTOP=$here/build/bin/cptop
cd "$work" && mkdir var
step() { echo; echo "\$ $*"; }

"$CPDEMO" kafka --partitions 4 --bootstrap-file var/kafka.bootstrap >var/kafka.log 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s var/kafka.bootstrap ] && break; sleep 0.1; done
"$CPDEMO" produce --bootstrap-file var/kafka.bootstrap --rate 2000 --seed 1 --bad-every 500 \
  >var/produce.log 2>&1 &
producer=$!
pids+=("$producer")
# the job's configuration: demo.json, with S3 storage or the PostgreSQL sink if asked
config=$here/demo-job/configs/demo.json
storage=var/checkpoints sink=sqlite:var/payments.db
if [ -n "$s3" ]; then
  s3rver=$here/tests/s3/node_modules/.bin/s3rver
  [ -x "$s3rver" ] || { echo "demo: $s3rver is missing (scripts/deps.sh installs it)" >&2; exit 1; }
  port=$(( 20000 + RANDOM % 40000 ))
  while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$(( 20000 + RANDOM % 40000 )); done
  mkdir -p s3
  "$s3rver" --directory "$work/s3" --address 127.0.0.1 --port "$port" --silent \
    --no-vhost-buckets --allow-mismatched-signatures --configure-bucket demo >var/s3rver.log 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do [ -d "$work/s3/demo" ] && break; sleep 0.1; done
  export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=demo-secret
  storage=s3://demo/checkpoints
  echo "demo: s3rver on 127.0.0.1:$port holds the checkpoints (s3://demo/checkpoints)"
fi
if [ -n "$pg" ]; then
  out=$("$here/tests/pg.sh" start $$) || { echo "demo: could not start PostgreSQL" >&2; exit 1; }
  pgdir=${out%%$'\n'*}
  sink=${out##*$'\n'}
  echo "demo: PostgreSQL at $sink holds the results"
fi
if [ -n "$s3$pg" ]; then
  sed -e "s|\"execution.checkpointing.storage\": \"[^\"]*\"|\"execution.checkpointing.storage\": \"$storage\"|" \
      -e "s|\"sink.url\": \"[^\"]*\"|\"sink.url\": \"$sink\"|" "$config" >demo.json
  config=$work/demo.json
fi
# supervised: the "crash" failure kills the whole process and it comes back
"$CPDEMO" run --config "$config" --supervise >var/job.log 2>&1 &
pids+=($!)
for _ in $(seq 150); do [ -S "$work/cptop/payments.cmd" ] && break; sleep 0.1; done
if [ ! -S "$work/cptop/payments.cmd" ]; then
  echo "demo: the job did not start; its log ends with:" >&2
  tail -5 var/job.log >&2
  exit 1
fi
echo "demo: Kafka, a producer at 2000 records/s and the job are running (logs in $work/var)"

if [ -z "$scripted" ]; then
  cat <<'TOUR'

demo: opening the cptop dashboard. A tour:
  t        trigger a checkpoint and watch it complete in the history
  f 2      stall a barrier (pick an operator and subtask): it expires after the timeout
  a        abort the checkpoint in flight (y to confirm)
  f 1      kill a subtask: the job restarts from the last completed checkpoint
  f 7      crash the whole process: the supervisor starts it again, it restores
  f 8      take the Kafka broker down for a few seconds, and watch it catch up
  Enter    a checkpoint's per-subtask timeline;  s  summary;  e  events;  ?  every key
  q        quit: the producer stops, the job commits, and cpdemo verify checks the result
TOUR
  echo "  A second dashboard, from another terminal:"
  echo "    $CPTOP --runtime-dir $work/cptop"
  sleep 5
  "$CPTOP" --record "$rec" || true
  step "stopping the producer; the job commits what it has read"
  kill "$producer"; wait "$producer" 2>/dev/null || true
  sleep 3
  step cpdemo verify --config "${config#$here/}"
  "$CPDEMO" verify --config "$config"
  echo; echo "demo: done; everything it started is stopped and $work removed"
  exit 0
fi

"$CPTOP" --record "$rec" --headless --job payments 2>var/record.log &
recorder=$!
pids+=("$recorder")
step cptop --list;                          "$CPTOP" --list
sleep 3
step cptop ctl trigger;                     "$CPTOP" ctl trigger
sleep 1
step cptop --once;                          "$CPTOP" --once
step "cptop ctl fail stall 2 1 ms=3000    # hold the barrier at aggregate#1"
"$CPTOP" ctl fail stall 2 1 ms=3000
"$CPTOP" ctl trigger >/dev/null
sleep 1.5
step "cptop --once                         # in flight, still waiting on aggregate[1]"
"$CPTOP" --once | grep -E '^(job |checkpoints:|in flight )' || true
sleep 3
step "cptop ctl fail kill 2 0              # a task fails: restart from the last checkpoint"
"$CPTOP" ctl fail kill 2 0
step "cptop --json                         # the live event stream, ${seconds}s"
timeout "$seconds" "$CPTOP" --json | cut -c1-160 || true
kill "$recorder"; wait "$recorder" 2>/dev/null || true   # SIGTERM: it writes its index

step "stopping the producer; the job commits what it has read"
kill "$producer"; wait "$producer" 2>/dev/null || true
sleep 3
step cpdemo verify --config "${config#$here/}"
"$CPDEMO" verify --config "$config"
echo; echo "demo: done; everything it started is stopped and $work removed"
