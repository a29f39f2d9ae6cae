#!/usr/bin/env bash
# cpdemo run with the PostgreSQL sink, end to end, against a private cluster
# (tests/pg.sh): checkpoints every 300 ms while input keeps arriving, the
# sink's connections terminated under it twice, the server stopped for two
# seconds and restarted, an injected commit failure, a kill -9 of the job;
# then --drain and `cpdemo verify`: exactly once. Seeded: T_SEED=N.
. "$(dirname "$0")/lib.sh"
export XDG_RUNTIME_DIR=$T_TMP
CPDEMO=$top/$BUILD/bin/cpdemo
CPTOP=$top/$BUILD/bin/cptop
PG=$top/tests/pg.sh
seed=${T_SEED:-$(( $(date +%s) % 100000 ))}
echo "  seed $seed (T_SEED=$seed reproduces this run)"
RANDOM=$seed
t0=$SECONDS

# the cluster goes after every process that talks to it
pg_dir=
# (T_DEBUG=DIR keeps the job's logs and events there)
pg_cleanup() {
  [ -n "${T_DEBUG:-}" ] && cp -r "$T_TMP/var" "$T_DEBUG"
  cd / && t_cleanup
  [ -n "$pg_dir" ] && "$PG" stop "$pg_dir"
}
trap pg_cleanup EXIT
if ! out=$("$PG" start $$); then
  fail "a private PostgreSQL cluster starts" "tests/pg.sh start failed"
  t_done; exit 1
fi
pg_dir=$(sed -n 1p <<<"$out")
url=$(sed -n 2p <<<"$out")
port=$(cat "$pg_dir/port")
ok "a private PostgreSQL cluster starts ($url)"
sql() { "$PG" psql "$pg_dir" "$1"; }

cd "$T_TMP" && mkdir -p var
bg "$CPDEMO" kafka --partitions 4 --bootstrap-file var/kafka.bootstrap
wait_for 10 test -s var/kafka.bootstrap || fail "cpdemo kafka did not start"
check "produce 100,000 records (200 malformed)" \
  "$CPDEMO" produce --bootstrap-file var/kafka.bootstrap --count 100000 --seed "$seed" --bad-every 500

cat > pg.json <<EOF
{ "pipeline.name": "pg", "parallelism.default": 3,
  "source.kafka.bootstrap-file": "var/kafka.bootstrap",
  "sink.url": "${url/postgres@/postgres:sekret@}",
  "execution.checkpointing.interval": "300 ms",
  "execution.checkpointing.storage": "var/checkpoints",
  "execution.checkpointing.timeout": "5 s",
  "execution.checkpointing.tolerable-failed-checkpoints": 1,
  "execution.checkpointing.num-retained": 2,
  "restart-strategy.fixed-delay.delay": "200 ms" }
EOF

job_pid=
start_job() {
  "$CPDEMO" run --config pg.json >>var/pg.log 2>&1 &
  job_pid=$!
  T_PIDS+=("$job_pid")
}
committed() { sql "SELECT coalesce(max(checkpoint_id), 0) FROM commits" 2>/dev/null || echo 0; }
# waits until a checkpoint newer than $1 is committed
commits_after() { wait_for "${2:-20}" bash -c "test \"\$('$PG' psql '$pg_dir' \
  'SELECT coalesce(max(checkpoint_id), 0) FROM commits' 2>/dev/null || echo 0)\" -gt $1"; }
failures() { grep -c 'failure:' var/pg.log; }
alive() { kill -0 "$job_pid" 2>/dev/null; }
pause() { sleep "0.$(( RANDOM % 5 + 3 ))"; }

start_job
# the job's events (a failed checkpoint carries the sink's error)
wait_for 15 test -S "$T_TMP/cptop/pg.cmd" || fail "the job's agent did not start"
"$CPTOP" --json --job pg >var/events.jsonl 2>/dev/null &
T_PIDS+=($!)
check "the job commits checkpoints to PostgreSQL" commits_after 1 20
# a changed setting republishes the job's configuration (its hello) to dashboards
check "ctl set: the job takes the interval" "$CPTOP" --job pg ctl set execution.checkpointing.interval 300ms
check "the configuration dashboards get names the sink without its password" \
  wait_for 5 grep -q '"sink.url":"postgresql://postgres:\*\*\*@' var/events.jsonl
check "the tables are PostgreSQL's: one connection per sink handle (2P+1)" \
  wait_for 10 bash -c "test \"\$('$PG' psql '$pg_dir' \"SELECT count(*) FROM pg_stat_activity \
    WHERE datname = 'cpdemo' AND application_name = 'cpdemo-sink'\")\" -eq 7"

# more input keeps arriving while the failures land
"$CPDEMO" produce --bootstrap-file var/kafka.bootstrap --count 50000 --rate 10000 \
  --seed $((seed + 1)) --bad-every 500 >var/produce2.log 2>&1 &
prod=$!
T_PIDS+=("$prod")

