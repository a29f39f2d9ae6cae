#!/usr/bin/env bash
# Aligned against unaligned checkpoints under backpressure, for `make bench`
# (run from bench/job_bench.sh): the same job, the same input, one after the
# other in one run. A producer writes RATE records/s over 1,000 accounts;
# with a checkpoint a second each aggregate subtask sends its sink about
# 1,000/P rows a second (every account changed since the last checkpoint,
# once); both sink subtasks are throttled (`cptop ctl fail throttle`) to
# 20 % of that, so every channel before them fills up. One checkpoint at a
# time, the next one second after the last one started (or ended, when it
# took longer).
# Reported per mode: checkpoints completed (and failed) in the measured
# window, p50 and p99 of their end-to-end duration, and the in-flight bytes
# each persisted (`persisted_data`, summed over its acknowledgements); then
# unaligned p99 / aligned p99. A third run, aligned with
# aligned-checkpoint-timeout 500 ms, shows the switch. Figures only: it
# never fails on a target.
#   UC_RATE=records/s (5000)  UC_SECONDS=measured seconds per mode (25)
set -u
BUILD=${BUILD:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
CPDEMO=$top/$BUILD/bin/cpdemo
CPTOP=$top/$BUILD/bin/cptop
RATE=${UC_RATE:-5000}
SECS=${UC_SECONDS:-25}
WARM=5
P=2
ACCOUNTS=1000
# each sink subtask gets about ACCOUNTS/P rows a second; 20 % of that
US=$(( 1000000 * 5 * P / ACCOUNTS ))
work=$(mktemp -d /tmp/cpucbench.XXXXXX)
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
note() { echo "  $(date +%T) $*" >&2; }

"$CPDEMO" kafka --partitions 4 --bootstrap-file var/kafka.bootstrap >var/kafka.log 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s var/kafka.bootstrap ] && break; sleep 0.1; done

# run NAME EXTRA-JSON: the job on its own topic and producer for WARM+SECS
# seconds, sinks throttled; its event stream in var/NAME.jsonl, the measured
# window's start and end (µs) in var/NAME.window
run() {
  local name=$1 extra=$2 i
  "$CPDEMO" produce --bootstrap-file var/kafka.bootstrap --topic "$name" --rate "$RATE" \
    --accounts "$ACCOUNTS" --seed 3 --delivery-timeout 10 >"var/$name.produce.log" 2>&1 &
  local producer=$!
  pids+=("$producer")
  cat >"$name.json" <<EOF
{ "pipeline.name": "$name", "parallelism.default": $P,
  "source.kafka.bootstrap-file": "var/kafka.bootstrap", "source.kafka.topic": "$name",
  "sink.url": "sqlite:var/$name.db", "execution.checkpointing.storage": "var/chk-$name",
  "execution.checkpointing.interval": "1 s", "execution.checkpointing.timeout": "2 min",
  $extra }
EOF
  "$CPDEMO" run --config "$name.json" >"var/$name.log" 2>&1 &
  local job=$!
  pids+=("$job")
  for ((i = 0; i < 150; i++)); do [ -S "$work/cptop/$name.cmd" ] && break; sleep 0.1; done
  "$CPTOP" --job "$name" --json >"var/$name.jsonl" 2>/dev/null &
  local watcher=$!
  pids+=("$watcher")
  sleep 1
  for ((i = 0; i < P; i++)); do
    "$CPTOP" --job "$name" ctl fail throttle 3 "$i" "per-record-us=$US" >/dev/null ||
      note "$name: the throttle was refused"
  done
  sleep "$WARM"
  local t0
  t0=$(date +%s%6N)
  sleep "$SECS"
  echo "$t0 $(date +%s%6N)" >"var/$name.window"
  kill "$job" "$producer" 2>/dev/null
  wait "$job" "$producer" 2>/dev/null
  sleep 0.3
  kill "$watcher" 2>/dev/null
  wait "$watcher" 2>/dev/null
}

