#!/usr/bin/env bash
# `make bench`: checkpoint duration on S3 (s3rver on 127.0.0.1) against the
# local disk, for the same job, records and state. Each storage gets the same
# run: `cpdemo run` over the same topic (S3_BENCH_RECORDS records across
# S3_BENCH_ACCOUNTS accounts) for S3_BENCH_SECONDS with a checkpoint every
# 250 ms; the figures are medians over the checkpoints taken once the job has
# caught up (the first 8 are skipped: the state is still growing then), read
# from the event stream (`cptop --json`): end-to-end duration (cp_completed)
# and the slowest subtask upload of each checkpoint (snapshot_async_done).
# Figures only: never fails on a target.
set -u
BUILD=${BUILD:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
CPDEMO=$top/$BUILD/bin/cpdemo
CPTOP=$top/$BUILD/bin/cptop
S3=$top/tests/s3.sh
N=${S3_BENCH_RECORDS:-200000}
ACCOUNTS=${S3_BENCH_ACCOUNTS:-50000}
SECONDS_EACH=${S3_BENCH_SECONDS:-10}
SKIP=8
work=$(mktemp -d /tmp/cps3bench.XXXXXX)
chmod 700 "$work"
pids=() s3_dir=
cleanup() {
  local i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill "${pids[i]}" 2>/dev/null && wait "${pids[i]}" 2>/dev/null
  done
  [ -n "$s3_dir" ] && "$S3" stop "$s3_dir"
  rm -rf "$work"
}
trap cleanup EXIT
export XDG_RUNTIME_DIR=$work
cd "$work" && mkdir -p var
note() { echo "  $(date +%T) $*" >&2; }
if ! out=$("$S3" start bench $$ 2>var/s3.err); then
  echo "s3 bench: no s3rver: $(cat var/s3.err)" >&2
  exit 0
fi
s3_dir=$(sed -n 1p <<<"$out")
endpoint=$(sed -n 2p <<<"$out")
"$CPDEMO" kafka --partitions 4 --bootstrap-file var/kafka.bootstrap >var/kafka.log 2>&1 &
pids+=($!)
for _ in $(seq 200); do
  [ -s var/kafka.bootstrap ] && break
  sleep 0.1
done
export AWS_ENDPOINT_URL=$endpoint AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
note "producing $N records over $ACCOUNTS accounts"
"$CPDEMO" produce --bootstrap-file var/kafka.bootstrap --count "$N" --accounts "$ACCOUNTS" \
  --seed 3 >var/produce.log 2>&1 || { cat var/produce.log; exit 1; }

median() {
  sort -n | awk '{ v[NR] = $1 }
    END { if (!NR) { print "?"; exit }
          printf "%.1f\n", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
field() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"; }

run() { # name storage -> sets e2e_ms async_ms size count
  local name=$1 storage=$2
  cat >"$name.json" <<EOF
{ "pipeline.name": "$name", "parallelism.default": 2,
  "source.kafka.bootstrap-file": "var/kafka.bootstrap", "sink.url": "sqlite:var/$name.db",
  "execution.checkpointing.storage": "$storage",
  "execution.checkpointing.interval": "250 ms", "execution.checkpointing.timeout": "1 min",
  "execution.checkpointing.num-retained": 1 }
EOF
  note "$name: $SECONDS_EACH s with a checkpoint every 250 ms to $storage"
  "$CPDEMO" run --config "$name.json" --seconds "$SECONDS_EACH" >"var/$name.log" 2>&1 &
  local job=$!
  pids+=("$job")
  for _ in $(seq 100); do [ -S "$work/cptop/$name.events" ] && break; sleep 0.05; done
  "$CPTOP" --job "$name" --json >"var/$name.events" 2>/dev/null &
  local ev=$!
  pids+=("$ev")
  wait "$job" 2>/dev/null
  sleep 0.3
  kill "$ev" 2>/dev/null; wait "$ev" 2>/dev/null
  grep '"type":"cp_completed"' "var/$name.events" | tail -n +$((SKIP + 1)) >"var/$name.done"
  count=$(wc -l <"var/$name.done")
  e2e_ms=$(field duration_us <"var/$name.done" | awk '{ print $1 / 1000 }' | median)
  size=$(field state_size <"var/$name.done" | sort -n | tail -1)
  # the slowest upload of each of those checkpoints (the aggregate's state)
  field id <"var/$name.done" | sed 's/.*/"id":&,/' >"var/$name.ids"
  async_ms=$(grep '"type":"snapshot_async_done"' "var/$name.events" | grep -F -f "var/$name.ids" |
    sed -n 's/.*"id":\([0-9]*\),.*"duration_us":\([0-9]*\).*/\1 \2/p' |
    awk '{ if ($2 > m[$1]) m[$1] = $2 } END { for (i in m) printf "%.1f\n", m[i] / 1000 }' | median)
}

run file "file://$work/var/chk"
f_e2e=$e2e_ms f_async=$async_ms f_size=$size f_n=$count
run s3 "s3://bench/checkpoints"
s_e2e=$e2e_ms s_async=$async_ms s_size=$size s_n=$count
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1fx", a / b; else printf "n/a" }'; }
cat <<EOF

s3 bench — checkpoint to S3 (s3rver on 127.0.0.1, libs3) against the local disk, same job and state
($N records over $ACCOUNTS accounts, parallelism 2, a checkpoint every 250 ms for $SECONDS_EACH s; medians
over the checkpoints after the first $SKIP, from cptop --json)
                                      checkpoints   state bytes   end to end   slowest upload
(s) file:// (local disk)              $(printf '%11s' "$f_n")   $(printf '%11s' "$f_size")   $(printf '%7s' "$f_e2e") ms   $(printf '%10s' "$f_async") ms
    s3:// (s3rver)                    $(printf '%11s' "$s_n")   $(printf '%11s' "$s_size")   $(printf '%7s' "$s_e2e") ms   $(printf '%10s' "$s_async") ms
    S3 against disk                                                $(printf '%7s' "$(ratio "$s_e2e" "$f_e2e")")      $(printf '%10s' "$(ratio "$s_async" "$f_async")")
EOF
