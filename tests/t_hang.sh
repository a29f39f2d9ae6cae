#!/usr/bin/env bash
# A hung storage and a locked database must delay only checkpoints. Two jobs
# run side by side on one Kafka, checkpointing every 500 ms with a 2 s
# timeout: "hs3" keeps its checkpoints on S3 (s3rver), "hpg" writes its
# results to PostgreSQL (a private cluster). For 30 s s3rver is stopped
# (SIGSTOP) and PostgreSQL's staged_rows table is held by an ACCESS
# EXCLUSIVE lock. Meanwhile, for each job: every checkpoint in flight
# expires within timeout + 10 %, heartbeats reach the dashboard at least
# every 1.5 s, `cptop ctl trigger` and `ctl abort` answer within 200 ms
# (the round trip cptop --verbose times), and
# records/s stay at >= 50 % of what they were before. Afterwards a
# checkpoint completes, and after a --drain `cpdemo verify` finds nothing
# lost or duplicated.
# Its checks time answers in milliseconds: nothing else runs beside it.
# run.sh: alone
. "$(dirname "$0")/lib.sh"
export XDG_RUNTIME_DIR=$T_TMP
CPDEMO=$top/$BUILD/bin/cpdemo
CPTOP=$top/$BUILD/bin/cptop
PG=$top/tests/pg.sh
S3=$top/tests/s3.sh
HANG_S=30
TIMEOUT_MS=2000
cd "$T_TMP" && mkdir -p var
now_ms() { date +%s%3N; }

# the servers go after every process that talks to them; a stopped s3rver
# is let go on first (T_DEBUG=DIR keeps the logs and event streams there)
pg_dir= s3_dir= s3_pid=
hang_cleanup() {
  [ -n "${T_DEBUG:-}" ] && cp -r "$T_TMP/var" "$T_DEBUG"
  [ -n "$s3_pid" ] && kill -CONT "$s3_pid" 2>/dev/null
  cd / && t_cleanup
  [ -n "$pg_dir" ] && "$PG" stop "$pg_dir"
  [ -n "$s3_dir" ] && "$S3" stop "$s3_dir"
}
trap hang_cleanup EXIT

# ---------------------------------------------------------------- servers
if ! out=$("$PG" start $$); then
  fail "a private PostgreSQL cluster starts" "tests/pg.sh start failed"; t_done; exit 1
fi
pg_dir=$(sed -n 1p <<<"$out")
pg_url=$(sed -n 2p <<<"$out")
sql() { "$PG" psql "$pg_dir" "$1"; }
if ! out=$("$S3" start ckpt $$); then
  fail "s3rver starts" "tests/s3.sh start failed"; t_done; exit 1
fi
s3_dir=$(sed -n 1p <<<"$out")
s3_pid=$(cat "$s3_dir/pid")
ok "s3rver and PostgreSQL are up"
export AWS_ENDPOINT_URL=$(sed -n 2p <<<"$out") AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
unset S3_HOSTNAME S3_URI_STYLE AWS_ENDPOINT_URL_S3

bg "$CPDEMO" kafka --partitions 4 --bootstrap-file var/kafka.bootstrap
wait_for 10 test -s var/kafka.bootstrap || fail "cpdemo kafka did not start"
# a steady input for the whole test (stopped before the drains)
"$CPDEMO" produce --bootstrap-file var/kafka.bootstrap --rate 1000 --count 120000 --seed 11 \
  --bad-every 250 >var/produce.log 2>&1 &
producer=$!
T_PIDS+=("$producer")

# ---------------------------------------------------------------- the jobs
config() { # NAME STORAGE SINK
  cat > "$1.json" <<EOF
{ "pipeline.name": "$1", "parallelism.default": 2,
  "source.kafka.bootstrap-file": "var/kafka.bootstrap",
  "sink.url": "$3", "execution.checkpointing.storage": "$2",
  "execution.checkpointing.interval": "500 ms",
  "execution.checkpointing.timeout": "$TIMEOUT_MS ms",
  "execution.checkpointing.tolerable-failed-checkpoints": 1000,
  "execution.checkpointing.num-retained": 2,
  "restart-strategy.fixed-delay.delay": "200 ms" }
EOF
}
config hs3 "s3://ckpt/hang" "sqlite:var/hs3.db"
config hpg "var/chk-hpg" "$pg_url"
declare -A job_pid
for name in hs3 hpg; do
  "$CPDEMO" run --config "$name.json" >>"var/$name.log" 2>&1 &
  job_pid[$name]=$!
  T_PIDS+=("$!")
