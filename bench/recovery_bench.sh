#!/usr/bin/env bash
# Recovery time, measured for `make bench`: from `kill -9` of the job to the
# first record reaching its sink again, five times, median reported. Each
# time the job is started again at once (what `cpdemo run --supervise` does
# after its 1 s delay, left out here: it is a setting, not work), restores
# the latest completed checkpoint (about 1,000 accounts of state) and
# resumes reading. The restart is split into: process start to restored
# (storage read and verified) and restored to the first record at the sink.
# Figures only; it never fails on a target.
set -u
BUILD=${BUILD:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
CPDEMO=$top/$BUILD/bin/cpdemo
RUNS=${RECOVERY_RUNS:-5}
work=$(mktemp -d /tmp/cprecbench.XXXXXX)
chmod 700 "$work"
pids=()
cleanup() {
  local i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill "${pids[i]}" 2>/dev/null && wait "${pids[i]}" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT
export XDG_RUNTIME_DIR=$work
cd "$work" && mkdir -p var
now_ms() { date +%s%3N; }

"$CPDEMO" kafka --partitions 4 --bootstrap-file var/kafka.bootstrap >var/kafka.log 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s var/kafka.bootstrap ] && break; sleep 0.1; done
"$CPDEMO" produce --bootstrap-file var/kafka.bootstrap --rate 3000 --seed 5 --delivery-timeout 10 \
  >var/produce.log 2>&1 &
pids+=($!)
cat > r.json <<'JSON'
{ "pipeline.name": "rec", "parallelism.default": 2, "source.kafka.bootstrap-file": "var/kafka.bootstrap",
  "sink.url": "sqlite:var/rec.db", "execution.checkpointing.storage": "var/chk",
  "execution.checkpointing.interval": "500 ms" }
JSON

start_job() { # LOG
  "$CPDEMO" run --config r.json >/dev/null 2>"$1" &
  job=$!
  pids+=("$job") # stopped on exit like everything else (a killed one is simply gone)
}
# waits for "processing: ... at T ms (epoch)" in LOG; prints T
first_record_ms() {
  local i
  for ((i = 0; i < 300; i++)); do
    local t
    t=$(grep -Eo 'reached the sink at [0-9]+' "$1" 2>/dev/null | grep -Eo '[0-9]+$')
    [ -n "$t" ] && { echo "$t"; return 0; }
    sleep 0.05
  done
  return 1
}

start_job var/job0.log
first_record_ms var/job0.log >/dev/null || { echo "recovery: the job did not start"; cat var/job0.log; exit 1; }
sleep 3 # a few checkpoints complete
totals=()
echo "recovery after kill -9, $RUNS times (2 x 4 subtasks, checkpoints every 500 ms, 3,000 records/s):"
for ((r = 1; r <= RUNS; r++)); do
  kill -9 "$job"; wait "$job" 2>/dev/null
  t_kill=$(now_ms)
  start_job "var/job$r.log"
  t_first=$(first_record_ms "var/job$r.log") || { echo "  run $r: the job did not resume"; tail -5 "var/job$r.log"; exit 1; }
  total=$((t_first - t_kill))
  restored=$(grep -Eo 'restored from checkpoint [0-9]+' "var/job$r.log" | head -1)
  after=$(grep -Eo '[0-9]+ ms after the process started' "var/job$r.log" | grep -Eo '^[0-9]+')
  printf '  run %d: %5d ms from kill -9 to the first record at the sink (%s; %s ms of it after the process started)\n' \
    "$r" "$total" "${restored:-from scratch}" "${after:-?}"
  totals+=("$total")
  sleep 2 # let it checkpoint again before the next kill
done
median=$(printf '%s\n' "${totals[@]}" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
echo "  median recovery: $median ms (kill -9 to processing again; a supervisor adds its restart delay)"