# figures NAME -> "completed failed p50_ms p99_ms persisted_p50 persisted_max switched"
# over the checkpoints triggered in the window (failed: before its end, not
# the one the stop cut short; the rest over the completed ones)
figures() {
  local name=$1
  read -r w0 w1 <"var/$name.window"
  awk -v w0="$w0" -v w1="$w1" '
    function num(k,   m) { if (match($0, "\"" k "\":-?[0-9]+")) return substr($0, RSTART + length(k) + 3, RLENGTH - length(k) - 3) + 0; return -1 }
    /"type":"cp_triggered"/ { id = num("id"); t = num("ts_us"); if (t >= w0 && t < w1) want[id] = 1 }
    /"type":"ack"/ { persisted[num("id")] += num("persisted_data") }
    /"type":"switched_to_unaligned"/ { sw[num("id")] = 1 }
    /"type":"cp_completed"/ { id = num("id"); if (id in want) { d[++n] = num("duration_us") / 1000; done[id] = 1 } }
    /"type":"cp_failed"/ { id = num("id"); if ((id in want) && num("ts_us") < w1) failed++ }
    function sort(a, k,   i, j, x) { for (i = 2; i <= k; i++) { x = a[i]; for (j = i - 1; j >= 1 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x } }
    function q(a, k, p,   i) { if (!k) return "-"; i = int(p * (k - 1) + 0.999999) + 1; return a[i > k ? k : i] }
    END {
      sort(d, n)
      for (id in done) { pb[++m] = persisted[id]; if (id in sw) s++ }
      sort(pb, m)
      printf "%d %d %s %s %s %s %d\n", n, failed + 0, q(d, n, 0.5), q(d, n, 0.99), q(pb, m, 0.5), q(pb, m, 1), s + 0
    }' "var/$name.jsonl"
}

note "aligned, sinks throttled to $US us a row (20 % of the rows they get)"
run aligned '"execution.checkpointing.unaligned.enabled": false'
note "unaligned"
run unaligned '"execution.checkpointing.unaligned.enabled": true'
note "aligned with a 500 ms aligned-checkpoint-timeout"
run timeout '"execution.checkpointing.unaligned.enabled": true, "execution.checkpointing.aligned-checkpoint-timeout": "500 ms"'

read -r an af a50 a99 ap50 apmax _ <<<"$(figures aligned)"
read -r un uf u50 u99 up50 upmax _ <<<"$(figures unaligned)"
read -r tn tf t50 t99 tp50 tpmax tsw <<<"$(figures timeout)"
ratio=$(awk -v u="$u99" -v a="$a99" 'BEGIN { if (a > 0 && u != "-") printf "%.3f", u / a; else printf "n/a" }')
kb() { awk -v b="$1" 'BEGIN { if (b == "-") print "-"; else printf "%.0f KiB", b / 1024 }'; }
cat <<EOF

aligned vs unaligned checkpoints under backpressure — $(nproc) cores, parallelism $P,
$RATE records/s over $ACCOUNTS accounts, both sinks throttled to $US us a row (20 % of the
~$((ACCOUNTS / P)) rows/s each gets), a checkpoint every 1 s, $SECS s measured per mode (after $WARM s)
                          completed failed    p50 ms    p99 ms   persisted p50   persisted max
  aligned                 $(printf '%9s %6s %9s %9s %15s %15s' "$an" "$af" "$a50" "$a99" "$(kb "$ap50")" "$(kb "$apmax")")
  unaligned               $(printf '%9s %6s %9s %9s %15s %15s' "$un" "$uf" "$u50" "$u99" "$(kb "$up50")" "$(kb "$upmax")")
  aligned, timeout 500 ms $(printf '%9s %6s %9s %9s %15s %15s' "$tn" "$tf" "$t50" "$t99" "$(kb "$tp50")" "$(kb "$tpmax")")   $tsw of them switched
  unaligned p99 / aligned p99: $ratio   (target <= 0.2)
  persisted: in-flight bytes written as channel state per checkpoint (sum of its acks)
EOF