done
for name in hs3 hpg; do
  check "$name starts" wait_for 20 "$CPTOP" --job "$name" --once
  # every line the dashboard receives, with the time it arrived (ms)
  "$CPTOP" --job "$name" --json > >(perl -MTime::HiRes=time -ne \
    'BEGIN { $| = 1 } printf "%d\t%s", time * 1000, $_' >"var/$name.events") 2>/dev/null &
  T_PIDS+=("$!")
done
for name in hs3 hpg; do
  check "$name completes checkpoints" wait_for 30 grep -q '"cp_completed"' "var/$name.events"
done
before_from=$(now_ms)
sleep 5
before_to=$(now_ms)

# ---------------------------------------------------------------- the hang
kill -STOP "$s3_pid"
s3_from=$(now_ms)
# the session writes down when it let go of the lock
( "$PG" psql "$pg_dir" "BEGIN; LOCK TABLE staged_rows IN ACCESS EXCLUSIVE MODE;
    SELECT pg_sleep($HANG_S); COMMIT;" >var/lock.log 2>&1; now_ms >var/lock.end ) &
locker=$!
T_PIDS+=("$locker")
locked() {
  test "$(sql "SELECT count(*) FROM pg_locks WHERE relation = 'staged_rows'::regclass
                AND mode = 'AccessExclusiveLock' AND granted")" = 1
}
check "PostgreSQL's staged_rows is locked" wait_for 10 locked
pg_from=$(now_ms)
echo "  s3rver stopped, staged_rows locked $(( pg_from - s3_from )) ms later, for $HANG_S s"

# ctl NAME ARGS...: runs cptop ctl --verbose, appends "MS<TAB>REPLY" to
# var/NAME.ctl: MS is the request's round trip as cptop timed it (cptop's
# own start, tens of ms under a sanitizer, is not the job's answer), or
# 99999 when there was no reply
ctl() {
  local name=$1 out ms; shift
  out=$("$CPTOP" --job "$name" --timeout 2000 --verbose ctl "$@" 2>&1)
  ms=$(printf '%s\n' "$out" | sed -nE 's/^cptop: answered in ([0-9]+)\.[0-9] ms$/\1/p')
  printf '%s\t%s\n' "${ms:-99999}" "$(printf '%s\n' "$out" | grep -v '^cptop: answered in' | head -1)" \
    >>"var/$name.ctl"
}
newest() { grep '"cp_triggered"' "var/$1.events" | tail -1 | sed 's/.*"id":\([0-9]*\).*/\1/'; }
sleep_until() { local d=$(( $1 - $(now_ms) )); [ "$d" -gt 0 ] && sleep "$(( d / 1000 )).$(printf %03d $(( d % 1000 )))"; }
for at in 7 17; do
  sleep_until $(( s3_from + at * 1000 ))
  for name in hs3 hpg; do
    ctl "$name" trigger
    ctl "$name" abort "$(newest "$name")"
  done
done
sleep_until $(( s3_from + HANG_S * 1000 ))
kill -CONT "$s3_pid"
s3_to=$(now_ms)
wait "$locker"
pg_to=$(cat var/lock.end)
echo "  s3rver resumed, the lock released"
completed_after() { # NAME MS: a checkpoint completed after MS
  awk -F'\t' -v t="$2" '$1 > t' "var/$1.events" | grep -q '"cp_completed"'
}
check "hs3: a checkpoint completes after the hang" wait_for 30 completed_after hs3 "$s3_to"
check "hpg: a checkpoint completes after the hang" wait_for 30 completed_after hpg "$pg_to"

# ---------------------------------------------------------------- what the dashboard saw
cat > analyze.pl <<'PERL'
# analyze.pl EVENTS FROM TO BEFORE_FROM BEFORE_TO TIMEOUT_MS: what happened
# between FROM and TO (ms, wall clock), one "key value" line each
use strict; use warnings; use JSON::PP;
my ($file, $from, $to, $bfrom, $bto, $timeout) = @ARGV;
my (%trig, %end, @hb);
open my $f, '<', $file or die "$file: $!";
while (<$f>) {
  my ($at, $json) = split /\t/, $_, 2;
  my $m = eval { decode_json($json) } or next;
  my $t = $m->{type} // '';
  my $ts = ($m->{ts_us} // 0) / 1000;
  if ($t eq 'cp_triggered') { $trig{$m->{id}} = $ts; }
  elsif ($t eq 'cp_failed' || $t eq 'cp_completed') { $end{$m->{id}} //= $ts; }
  elsif ($t eq 'heartbeat') {
    my $out = 0;
    $out += $_->[3] for grep { $_->[0] == 0 } @{$m->{subtasks}};
    push @hb, [$at, $ts, $out];
  }
}
# checkpoints in flight during the hang: triggered from a timeout before it
# to the last moment one could still expire inside it
my ($n, $worst, $open) = (0, 0, 0);
for my $id (keys %trig) {
  my $t = $trig{$id};
  next if $t < $from - $timeout || $t > $to - 1.1 * $timeout;
  if (!defined $end{$id}) { $open++; next; }
  $n++;
  my $r = ($end{$id} - $t) / $timeout;
  $worst = $r if $r > $worst;
}
my ($gap, $prev) = (0, undef);
for my $h (@hb) {
  next if $h->[0] < $from || $h->[0] > $to;
  $gap = $h->[0] - $prev if defined $prev && $h->[0] - $prev > $gap;
  $prev = $h->[0];
}
sub rate {
  my ($a, $b) = @_;
  my @w = grep { $_->[1] >= $a && $_->[1] <= $b } @hb;
  return 0 if @w < 2;
  my $dt = ($w[-1][1] - $w[0][1]) / 1000;
  return $dt > 0 ? int(($w[-1][2] - $w[0][2]) / $dt) : 0;
}
printf "checkpoints %d\nworst_ratio %.3f\nunfinished %d\nheartbeat_gap_ms %d\n", $n, $worst, $open, $gap;
# a second off each end: what was read once the hang ended (a stalled job
# catches up from Kafka in a moment) must not count as read during it
printf "rate_before %d\nrate_during %d\n", rate($bfrom, $bto), rate($from + 1000, $to - 1000);
PERL

for name in hs3 hpg; do
  if [ "$name" = hs3 ]; then from=$s3_from to=$s3_to; else from=$pg_from to=$pg_to; fi
  perl analyze.pl "var/$name.events" "$from" "$to" "$before_from" "$before_to" "$TIMEOUT_MS" \
    >"var/$name.figures"
  fig() { sed -n "s/^$1 //p" "var/$name.figures"; }
  echo "  $name during the hang: $(tr '\n' ' ' <"var/$name.figures")"
  check "$name: checkpoints kept being triggered and ended during the hang ($(fig checkpoints))" \
    test "$(fig checkpoints)" -ge 8
  check "$name: each ended within timeout + 10 % (worst $(fig worst_ratio) x timeout)" \
    awk -v r="$(fig worst_ratio)" -v u="$(fig unfinished)" 'BEGIN { exit !(r > 0 && r <= 1.1 && u == 0) }'
  check "$name: heartbeats reached the dashboard at most 1.5 s apart ($(fig heartbeat_gap_ms) ms)" \
    test "$(fig heartbeat_gap_ms)" -gt 0 -a "$(fig heartbeat_gap_ms)" -le 1500
  check "$name: records/s during the hang >= 50 % of before ($(fig rate_during) vs $(fig rate_before))" \
    test "$(fig rate_before)" -gt 0 -a "$(( $(fig rate_during) * 2 ))" -ge "$(fig rate_before)"
  check "$name: ctl trigger and abort answered during the hang ($(cut -f1 "var/$name.ctl" | tr '\n' ' ')ms)" \
    awk -F'\t' 'NF < 2 || $1 > 200 { bad = 1 } END { exit bad || NR != 4 }' "var/$name.ctl"
  check "$name: they were taken (triggered or queued; aborted)" \
    bash -c "grep -c -E 'checkpoint [0-9]+ triggered|queued: starts once' var/$name.ctl | grep -qx 2 \
             && grep -c -E 'checkpoint [0-9]+ (aborted|is not in flight)' var/$name.ctl | grep -qx 2 \
             && grep -q 'aborted' var/$name.ctl"
done

# ---------------------------------------------------------------- exactly once
kill "$producer"; wait "$producer" 2>/dev/null
for name in hs3 hpg; do
  kill "${job_pid[$name]}"; wait "${job_pid[$name]}" 2>/dev/null
  check "$name: a drain commits the rest" \
    bash -c "timeout 120 '$CPDEMO' run --config $name.json --drain >>var/$name.log 2>&1"
  v=$("$CPDEMO" verify --config "$name.json" 2>>"var/$name.log" | tail -1)
  echo "  $name verify: $v"
  check "$name: exactly once through the hang" \
    bash -c "echo '$v' | grep -Eq '^records [1-9][0-9]*, lost 0, duplicated 0, mismatched accounts 0$'"
done
check "no sanitizer report from any job" \
  bash -c "! grep -lE 'ERROR: (Address|Leak)Sanitizer|runtime error:' var/*.log"
if [ "$T_FAIL" -gt 0 ]; then
  for name in hs3 hpg; do echo "    --- $name log (last 10 lines):"; tail -10 "var/$name.log" | sed 's/^/    /'; done
fi
t_done
