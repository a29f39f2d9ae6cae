#!/usr/bin/env bash
# cpdemo run's start: nothing is created (storage directory, sink database,
# discovery file) before the configuration is valid and Kafka answers; an
# unknown key is an error unless --allow-unknown-keys; the failure
# catalogue is listed by `cpdemo failures`.
. "$(dirname "$0")/lib.sh"
export XDG_RUNTIME_DIR=$T_TMP
CPDEMO=$top/$BUILD/bin/cpdemo
cd "$T_TMP" && mkdir -p var

# nothing_made: no storage directory, database or discovery file exists
nothing_made() {
  test ! -e var/chk && test ! -e var/start.db && ! ls "$T_TMP"/cptop/*.json >/dev/null 2>&1
}
write() { # extra JSON members
  cat > start.json <<EOF
{ "pipeline.name": "start", "source.kafka.bootstrap-servers": "127.0.0.1:1",
  "sink.url": "sqlite:var/start.db", "execution.checkpointing.storage": "var/chk" $1 }
EOF
}
run() { timeout 60 "$CPDEMO" run --config start.json "$@" >out.txt 2>&1; echo $? >rc.txt; }

write ', "execution.checkpointing.intervall": "1 s"'
run
check "an unknown key: exit 2 naming it and the closest key" \
  bash -c "test \$(cat rc.txt) = 2 && grep -q 'intervall' out.txt && grep -q 'execution.checkpointing.interval\"' out.txt"
check "  and nothing was created" nothing_made

write ', "parallelism.default": 0'
run
check "a bad value: exit 2 naming its key" \
  bash -c "test \$(cat rc.txt) = 2 && grep -q 'parallelism.default: 0 is out of range' out.txt"
check "  and nothing was created" nothing_made

# the agent's own settings are checked before storage is opened
write ', "agent.listen": "tcp://nowhere:x"'
run
check "a listen address the agent refuses: exit 2 naming agent.listen" \
  bash -c "test \$(cat rc.txt) = 2 && grep -q 'agent.listen' out.txt"
check "  and nothing was created" nothing_made

write ', "execution.checkpointing.intervall": "1 s"'
run --allow-unknown-keys
check "--allow-unknown-keys: the key is a warning, the start goes on (to Kafka, which is not there)" \
  bash -c "test \$(cat rc.txt) = 2 && grep -qi 'intervall' out.txt && grep -qi 'kafka' out.txt"
check "  and still nothing was created" nothing_made

check "cpdemo failures lists the ten kinds, in the table's order" \
  bash -c "test \"\$('$CPDEMO' failures | grep -E '^[a-z]' | awk '{print \$1}' | tr '\n' ' ')\" = \
    'kill stall decline fail-storage slow-storage fail-commit crash broker-down kafka-latency throttle '"
check "cpdemo failures --markdown prints the table" \
  bash -c "'$CPDEMO' failures --markdown | grep -q '^| \`stall\` | \`OP SUBTASK\` | \`ms=\` 1–3600000 ms'"
check "cpdemo failures with a bad argument exits 2" \
  bash -c "'$CPDEMO' failures --bogus 2>/dev/null; test \$? = 2"
t_done
