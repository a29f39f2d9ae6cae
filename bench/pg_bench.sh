#!/usr/bin/env bash
# The PostgreSQL sink beside SQLite, on one machine in one run: the sink's own
# stage and commit rates (test_sink_pg's rate test), then `cpdemo run
# --drain` over the same topics with each sink: N records of 1,000 accounts
# with a checkpoint every 1 s and every 100 ms, and one checkpoint of
# 100,000 accounts.
# PostgreSQL is a private cluster (tests/pg.sh: fsync and synchronous_commit
# on, as SQLite's synchronous=FULL). Figures only; best of two runs each.
#   BUILD=build bench/pg_bench.sh        PG_BENCH_RECORDS=N changes the size
set -u
BUILD=${BUILD:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
CPDEMO=$top/$BUILD/bin/cpdemo
PG=$top/tests/pg.sh
N=${PG_BENCH_RECORDS:-1000000}
work=$(mktemp -d /tmp/cppgbench.XXXXXX)
chmod 700 "$work"
pids=() pg_dir=
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  cd / && rm -rf "$work"
  [ -n "$pg_dir" ] && "$PG" stop "$pg_dir"
}
trap cleanup EXIT
note() { echo "  $(date +%T) $*" >&2; }

out=$("$PG" start $$) || exit 1
pg_dir=$(sed -n 1p <<<"$out")
pg_url=$(sed -n 2p <<<"$out")
note "PostgreSQL at $pg_url"
note "sink rates (stage, commit)"
rates=$(CPT_PG_URL=$pg_url "$top/$BUILD/tests/test_sink_pg" stage_and_commit_rates 2>&1 | grep rows/s)

export XDG_RUNTIME_DIR=$work
cd "$work" && mkdir -p var
"$CPDEMO" kafka --partitions 8 --bootstrap-file var/kafka.bootstrap >var/kafka.log 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s var/kafka.bootstrap ] && break; sleep 0.1; done
bs=$(cat var/kafka.bootstrap)
note "producing $N records (1,000 accounts) and 200,000 (100,000 accounts)"
"$CPDEMO" produce --bootstrap "$bs" --count "$N" --seed 1 >var/p1.log 2>&1 || { cat var/p1.log; exit 1; }
"$CPDEMO" produce --bootstrap "$bs" --topic wide --count 200000 --accounts 100000 --seed 2 \
  >var/p2.log 2>&1 || { cat var/p2.log; exit 1; }

rate() { sed -n 's/.*(\([0-9]*\) records\/s).*/\1/p'; }
took() { sed -n 's/.*took \([0-9]*\) ms.*/\1/p'; }
n=0 res_rate=0 res_ms=0
job() { # sink interval topic: res_rate = best records/s of two runs, res_ms = its final checkpoint
  local sink=$1 interval=$2 topic=$3 i line r
  res_rate=0 res_ms=0
  for i in 1 2; do
    n=$((n + 1)) # a fresh database and checkpoint directory for every run
    local url="sqlite:var/j$n.db"
    if [ "$sink" = pg ]; then
      "$PG" psql "$pg_dir" "CREATE SCHEMA j$n" >/dev/null
      url="$pg_url?options=-csearch_path%3Dj$n"
    fi
    local iv=""
    [ -n "$interval" ] && iv="\"execution.checkpointing.interval\": \"$interval\","
    cat >"j$n.json" <<EOF
{ "pipeline.name": "j$n", "parallelism.default": 2, "source.kafka.bootstrap-servers": "$bs",
  "source.kafka.topic": "$topic", "sink.url": "$url", "agent.listen": "off", $iv
  "execution.checkpointing.storage": "var/chk-j$n", "execution.checkpointing.timeout": "1 min" }
EOF
    line=$("$CPDEMO" run --config "j$n.json" --drain 2>>var/jobs.log | tail -1)
    r=$(rate <<<"$line")
    if [ -n "$r" ] && [ "$r" -gt "$res_rate" ]; then res_rate=$r res_ms=$(took <<<"$line"); fi
  done
}
note "job drains, SQLite"
job lite "1 s" payments; lite_1s=$res_rate
job lite "100 ms" payments; lite_100=$res_rate
job lite "" wide; lite_wide=$res_ms
note "job drains, PostgreSQL"
job pg "1 s" payments; pg_1s=$res_rate
job pg "100 ms" payments; pg_100=$res_rate
job pg "" wide; pg_wide=$res_ms

cat <<EOF

PostgreSQL sink beside SQLite — $(nproc) cores, PostgreSQL $("$PG" psql "$pg_dir" "SHOW server_version" | cut -d' ' -f1) on 127.0.0.1
sink API, one subtask, stage then commit per checkpoint:
$rates
cpdemo run --drain, parallelism 2, $N records of 1,000 accounts (records/s):
                  checkpoint every 1 s   every 100 ms
    sqlite     $(printf '%22s %14s' "$lite_1s" "$lite_100")
    postgresql $(printf '%22s %14s' "$pg_1s" "$pg_100")
one checkpoint of 100,000 accounts (200,000 records), end to end (the final checkpoint):
    sqlite     $(printf '%8s' "$lite_wide") ms
    postgresql $(printf '%8s' "$pg_wide") ms
EOF
