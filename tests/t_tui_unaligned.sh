#!/usr/bin/env bash
# The dashboard shows unaligned checkpoints, end to end: cpdemo runs with
# unaligned checkpoints on and its sinks throttled through `cptop ctl fail
# throttle` (backpressure, as in t_unaligned.sh). In tmux, cptop's history
# says "unaligned" in its TYPE column with the persisted bytes, the detail
# of one shows them per subtask with the unaligned glyph (» and, with
# --ascii, >) and when each went unaligned; an aligned-checkpoint-timeout
# set at run time makes checkpoints start aligned and switch: "switched"
# in the history, switched_to_unaligned in the event log. `cptop --once`
# prints the type and persisted bytes, `cptop --json` passes the switch
# event through.
. "$(dirname "$0")/lib.sh"
export XDG_RUNTIME_DIR=$T_TMP
CPDEMO=$top/$BUILD/bin/cpdemo
CPTOP=$top/$BUILD/bin/cptop
export LC_ALL=C.UTF-8
cd "$T_TMP" && mkdir -p var

bg "$CPDEMO" kafka --partitions 4 --bootstrap-file var/kafka.bootstrap
wait_for 10 test -s var/kafka.bootstrap || fail "cpdemo kafka did not start"
bg "$CPDEMO" produce --bootstrap-file var/kafka.bootstrap --rate 3000 --seed 5 --delivery-timeout 10
cat > uc.json <<'JSON'
{ "pipeline.name": "uct", "parallelism.default": 2,
  "source.kafka.bootstrap-file": "var/kafka.bootstrap", "sink.url": "sqlite:var/uct.db",
  "execution.checkpointing.interval": "300 ms", "execution.checkpointing.timeout": "5 s",
  "execution.checkpointing.tolerable-failed-checkpoints": 100,
  "execution.checkpointing.unaligned.enabled": true,
  "execution.checkpointing.storage": "var/chk" }
JSON
bg "$CPDEMO" run --config uc.json
check "the job starts with unaligned checkpoints on" wait_for 15 test -S "$T_TMP/cptop/uct.cmd"

ctl() { # args...: bounded, retried while the job settles
  local i
  for i in $(seq 20); do
    timeout 10 "$CPTOP" --job uct --timeout 2000 ctl "$@" >>ctl.log 2>&1 && return 0
    sleep 0.25
  done
  return 1
}
throttle() { ctl fail throttle 3 0 "per-record-us=$1" && ctl fail throttle 3 1 "per-record-us=$1"; }
check "both sinks throttled through cptop" throttle 3000

# a subscription of the event stream from now on, for the --json check
"$CPTOP" --job uct --json > events.jsonl 2>/dev/null &
T_PIDS+=($!)

run_cptop() { # NAME W H ARGS...: cptop in a pane
  local n=$1 w=$2 h=$3
  shift 3
  tui_start "$n" "$w" "$h" "env XDG_RUNTIME_DIR=$T_TMP LANG=C.UTF-8 LC_ALL=C.UTF-8 TERM=screen $CPTOP --job uct $* 2>$T_TMP/$n.err"
}
run_cptop wide 160 50
run_cptop narrow 80 24 --ascii

# ---------------------------------------------------------------- unaligned
# wide: TRIGGER, TYPE, ..., SIZE, PERSISTED, ACKS
tui_expect "the history's TYPE column says unaligned, with the bytes persisted in flight" 30 wide \
  '^ +ID STATUS +TRIGGER +TYPE +TIME +DURATION +SIZE +PERSISTED +ACKS REASON' \
  '^ +[0-9]+ completed periodic unaligned [0-9:]{8} +[0-9.]+(us|ms|s) +[0-9.]+ (B|KiB|MiB) +[0-9.]+ (B|KiB|MiB) +8/8'
tui_expect "narrow and --ascii: the TYPE column too" 10 narrow \
  '^ +ID STATUS +TYPE +TIME +DURATION +SIZE +ACKS REASON' \
  '^ +[0-9]+ completed unaligned [0-9:]{8} '

# the detail of the newest finished checkpoint (g: the selection follows its
# checkpoint, which may be old by now)
tui_keys wide Tab
tui_keys wide g
tui_keys wide Enter
tui_expect "the detail's header: unaligned, and what it persisted" 10 wide \
  '^─ Checkpoint #[0-9]+ (completed|failed) periodic unaligned [0-9:.]{12}, .*, [0-9.]+ (B|KiB|MiB) persisted, ' \
  '» went unaligned' \
  '^OPERATOR +SUB +DELAY +ALIGN +SYNC +ASYNC +ACK +SIZE +PERSISTED +UNALIGNED +0 timeline'
tui_expect "each subtask: its persisted bytes, the glyph and when it went unaligned" 3 wide \
  '^sink +[ *!]* *[01] .* [0-9.]+ (B|KiB|MiB) +» \+[0-9.]+(us|ms|s)  .*»'
tui_keys narrow Tab
tui_keys narrow g
tui_keys narrow Enter
tui_expect "--ascii: the fallback glyph" 10 narrow \
  '^- Checkpoint #[0-9]+ (completed|failed) periodic unaligned ' \
  '^OPERATOR +SUB +DELAY +ALIGN +SYNC +ASYNC +ACK +PERSISTED +UNALIGNED$' \
  '^sink .* > \+[0-9.]+(us|ms|s)$'
tui_keys wide Escape
tui_keys wide s
tui_expect "the summary counts them and what they persisted" 10 wide \
  '^  persisted in flight +[0-9.]+ (B|KiB|MiB) ' \
  '^  checkpoint types +[0-9]+ aligned, [1-9][0-9]* unaligned, [0-9]+ switched; persisted [0-9.]+ (B|KiB|MiB) in all, avg [0-9.]+ (B|KiB|MiB) per'
tui_keys wide Escape

once_unaligned() { timeout 10 "$CPTOP" --job uct --once | grep -Eq '^ +[0-9]+ completed periodic unaligned +[0-9.]+(us|ms|s) +[0-9]+ B +[1-9][0-9]* B persisted  8/8 acks'; }
check "--once prints the type and the persisted bytes" once_unaligned

# ---------------------------------------------------------------- switched
check "ctl set the aligned-checkpoint-timeout to 50 ms" \
  ctl set execution.checkpointing.aligned-checkpoint-timeout 50ms
tui_expect "checkpoints start aligned and switch: switched in the history" 30 wide \
  '^ +[0-9]+ completed periodic switched +[0-9:]{8} '
tui_expect "the switch in the event log" 10 wide \
  '[0-9:.]{12} switched_to_unaligned cp [0-9]+ [a-z]+#[01] after [0-9.]+(us|ms|s) aligning \(timeout 50ms\)'
switch_json() { grep -q '"type":"switched_to_unaligned"' events.jsonl; }
check "--json passes the switched_to_unaligned event through" wait_for 10 switch_json

for n in wide narrow; do
  tui_keys "$n" q
  check "cptop ($n) quits on q" wait_for 5 tui_dead "$n"
  check "...with nothing on stderr" test ! -s "$T_TMP/$n.err"
done
if [ "$T_FAIL" -gt 0 ]; then tui_show wide; tui_show narrow; fi
t_done
