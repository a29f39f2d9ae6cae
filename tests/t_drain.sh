#!/usr/bin/env bash
# cpdemo run --drain: reads what the topic holds, commits it with a final
# checkpoint and exits; with the agent off too; bad configurations are named.
. "$(dirname "$0")/lib.sh"
export XDG_RUNTIME_DIR=$T_TMP
CPDEMO=$top/$BUILD/bin/cpdemo
cd "$T_TMP" && mkdir -p var
bg "$CPDEMO" kafka --partitions 3 --bootstrap-file var/kafka.bootstrap
wait_for 10 test -s var/kafka.bootstrap || fail "cpdemo kafka did not start"
check "produce 30,000 records (300 malformed)" \
  "$CPDEMO" produce --bootstrap-file var/kafka.bootstrap --count 30000 --seed 4 --bad-every 100
cat > d.json <<'JSON'
{ "pipeline.name": "d", "parallelism.default": 2, "source.kafka.bootstrap-file": "var/kafka.bootstrap",
  "sink.url": "sqlite:var/d.db", "execution.checkpointing.storage": "var/chk", "agent.listen": "off",
  "execution.checkpointing.num-retained": 3 }
JSON
check "--drain reads everything, checkpoints, exits 0" \
  bash -c "'$CPDEMO' run --config d.json --drain > out.txt 2>err.txt"
check "it reports the records and the final checkpoint" \
  grep -qE '^drained 30000 records in [0-9.]+ s \([0-9]+ records/s\); final checkpoint 1 took [0-9]+ ms' out.txt
check "the agent was off: no discovery file" test ! -e "$T_TMP/cptop/d.json"
check "verify: everything committed exactly once" \
  bash -c "'$CPDEMO' verify --config d.json 2>/dev/null | grep -qx 'records 29700, lost 0, duplicated 0, mismatched accounts 0'"
check "a second --drain restores and finds nothing new" \
  bash -c "'$CPDEMO' run --config d.json --drain 2>err2.txt | grep -q '^drained 0 records'"
check "it restored from the first run's checkpoint" grep -q "restored from checkpoint 1" err2.txt
check "and committed nothing twice" \
  bash -c "'$CPDEMO' verify --config d.json 2>/dev/null | grep -qx 'records 29700, lost 0, duplicated 0, mismatched accounts 0'"
check "--from-checkpoint restores that one" \
  bash -c "'$CPDEMO' run --config d.json --drain --from-checkpoint 1 2>err3.txt | grep -q '^drained 0 records' \
           && grep -q 'restored from checkpoint 1' err3.txt"
check "--from-checkpoint of a missing one exits 2 naming it" \
  bash -c "'$CPDEMO' run --config d.json --drain --from-checkpoint 99 2>e.txt; test \$? -eq 2 && grep -q 99 e.txt"
# a damaged newest checkpoint is never used: the job says so and takes the one before
"$CPDEMO" run --config d.json --drain >/dev/null 2>&1
newest=$(ls -d var/chk/d/chk-* | sort -t- -k2 -n | tail -1)
state=$(ls "$newest"/op2-sub0.state)
printf 'X' | dd of="$state" bs=1 seek=3 conv=notrunc 2>/dev/null
check "a corrupt state file: the checkpoint is skipped and the job says why" \
  bash -c "'$CPDEMO' run --config d.json --drain 2>err4.txt >/dev/null; grep -q \"$(basename "$newest") skipped\" err4.txt"
check "after restoring the older checkpoint, still exactly once" \
  bash -c "'$CPDEMO' verify --config d.json 2>/dev/null | grep -qx 'records 29700, lost 0, duplicated 0, mismatched accounts 0'"
echo '{"execution.checkpointing.interval": "often", "parallelism.default": 0}' > bad.json
check "a bad configuration exits 2 naming each key" bash -c "'$CPDEMO' run --config bad.json 2>e.txt; \
  test \$? -eq 2 && grep -q execution.checkpointing.interval e.txt && grep -q parallelism.default e.txt"
printf '{"source.kafka.bootstrap-servers": "127.0.0.1:1", "sink.url": "sqlite:var/x.db"}' > nokafka.json
check "no Kafka: a clear error, not a hang" bash -c "timeout 30 '$CPDEMO' run --config nokafka.json 2>e.txt; \
  test \$? -eq 2 && grep -q 'cpdemo kafka' e.txt"
mkdir -p ro && echo x > ro/file
printf '{"source.kafka.bootstrap-file": "var/kafka.bootstrap", "execution.checkpointing.storage": "ro/file/chk"}' > badstore.json
check "unwritable storage: a clear error naming it" bash -c "'$CPDEMO' run --config badstore.json 2>e.txt; \
  test \$? -eq 2 && grep -q 'ro/file' e.txt"
check "run --help" bash -c "'$CPDEMO' run --help | grep -q -- --drain"
t_done
