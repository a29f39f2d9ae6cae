#!/usr/bin/env bash
# cpdemo run with S3 checkpoint storage, end to end against s3rver on
# 127.0.0.1 (tests/s3, installed by scripts/deps.sh): checkpoints land in the
# bucket with _metadata, retention keeps num-retained, the S3 server killed
# mid-run fails checkpoints while the job keeps running and a later one
# succeeds once it is back, kill -9 of the job restores from the newest S3
# checkpoint, and verify finds nothing lost or duplicated. The secret key
# appears in no log, event or error.
. "$(dirname "$0")/lib.sh"
export XDG_RUNTIME_DIR=$T_TMP
CPDEMO=$top/$BUILD/bin/cpdemo
CPTOP=$top/$BUILD/bin/cptop
S3=$top/tests/s3.sh
cd "$T_TMP" && mkdir -p var

# the server goes after every process that talks to it
s3_dir=
s3_cleanup() {
  cd / && t_cleanup
  [ -n "$s3_dir" ] && "$S3" stop "$s3_dir"
}
trap s3_cleanup EXIT
if ! out=$("$S3" start ckpt $$); then
  fail "s3rver starts on 127.0.0.1 with bucket ckpt" "tests/s3.sh start failed"
  t_done; exit 1
fi
s3_dir=$(sed -n 1p <<<"$out")
endpoint=$(sed -n 2p <<<"$out")
port=$(cat "$s3_dir/port")
ok "s3rver starts on 127.0.0.1:$port with bucket ckpt"

SECRET="t-s3-secret-$$-$RANDOM-Zk4qP9"
export AWS_ENDPOINT_URL=$endpoint
export AWS_ACCESS_KEY_ID=S3RVER     # the key id s3rver knows; any secret passes with
export AWS_SECRET_ACCESS_KEY=$SECRET # --allow-mismatched-signatures
unset S3_HOSTNAME S3_URI_STYLE AWS_ENDPOINT_URL_S3

bg "$CPDEMO" kafka --partitions 3 --bootstrap-file var/kafka.bootstrap
wait_for 10 test -s var/kafka.bootstrap || fail "cpdemo kafka did not start"
check "produce 20,000 records (20 malformed)" \
  "$CPDEMO" produce --bootstrap-file var/kafka.bootstrap --count 20000 --seed 5 --bad-every 1000

cat > s3.json <<'JSON'
{ "pipeline.name": "s3", "parallelism.default": 2,
  "source.kafka.bootstrap-file": "var/kafka.bootstrap", "sink.url": "sqlite:var/s3.db",
  "execution.checkpointing.storage": "s3://ckpt/flink/cp",
  "execution.checkpointing.interval": "500 ms",
  "execution.checkpointing.timeout": "5 s",
  "execution.checkpointing.tolerable-failed-checkpoints": 1000,
  "execution.checkpointing.num-retained": 2,
  "restart-strategy.fixed-delay.delay": "200 ms" }
JSON
chk=$s3_dir/data/ckpt/flink/cp/s3
metas() { ls "$chk"/chk-*/_metadata._S3rver_object 2>/dev/null | sed 's|.*/chk-\([0-9]*\)/.*|\1|' | sort -n; }

job_pid=
start_job() {
  "$CPDEMO" run --config s3.json >>var/s3.log 2>&1 &
  job_pid=$!
  T_PIDS+=("$job_pid")
  # announced (discovery file) and answering, so cptop --json finds it
  wait_for 15 "$CPTOP" --job s3 --once
}
check "the job starts with s3:// storage" start_job
bg "$CPTOP" --job s3 --json
events_pid=${T_PIDS[-1]}              # its stream (bg.log) is searched for the secret below
check "the job names its S3 location" grep -q 'to s3://ckpt/flink/cp/s3' var/s3.log
check "checkpoints complete on S3" \
  wait_for 30 bash -c "'$CPTOP' --job s3 --once | grep -q ' completed '"
check "chk-N/_metadata and state files are in the bucket" \
  wait_for 10 bash -c "ls $chk/chk-*/_metadata._S3rver_object && ls $chk/chk-*/op*-sub*.state._S3rver_object"

# more input while the storage comes and goes
"$CPDEMO" produce --bootstrap-file var/kafka.bootstrap --count 15000 --rate 1500 \
  --seed 6 --bad-every 1000 >var/produce2.log 2>&1 &
prod=$!
T_PIDS+=("$prod")

check "retention: several checkpoints later, at most 2 remain and chk-1 is gone" \
  wait_for 30 bash -c "n=\$(ls $chk/chk-*/_metadata._S3rver_object | wc -l); \
    newest=\$(ls $chk/chk-*/_metadata._S3rver_object | sed 's|.*/chk-\([0-9]*\)/.*|\1|' | sort -n | tail -1); \
    test \"\$newest\" -ge 5 && test \"\$n\" -le 2 && test ! -e $chk/chk-1/_metadata._S3rver_object"

# ---------------------------------------------------------------- outage
"$S3" down "$s3_dir"
before=$(metas | tail -1)            # nothing can commit from here on
echo "  s3rver killed after chk-$before"
check "with S3 down, checkpoints fail on storage (IO_EXCEPTION)" \
  wait_for 20 bash -c "'$CPTOP' --job s3 --once | grep -q IO_EXCEPTION"
