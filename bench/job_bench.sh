#!/usr/bin/env bash
# The job's half of `make bench`, measured side by side in one run on the
# embedded Kafka: the read ceiling (kcat consuming the topic), the write
# ceiling (plain batched SQLite upserts), then `cpdemo run --drain` with
# checkpointing off, every 1 s and every 100 ms; with the agent off and with
# a dashboard connected; and one checkpoint holding 100,000 accounts. Then
# aligned against unaligned checkpoints under backpressure
# (bench/unaligned_bench.sh). Figures only: it never fails on a target. Each job figure is the best of
# two runs (the machine is shared). JOB_BENCH_RECORDS=N changes the size.
set -u
BUILD=${BUILD:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
CPDEMO=$top/$BUILD/bin/cpdemo
CPTOP=$top/$BUILD/bin/cptop
SQLB=$top/$BUILD/bin/cpsqlbench
N=${JOB_BENCH_RECORDS:-1000000}
work=$(mktemp -d /tmp/cpjobbench.XXXXXX)
chmod 700 "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT
export XDG_RUNTIME_DIR=$work
cd "$work" && mkdir -p var
note() { echo "  $(date +%T) $*" >&2; }

"$CPDEMO" kafka --partitions 8 --bootstrap-file var/kafka.bootstrap >var/kafka.log 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s var/kafka.bootstrap ] && break; sleep 0.1; done
bs=$(cat var/kafka.bootstrap)
note "producing $N records (1,000 accounts) and 200,000 (100,000 accounts)"
"$CPDEMO" produce --bootstrap "$bs" --count "$N" --seed 1 >var/p1.log 2>&1 || { cat var/p1.log; exit 1; }
"$CPDEMO" produce --bootstrap "$bs" --topic wide --count 200000 --accounts 100000 --seed 2 \
  >var/p2.log 2>&1 || { cat var/p2.log; exit 1; }

rate() { awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^\(/ && $(i+1) ~ /^(records|rows)\/s\)/) { gsub(/\(/, "", $i); print $i } }'; }

note "read ceiling: kcat"
t0=$(date +%s.%N)
got=$(kcat -b "$bs" -C -t payments -o beginning -e -q -f '%o\n' 2>/dev/null | wc -l)
t1=$(date +%s.%N)
kcat_rate=$(awk -v n="$got" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }')
note "write ceiling: SQLite upserts"
sql_rate=$("$SQLB" var/ceiling.db "$N" | rate)

job() { # name interval topic agent -> best records/s of two runs; also sets last_line
  local name=$1 interval=$2 topic=$3 agent=$4 best=0 r i
  for i in 1 2; do
    rm -rf "var/$name.db"* "var/chk-$name"
    local iv=""
    [ -n "$interval" ] && iv="\"execution.checkpointing.interval\": \"$interval\","
    cat >"$name.json" <<EOF
{ "pipeline.name": "$name", "parallelism.default": 2, "source.kafka.bootstrap-servers": "$bs",
  "source.kafka.topic": "$topic", "sink.url": "sqlite:var/$name.db", "agent.listen": "$agent",
  $iv
  "execution.checkpointing.storage": "var/chk-$name", "execution.checkpointing.timeout": "1 min" }
EOF
    last_line=$("$CPDEMO" run --config "$name.json" --drain 2>>"var/$name.log" | tail -1)
    r=$(echo "$last_line" | rate)
    [ -n "$r" ] && [ "$r" -gt "$best" ] && best=$r
  done
  echo "$best"
}

note "job, checkpointing off"
off=$(job off "" payments ipc)
note "job, every 1 s"
s1=$(job s1 "1 s" payments ipc)
note "job, every 100 ms"
s01=$(job s01 "100 ms" payments ipc)
note "job, every 1 s, agent off"
noagent=$(job noagent "1 s" payments off)
note "job, every 1 s, a dashboard connected"
( for _ in $(seq 600); do [ -S "$work/cptop/dash.events" ] && break; sleep 0.05; done
  exec "$CPTOP" --job dash --json >/dev/null 2>&1 ) &
dash_pid=$!
pids+=("$dash_pid")
dash=$(job dash "1 s" payments ipc)
kill "$dash_pid" 2>/dev/null
note "one checkpoint of 100,000 accounts"
job wide "" wide ipc >/dev/null
wide_line=$last_line
wide_ms=$(echo "$wide_line" | sed -n 's/.*took \([0-9]*\) ms for \([0-9]*\) bytes.*/\1/p')
wide_bytes=$(echo "$wide_line" | sed -n 's/.*took \([0-9]*\) ms for \([0-9]*\) bytes.*/\2/p')

pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%+.1f%%", (a - b) * 100 / b; else printf "n/a" }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.0f%%", a * 100 / b; else printf "n/a" }'; }
lower=$(( kcat_rate < sql_rate ? kcat_rate : sql_rate ))
cat <<EOF

job bench — $(nproc) cores, $N records, parallelism 2, best of 2 runs each
(r) read ceiling: kcat consuming the topic   $(printf '%10s' "$kcat_rate") records/s
(w) write ceiling: batched SQLite upserts    $(printf '%10s' "$sql_rate") rows/s
(j) job, checkpointing off                   $(printf '%10s' "$off") records/s   $(ratio "$off" "$lower") of the lower ceiling   target >= 50%
    job, checkpoint every 1 s                $(printf '%10s' "$s1") records/s   $(pct "$s1" "$off") against off   target cost <= 5%
    job, checkpoint every 100 ms             $(printf '%10s' "$s01") records/s   $(pct "$s01" "$off") against off
(a) job, every 1 s, agent off                $(printf '%10s' "$noagent") records/s
    job, every 1 s, dashboard connected      $(printf '%10s' "$dash") records/s   $(pct "$dash" "$noagent") against agent off   target cost <= 1%
(c) checkpoint of 100,000 accounts           $(printf '%10s' "${wide_ms:-?}") ms end to end ($wide_bytes bytes of state)   target <= 200 ms
    each job figure: \`cpdemo run --drain\` (read what the topic holds, final checkpoint, exit)
EOF
BUILD=$BUILD "$top/bench/unaligned_bench.sh"
