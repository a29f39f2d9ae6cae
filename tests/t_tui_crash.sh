#!/usr/bin/env bash
# The whole-process failures from the dashboard's f menu, in tmux: crash the
# job process (the supervisor starts it again; the dashboard shows it going
# away and coming back, restored from which checkpoint), then take the
# embedded Kafka's broker down and add latency, and see checkpoints
# complete again afterwards.
. "$(dirname "$0")/lib.sh"
export XDG_RUNTIME_DIR=$T_TMP
CPDEMO=$top/$BUILD/bin/cpdemo
CPTOP=$top/$BUILD/bin/cptop
screen() { tui_cap dash; cat "$SCREEN"; }
wait_screen() { tui_wait "$1" dash "$2" || { tui_show dash; return 1; }; }
# the first count of "N completed" on screen
completed() { tui_cap dash; grep -Eo '[0-9]+ completed' "$SCREEN" | head -1 | cut -d' ' -f1; }
# more_completed_than N: polls until the screen counts more than N completed
more_completed_than() { local i m; for ((i = 0; i < 150; i++)); do m=$(completed); [ "${m:-0}" -gt "$1" ] && return 0; sleep 0.1; done; return 1; }
cd "$T_TMP" && mkdir -p var
bg "$CPDEMO" kafka --partitions 2 --bootstrap-file var/kafka.bootstrap
wait_for 10 test -S var/kafka.bootstrap.ctl || fail "cpdemo kafka (and its control socket) did not start"
bg "$CPDEMO" produce --bootstrap-file var/kafka.bootstrap --rate 1000 --seed 3 --delivery-timeout 30
cat > c.json <<'JSON'
{ "pipeline.name": "crashy", "parallelism.default": 2, "source.kafka.bootstrap-file": "var/kafka.bootstrap",
  "sink.url": "sqlite:var/c.db", "execution.checkpointing.storage": "var/chk",
  "execution.checkpointing.interval": "500 ms", "execution.checkpointing.tolerable-failed-checkpoints": 100 }
JSON
"$CPDEMO" run --config c.json --supervise >job.log 2>&1 &
T_PIDS+=($!)
wait_for 20 test -e "$T_TMP/cptop/crashy.json" || fail "the job did not start"

tui_start dash 120 40 "env XDG_RUNTIME_DIR=$T_TMP LANG=C.UTF-8 TERM=screen $CPTOP 2>$T_TMP/cptop.err"
check "the dashboard shows the job with completed checkpoints" wait_screen 15 " completed periodic"
pid1=$(screen | grep -Eo 'pid [0-9]+' | head -1 | cut -d' ' -f2)
tui_keys dash f
check "f: the menu offers the job's crash" wait_screen 5 "│ [1-9]  crash "
tui_keys dash "$(tui_menu_key dash crash)"
check "the job accepts the crash" wait_screen 5 "fail crash: ok, the job process \(pid $pid1\) crashes now"
new_pid_shown() { local p; p=$(screen | grep -Eo 'pid [0-9]+' | head -1 | cut -d' ' -f2); [ -n "$p" ] && [ "$p" != "$pid1" ]; }
check "the dashboard follows the job to its new process (another pid)" wait_for 15 new_pid_shown
check "it comes back: a new pid, live, restored from a checkpoint" \
  wait_screen 15 "restored \(from #[0-9]+\)"
n=$(completed)
check "... and checkpoints complete again" more_completed_than "${n:-0}"
check "the supervisor restarted it once" grep -q "restarting in 1000 ms (restart 1" job.log

tui_keys dash f
wait_screen 5 "│ [1-9]  broker-down " >/dev/null
tui_keys dash "$(tui_menu_key dash broker-down)"
check "broker-down: its form proposes the table's default" wait_screen 5 "│ [a-z_]+=[0-9]+_  \("
tui_keys dash 2 Enter
check "the embedded Kafka takes its broker down" wait_screen 5 "fail broker-down: ok, every broker down for 2 s"
tui_keys dash f
wait_screen 5 "│ [1-9]  kafka-latency " >/dev/null
tui_keys dash "$(tui_menu_key dash kafka-latency)"
wait_screen 5 "│ ms=[0-9]+_  \(" >/dev/null
tui_keys dash Enter
check "kafka-latency with the table's default: latency added" wait_screen 5 "fail kafka-latency: ok, round trip \+[0-9]+ ms on every broker"
"$CPTOP" --job crashy ctl fail kafka-latency ms=0 >/dev/null
before=$(completed)
check "after the broker is back, checkpoints complete again" more_completed_than "${before:-0}"
tui_keys dash e /
tui_text dash failure_inj
tui_keys dash Enter
check "the failures are in the event log" wait_screen 5 'failure_injected .*broker-down'
tui_keys dash Escape Escape q
check "no dashboard error output" sh -c "sleep 0.5; ! grep -E 'ERROR|runtime error|LeakSanitizer' $T_TMP/cptop.err"
check "no sanitizer report from the job" sh -c "! grep -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' job.log"
t_done