check "the failure names the bucket, key and libs3's status" \
  wait_for 10 bash -c "grep -qE 's3://ckpt/flink/cp/s3/chk-[0-9]+/[^ ]+ failed after 4 attempts: (FailedToConnect|ConnectionFailed)' '$T_TMP/bg.log'"
sleep 2
check "the job keeps running through the outage" kill -0 "$job_pid"
check "and is not restarting or failed" \
  bash -c "'$CPTOP' --job s3 --once | head -3 | grep -qi running && ! grep -q 'failure:' var/s3.log"
check "no checkpoint completed while S3 was down" test "$(metas | tail -1)" = "$before"
check "s3rver restarts on the same port and directory" "$S3" up "$s3_dir"
check "a later checkpoint completes once S3 is back" \
  wait_for 30 bash -c "test \"\$(ls $chk/chk-*/_metadata._S3rver_object | sed 's|.*/chk-\([0-9]*\)/.*|\1|' | sort -n | tail -1)\" -gt $before"

# ---------------------------------------------------------------- injected failures
check "cptop ctl fail fail-storage count=2 is taken" "$CPTOP" --job s3 ctl fail fail-storage count=2
check "the injected S3 write failures fail a checkpoint, named" \
  wait_for 20 grep -q 'injected failure: write of s3://ckpt/flink/cp/s3/chk-' "$T_TMP/bg.log"
after=$(metas | tail -1)
check "and a later checkpoint completes" \
  wait_for 20 bash -c "test \"\$(ls $chk/chk-*/_metadata._S3rver_object | sed 's|.*/chk-\([0-9]*\)/.*|\1|' | sort -n | tail -1)\" -gt $after"
check "no temporary key of an injected failure is left in the bucket" \
  bash -c "! find $chk -name '.*.tmp-*' | grep -q ."

# ---------------------------------------------------------------- kill -9, restore
# the second run takes its S3 settings from the configuration instead
kill -9 "$job_pid"; wait "$job_pid" 2>/dev/null
newest=$(metas | tail -1)
echo "  job killed; newest checkpoint in the bucket: chk-$newest"
sed -i 's|^  "restart-strategy.fixed-delay.delay": "200 ms" }$|  "restart-strategy.fixed-delay.delay": "200 ms",|' s3.json
cat >> s3.json <<EOF
  "s3.endpoint": "http://127.0.0.1:$port", "s3.path.style.access": true,
  "s3.access-key": "S3RVER", "s3.secret-key": "$SECRET" }
EOF
unset AWS_ENDPOINT_URL AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
check "the job restarts with its S3 settings from the configuration" start_job
check "it restores from the newest S3 checkpoint (chk-$newest)" \
  wait_for 20 grep -q "restored from checkpoint $newest\$" var/s3.log
wait "$prod"
check "the second producer delivered everything" grep -q "delivered 15000, 0 delivery errors" var/produce2.log

# ---------------------------------------------------------------- exactly once
good=$(( 20000 - 20 + 15000 - 15 ))
out=
for ((i = 0; i < 120; i++)); do
  out=$("$CPDEMO" verify --config s3.json 2>/dev/null | tail -1)
  case "$out" in "records $good, "*) break ;; esac
  sleep 0.5
done
echo "  verify: $out"
check "exactly once: verify finds nothing lost or duplicated" \
  test "$out" = "records $good, lost 0, duplicated 0, mismatched accounts 0"
kill "$job_pid"; wait "$job_pid" 2>/dev/null
kill "$events_pid"; wait "$events_pid" 2>/dev/null
check "a final --drain restores from S3 and finds nothing new" \
  bash -c "'$CPDEMO' run --config s3.json --drain 2>>var/s3.log | grep -q '^drained 0 records'"
check "and verify still agrees" \
  bash -c "'$CPDEMO' verify --config s3.json 2>/dev/null | grep -qx 'records $good, lost 0, duplicated 0, mismatched accounts 0'"

# ---------------------------------------------------------------- secrets
check "the event stream was captured (cptop --json)" grep -q '"cp_completed"' "$T_TMP/bg.log"
check "the secret key is in no log, event or error" \
  bash -c "! grep -rqF -- '$SECRET' var/*.log '$T_TMP/bg.log'"
echo '{"execution.checkpointing.storage": "s3://ckpt/x", "s3.secret-key": ["'"$SECRET"'"],
  "source.kafka.bootstrap-file": "var/kafka.bootstrap"}' > badsecret.json
check "a bad s3.secret-key is refused without echoing it" bash -c "'$CPDEMO' run --config badsecret.json 2>e.txt; \
  test \$? -eq 2 && grep -q 's3.secret-key' e.txt && ! grep -qF -- '$SECRET' e.txt"
printf '{"execution.checkpointing.storage": "s3://ckpt/x", "source.kafka.bootstrap-file": "var/kafka.bootstrap"}' > nocreds.json
check "no S3 credentials: a clear error" bash -c "'$CPDEMO' run --config nocreds.json 2>e.txt; \
  test \$? -eq 2 && grep -q 'no S3 credentials' e.txt"
check "no sanitizer report from any process" \
  bash -c "! grep -lE 'ERROR: (Address|Leak)Sanitizer|runtime error:' var/*.log e.txt '$T_TMP/bg.log'"
t_done
