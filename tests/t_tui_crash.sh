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
SOCK=$T_TMP/tmux.sock
tmx() { tmux -S "$SOCK" "$@"; }
cleanup_tui() { tmx kill-server 2>/dev/null; t_cleanup; }
trap cleanup_tui EXIT
screen() { tmx capture-pane -p -t dash; }
wait_screen() { # SECONDS REGEX
  local i
  for ((i = 0; i < $1 * 10; i++)); do
    screen 2>/dev/null | grep -Eq -- "$2" && return 0
    sleep 0.1
  done
  echo "--- never showed /$2/; last screen:"; screen 2>/dev/null
  return 1
}
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
wait_for 20 test -S "$T_TMP/cptop/crashy.cmd" || fail "the job did not start"

tmx new-session -d -s dash -x 120 -y 40 \
  "env XDG_RUNTIME_DIR=$T_TMP LANG=C.UTF-8 TERM=screen $CPTOP 2>$T_TMP/cptop.err"
check "the dashboard shows the job with completed checkpoints" wait_screen 15 " completed periodic"
pid1=$(screen | grep -Eo 'pid [0-9]+' | head -1 | cut -d' ' -f2)
tmx send-keys -t dash f 7
check "f 7: the job accepts the crash" wait_screen 5 "fail crash: ok, the job process \(pid $pid1\) crashes now"
check "the dashboard notices the process went (restart or disconnect noted)" \
  sh -c "for i in \$(seq 150); do tmux -S '$SOCK' capture-pane -p -t dash | grep -Eq 'DISCONNECTED|pid [0-9]+' || exit 1; \
         p=\$(tmux -S '$SOCK' capture-pane -p -t dash | grep -Eo 'pid [0-9]+' | head -1 | cut -d' ' -f2); \
         [ -n \"\$p\" ] && [ \"\$p\" != '$pid1' ] && exit 0; sleep 0.1; done; exit 1"
check "it comes back: a new pid, live, restored from a checkpoint" \
  wait_screen 15 "restored \(from #[0-9]+\)"
check "... and checkpoints complete again" sh -c "n=\$(tmux -S '$SOCK' capture-pane -p -t dash | grep -Eo '[0-9]+ completed' | head -1 | cut -d' ' -f1); \
  for i in \$(seq 100); do m=\$(tmux -S '$SOCK' capture-pane -p -t dash | grep -Eo '[0-9]+ completed' | head -1 | cut -d' ' -f1); \
  [ \"\${m:-0}\" -gt \"\${n:-0}\" ] && exit 0; sleep 0.1; done; exit 1"
check "the supervisor restarted it once" grep -q "restarting in 1000 ms (restart 1" job.log

tmx send-keys -t dash f 8
check "f 8: the broker-down form proposes 5 s" wait_screen 5 "down for how many s: 5_"
tmx send-keys -t dash 2 Enter
check "the embedded Kafka takes its broker down" wait_screen 5 "fail broker-down: ok, every broker down for 2 s"
tmx send-keys -t dash f 9 Enter
check "f 9: latency added (default 500 ms)" wait_screen 5 "fail kafka-latency: ok, round trip \+500 ms on every broker"
"$CPTOP" --job crashy ctl fail kafka-latency ms=0 >/dev/null
before=$(screen | grep -Eo '[0-9]+ completed' | head -1 | cut -d' ' -f1)
check "after the broker is back, checkpoints complete again" sh -c "for i in \$(seq 150); do \
  m=\$(tmux -S '$SOCK' capture-pane -p -t dash | grep -Eo '[0-9]+ completed' | head -1 | cut -d' ' -f1); \
  [ \"\${m:-0}\" -gt \"${before:-0}\" ] && exit 0; sleep 0.1; done; exit 1"
check "the failures are in the event log" sh -c "tmux -S '$SOCK' send-keys -t dash e / f a i l u r e _ i n j Enter; sleep 0.5; \
  tmux -S '$SOCK' capture-pane -p -t dash | grep -q 'failure_injected .*broker-down'"
tmx send-keys -t dash Escape Escape q
check "no dashboard error output" sh -c "sleep 0.5; ! grep -E 'ERROR|runtime error|LeakSanitizer' $T_TMP/cptop.err"
check "no sanitizer report from the job" sh -c "! grep -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' job.log"
t_done
