#!/usr/bin/env bash
# The interactive dashboard end to end: cptop runs in a private tmux server
# against a running `cpdemo run`, keys are sent with send-keys and the screen
# is read back with capture-pane. Trigger, a stalled barrier that expires, an
# abort of a checkpoint held in flight, settings, resizing, help, summary,
# detail, the event filter and quitting.
. "$(dirname "$0")/lib.sh"
export XDG_RUNTIME_DIR=$T_TMP
CPDEMO=$top/$BUILD/bin/cpdemo
CPTOP=$top/$BUILD/bin/cptop
export LC_ALL=C.UTF-8 # ${#line} counts characters, not bytes
cd "$T_TMP" && mkdir -p var

# the screen helpers (tui_*) are in lib.sh; this script's one pane is "cpt"
cap() { tui_cap cpt; }
keys() { tui_keys cpt "$@"; }
text() { tui_text cpt "$1"; }
expect() { local n=$1 sec=$2; shift 2; tui_expect "$n" "$sec" cpt "$@"; }
# on the last capture: the first match of a sed -E pattern's group
screen_val() { sed -nE "s/$1/\\1/p" "$SCREEN" | head -1; }
history_rows() { grep -E '^ +[0-9]+ (completed|failed|in_progress) ' "$SCREEN"; }
# the newest history row is a completed checkpoint newer than $1
newest_completed_after() {
  cap
  history_rows | head -1 | awk -v n="$1" '$2 == "completed" && $1 + 0 > n { f = 1 } END { exit !f }'
}
# the widest line of the last capture, in characters
max_width() { local l w=0; while IFS= read -r l; do ((${#l} > w)) && w=${#l}; done < "$SCREEN"; echo "$w"; }

# ---------------------------------------------------------------- 1. the job
bg "$CPDEMO" kafka --partitions 4 --bootstrap-file var/kafka.bootstrap
wait_for 10 test -s var/kafka.bootstrap || fail "cpdemo kafka did not start"
bg "$CPDEMO" produce --bootstrap-file var/kafka.bootstrap --rate 2000 --seed 7 --delivery-timeout 10
cat > tui.json <<'JSON'
{ "pipeline.name": "tui", "parallelism.default": 2,
  "source.kafka.bootstrap-file": "var/kafka.bootstrap", "sink.url": "sqlite:var/tui.db",
  "execution.checkpointing.interval": "1s", "execution.checkpointing.timeout": "6s",
  "execution.checkpointing.tolerable-failed-checkpoints": 5,
  "execution.checkpointing.storage": "var/chk" }
JSON
bg "$CPDEMO" run --config tui.json
check "the job starts and announces itself" wait_for 15 test -e "$T_TMP/cptop/tui.json"

# ---------------------------------------------------------------- 2. cptop in tmux
# A wrapper records cptop's pid (sh execs it) and, once it ends, its exit status.
cat > run-cptop.sh <<SH
export XDG_RUNTIME_DIR='$T_TMP' LANG=C.UTF-8 LC_ALL=C.UTF-8 TERM=screen
sh -c 'echo \$\$ > "\$1"; exec "\$2"' sh '$T_TMP/cptop.pid' '$CPTOP' 2> '$T_TMP/cptop.err'
echo \$? > '$T_TMP/cptop.rc'
SH
tui_start cpt 120 40 "sh '$T_TMP/run-cptop.sh'"
wait_for 5 test -s cptop.pid
cptop_pid=$(cat cptop.pid 2>/dev/null)
check "cptop runs in the pane" test -n "$cptop_pid" -a -d "/proc/$cptop_pid"
if ! expect "the header names the job, RUNNING and a live link; History has completed checkpoints" 20 \
  '^cptop tui  RUNNING  up [0-9.]+(us|ms|s)  pid [0-9]+ +● live [0-9]+ ev/s' \
  '^EXACTLY_ONCE  every 1s  timeout 6s  failures 0/5 tolerated' \
  '^ +[0-9]+ completed periodic aligned +[0-9:]{8} +[0-9.]+(us|ms|s) +[0-9.]+ (B|KiB|MiB) +8/8 committed$'; then
  echo "    cptop stderr:"; sed 's/^/    | /' cptop.err
fi
check "the footer lists the keys (120 columns: all of them)" \
  grep -qxE '\? help  q quit  t trigger  a abort  f fail  c config  Enter detail  s summary  e events  / filter  Tab pane' "$SCREEN"

# ---------------------------------------------------------------- 3. trigger
keys t
expect "t: the status line says the trigger was accepted" 5 '^trigger: ok, (checkpoint [0-9]+ triggered|queued)'
manual=$(screen_val '^trigger: ok, checkpoint ([0-9]+) triggered.*')
expect "t: a manual checkpoint${manual:+ (#$manual)} completes in History" 10 \
  "^ +${manual:-[0-9]+} completed manual   aligned +[0-9:]{8} .* 8/8 committed$"

# ---------------------------------------------------------------- 4. a stall that expires
keys f
expect "f: the failure menu is the job's own table" 3 '─ Inject a failure ─' '│ [1-9]  stall +'
stall_key=$(tui_menu_key cpt stall)
keys "${stall_key:-2}"
expect "stall: choose an operator" 3 '─ stall: which operator\? ─' '│ parse +2 subtasks +│'
keys j Enter
expect "the operator chosen: the subtask prompt, prefilled 0" 3 \
  '─ stall: which subtask of parse\? ─' '│ subtask \(0\.\.1\): 0_ +│'
keys Enter
expect "the ms prompt holds the table's default and range" 3 '─ stall at parse#0 ─' \
  '│ ms=[0-9]+_  \(1\.\.[0-9]+ ms\) +│'
text 8000
expect "the first digit replaces the default" 3 '│ ms=8000_  \('
keys Enter
expect "the job accepts the stall" 5 '^fail stall: ok, .*8000 ms.*parse#0'
expect "In flight: a checkpoint waits on parse#0, the bar counting towards 6s" 8 \
  '^▶ #[0-9]+ +periodic [█░]+ [0-9.]+s/6s +[0-9]/8 acked  waiting on parse#0 \(barrier held [0-9.]+s\)'
stalled=$(screen_val '^▶ #([0-9]+) .*waiting on parse#0.*')
expect "History: #$stalled failed, EXPIRED after the 6 s timeout" 10 \
  "^ +$stalled failed    periodic aligned +[0-9:]{8} +6\\.[0-9]s .* [0-9]/8 EXPIRED: Checkpoint expired before completing\\.$" \
  '^[0-9]+ triggered  [01] in progress  [0-9]+ completed  1 failed  0 restored'
# the stall ends 2 s after the expiry: a checkpoint completes again
check "checkpoints complete again after the stall" wait_for 10 newest_completed_after "$stalled"

# ---------------------------------------------------------------- 5. abort a checkpoint held in flight
keys f "${stall_key:-2}" Enter Enter
expect "stall source#0: the ms prompt" 3 '─ stall at source#0 ─' '│ ms=[0-9]+_  \('
text 5000
expect "the first digit replaces the proposed value" 3 '│ ms=5000_  \('
keys Enter
expect "the job accepts the stall at source#0" 5 '^fail stall: ok, .*5000 ms.*source#0'
# held for over a second: the stalled one (the stall lasts 5 s, the timeout is 6 s)
expect "In flight: a checkpoint held at source#0" 8 \
  '^▶ #[0-9]+ +periodic .* waiting on source#0 \(barrier held [0-9.]+s\)'
held=$(screen_val '^▶ #([0-9]+) .*waiting on source#0.*')
keys a
expect "a: asks to confirm the abort of #$held" 3 "│ Abort checkpoint #$held\\?  y: abort   any other key: keep it +│"
keys y
expect "y: the status line says it was aborted" 5 "^abort $held: ok, checkpoint $held aborted$"
expect "History: #$held failed, aborted by the user" 5 \
  "^ +$held failed    periodic aligned +[0-9:]{8} .* [0-9]/8 ABORTED_BY_USER: aborted by the user$" \
  '^[0-9]+ triggered  [01] in progress  [0-9]+ completed  2 failed  0 restored'

# ---------------------------------------------------------------- settings
keys c
expect "c: the settings box shows the job's values" 3 '─ Checkpoint settings \(changed at run time\) ─' \
  '│ interval +1 s +│' '│ timeout +6 s +│' '│ tolerable failed checkpoints +5 +│'
keys Enter
text 2s
expect "Enter edits the interval; the first key replaces it" 3 '│ interval +2s_ +│'
keys Enter
expect "Enter sends it: the job takes the new interval" 5 \
  '^set_config: ok, interval 2 s, timeout 6 s, tolerable failures 5, aligned checkpoints$' '^EXACTLY_ONCE  every 2s  timeout 6s '

# ---------------------------------------------------------------- 6. resize
tm resize-window -t cpt -x 80 -y 24
expect "resized to 80x24: the footer keeps the keys that fit" 5 \
  '^\? help  q quit  t trigger  a abort  f fail  c config  Enter detail  s summary$'
check "80 columns: no line is wider" test "$(max_width)" -eq 80
check "80 columns: the rules span the width" \
  bash -c "grep -E '^─ (In flight|History) ' '$SCREEN' | while IFS= read -r l; do [ \${#l} -eq 80 ] || exit 1; done"
check "24 rows: no events pane" bash -c "test \$(wc -l < '$SCREEN') -eq 24 && ! grep -q '─ Events (' '$SCREEN'"
check "80 columns: the aborted row keeps its reason, without the message" \
  bash -c "grep -E '^ +$held failed ' '$SCREEN' | grep -q ABORTED && ! grep -q 'aborted by the user' '$SCREEN'"
tm resize-window -t cpt -x 120 -y 40
expect "back to 120x40: the full footer, the events pane and the long reason" 5 \
  'e events  / filter  Tab pane$' '^─ Events \([0-9]+ kept' \
  "^ +$held failed .* ABORTED_BY_USER: aborted by the user$"
check "120 columns: no line is wider" test "$(max_width)" -eq 120

# ---------------------------------------------------------------- 7. help, summary, detail, events
keys '?'
expect "?: the help overlay" 3 '─ Keys ─' '│ t +trigger a checkpoint now +│' '│ any key closes this +│'
keys x
expect "any key closes it" 3 '^─ History \(' '^\? help  q quit'
check "the help box is gone" bash -c "! grep -q 'any key closes this' '$SCREEN'"
keys s
expect "s: the summary with timeout advice and failures by reason" 3 \
  '^─ Summary of the [0-9]+ retained checkpoints \([0-9]+ completed, 2 failed\) ─' \
  '^  end-to-end duration ' '^  timeout advice +timeout 6s ' \
  '^ +1  CHECKPOINT_EXPIRED$' '^ +1  CHECKPOINT_ABORTED_BY_USER$'
keys Escape
expect "Esc: back to the main screen" 3 '^─ In flight \(' '^─ History \('
sleep 0.1
# the detail of the newest finished checkpoint, once it is a completed one
check "the newest history row is a completed checkpoint" wait_for 10 newest_completed_after 0
keys Tab
sleep 0.1
keys Enter
expect "Tab, Enter: the detail of a completed checkpoint, with its critical path" 3 \
  '^─ Checkpoint #[0-9]+ completed (periodic|manual) ' \
  '^  critical path: (source|parse|aggregate|sink)#[01] acknowledged last, at \+' \
  '^OPERATOR +SUB +DELAY +ALIGN +SYNC +ASYNC +ACK +SIZE  0 timeline'
check "the detail lists all 8 subtasks" \
  test "$(grep -cE '^(source|parse|aggregate|sink) +[*!]? +[01] +[0-9.]+(us|ms|s) ' "$SCREEN")" -eq 8
keys Escape
sleep 0.1
keys e
expect "e: the event log, full screen" 3 '^─ Events \([0-9]+ kept, [0-9]+ dropped\) ─'
keys /
text cp_failed
keys Enter
expect "/: the filter keeps the two failed checkpoints" 3 '^─ Events \([0-9]+ kept, [0-9]+ dropped\)  filter "cp_failed" ─' \
  "cp_failed +cp $stalled CHECKPOINT_EXPIRED: Checkpoint expired before completing\\.$" \
  "cp_failed +cp $held CHECKPOINT_ABORTED_BY_USER: aborted by the user$"
check "only the matching events are shown" \
  test "$(grep -cE '^[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3} ' "$SCREEN")" -eq 2
keys Escape
sleep 0.1

# ---------------------------------------------------------------- 8. quit
keys q
check "q: cptop exits with status 0" wait_for 5 grep -qx 0 cptop.rc
check "its process is gone" test ! -e "/proc/$cptop_pid"
check "the pane's command has ended" wait_for 3 tui_dead cpt
check "cptop wrote nothing to stderr (no sanitizer report)" test ! -s cptop.err
[ -s cptop.err ] && sed 's/^/    | /' cptop.err | head -40
t_done