# 1. every connection of the job terminated by the server, twice
for round in 1 2; do
  pause
  f0=$(failures) c0=$(committed)
  n=$(sql "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
           WHERE datname = 'cpdemo' AND pid <> pg_backend_pid()")
  check "terminated the job's $n connections (round $round)" test "$n" -ge 1
  # staging finds it first (failed checkpoints, over the tolerance) or the commit does
  check "the lost connection failed the job (round $round)" \
    wait_for 15 bash -c "test \$(grep -c 'failure:' var/pg.log) -gt $f0"
  check "the error names the server and the lost connection (round $round)" \
    wait_for 5 grep -q "127.0.0.1:$port/cpdemo: [^\"]*connection lost" var/events.jsonl var/pg.log
  check "it restarted from a completed checkpoint and commits again (round $round)" \
    commits_after "$c0" 20
done
grep -ho "127.0.0.1:$port/cpdemo: [^\"]*connection lost[^\"]*" var/events.jsonl var/pg.log | tail -1 |
  cut -c1-200 | sed 's/^/  e.g. /'

# 2. the server restarts (pg_ctl restart -m fast) under the job
pause
f0=$(failures) c0=$(committed)
"$PG" restart "$pg_dir"
check "a server restart: the job failed" wait_for 15 bash -c "test \$(grep -c 'failure:' var/pg.log) -gt $f0"
check "and commits again after it" commits_after "$c0" 20

# 3. the server goes away for 2 s (longer than the job's restart delay)
pause
f0=$(failures) c0=$(committed)
"$PG" down "$pg_dir"
sleep 2
"$PG" up "$pg_dir"
check "a server down for 2 s: the job failed" wait_for 15 bash -c "test \$(grep -c 'failure:' var/pg.log) -gt $f0"
check "and reconnected when it was back, without exiting" commits_after "$c0" 20
check "the job process is still the same" alive

# 4. an injected commit failure, through cptop
pause
f0=$(failures) c0=$(committed)
check "cptop ctl fail fail-commit" wait_for 15 "$CPTOP" --job pg ctl fail fail-commit
check "the failed commit restarts the job, which commits again" \
  bash -c "$(declare -f wait_for); wait_for 15 bash -c 'test \$(grep -c failure: var/pg.log) -gt $f0' &&
    wait_for 20 bash -c 'test \"\$(\"$PG\" psql \"$pg_dir\" \"SELECT max(checkpoint_id) FROM commits\")\" -gt $c0'"

# 5. kill -9, restart, then everything drained and verified
pause
kill -9 "$job_pid"; wait "$job_pid" 2>/dev/null
start_job
check "after kill -9 the job restores and commits again" commits_after "$(committed)" 20
wait "$prod"
check "the second producer delivered everything" grep -q "delivered 50000, 0 delivery errors" var/produce2.log
pause
kill -9 "$job_pid"; wait "$job_pid" 2>/dev/null
check "--drain commits the rest and exits 0" \
  bash -c "timeout 60 '$CPDEMO' run --config pg.json --drain >var/drain.out 2>>var/pg.log"
good=$(( 100000 - 200 + 50000 - 100 ))
out=$("$CPDEMO" verify --config pg.json 2>var/verify.err | tail -1)
echo "  verify: $out"
check "exactly once on PostgreSQL: verify finds nothing lost or duplicated" \
  test "$out" = "records $good, lost 0, duplicated 0, mismatched accounts 0"
check "every malformed record is a dead letter, once" test "$(sql 'SELECT count(*) FROM dead_letters')" -eq 300
check "nothing is left staged" test "$(sql 'SELECT (SELECT count(*) FROM staged_rows) + (SELECT count(*) FROM staged_dead)')" -eq 0
check "the job restored at least 7 times on the way" test "$(grep -c 'restored from checkpoint' var/pg.log)" -ge 7
check "the job's stderr has no sanitizer report" \
  bash -c "! grep -E 'runtime error|Sanitizer' var/pg.log"
# (the URL has one; trust authentication ignores it)
check "no password in the job's log or anywhere in its event stream (its hello carries sink.url)" \
  bash -c "! grep -q sekret var/pg.log && ! grep -q sekret var/events.jsonl"

echo "  $(grep -c 'restored from checkpoint' var/pg.log) restores, $(sql 'SELECT count(*) FROM commits') commits, $((SECONDS - t0)) s"

# verify names an unreachable server, without its password
closed=$((port + 1))
printf '{"source.kafka.bootstrap-file": "var/kafka.bootstrap", "sink.url": "postgresql://postgres:sekret@127.0.0.1:%d/cpdemo"}' \
  "$closed" > gone.json
check "verify against a server that is not there: exits 1 naming it, no password" \
  bash -c "'$CPDEMO' verify --config gone.json >/dev/null 2>e.txt; test \$? -eq 1 &&
    grep -q '127.0.0.1.*$closed' e.txt && ! grep -q sekret e.txt"
if [ "$T_FAIL" -gt 0 ]; then
  echo "  the job's log, last lines:"; tail -15 var/pg.log | cut -c1-240 | sed 's/^/    /'
  echo "  the server's log, last lines:"; tail -8 "$pg_dir/server.log" | cut -c1-240 | sed 's/^/    /'
fi
t_done
