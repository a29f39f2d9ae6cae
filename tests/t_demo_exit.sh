#!/usr/bin/env bash
# How `make demo` ends (scripts/demo_lib.sh, sourced by scripts/demo.sh),
# without the whole demo: a stand-in sources the same file and runs the
# interactive demo's steps with agent_hello as the job — the dashboard
# recording the session (cptop --record, in tmux), then a verify step —
# and ends three ways: q then a verify that passes, q then one that fails
# (set -e ends the script), Ctrl-C on the dashboard. Each time the job is
# stopped, the work directory removed and the replay commands printed,
# naming a recording that the printed --json command replays; the exit
# status is the verify's, or 130 on Ctrl-C.
. "$(dirname "$0")/lib.sh"
BIN=$top/$BUILD/bin
cd "$T_TMP"
cat > demo.sh <<'SH'
set -euo pipefail
here=$1 work=$2 rec=$3 verify=$4 bin=$5
pids=()
pgdir=
. "$here/scripts/demo_lib.sh"
demo_traps
mkdir -m 700 "$work"
export XDG_RUNTIME_DIR=$work LANG=C.UTF-8 TERM=screen
"$bin/agent_hello" --job-id x --interval-ms 300 >/dev/null 2>&1 &
pids+=($!)
echo $! > "$work.job"
for _ in $(seq 100); do [ -e "$work/cptop/x.json" ] && break; sleep 0.1; done
"$bin/cptop" --job x --record "$rec" || true
echo "demo: verifying"
$verify
echo "demo: done"
SH
# run NAME VERIFY: the stand-in in a 200x50 pane (its lines unwrapped, the events shown)
run() {
  tui_start "$1" 200 50 "bash '$T_TMP/demo.sh' '$top' '$T_TMP/$1' '$T_TMP/$1.cprec' $2 '$BIN'; echo \$? > '$T_TMP/$1.rc'"
  tui_expect "$1: the dashboard records the job, a checkpoint completing (its event shown)" 15 "$1" \
    '^cptop hello \(x\)  RUNNING' '^[0-9:.]{12} cp_completed +cp [0-9]+ '
}
# ended_well NAME RC: the exit status, the job stopped, the work directory
# removed, the replay commands printed, and the printed --json command
# replays the recording
ended_well() {
  local n=$1 rc=$2 cmd
  check "$n: exit status $rc" wait_for 10 grep -qx "$rc" "$n.rc"
  check "$n: the job was stopped and the work directory removed" \
    bash -c "! kill -0 $(cat "$n.job" 2>/dev/null || echo 0) 2>/dev/null && ! test -e '$T_TMP/$n'"
  tm capture-pane -p -t "$n" -S -100 >"$n.screen"
  check "$n: the replay commands are printed, once" \
    bash -c "test \$(grep -c '^demo: the session is recorded in $T_TMP/$n.cprec; replay it with$' $n.screen) = 1 &&
             grep -q '^    build/bin/cptop --replay $T_TMP/$n.cprec  ' $n.screen"
  # the --json one, without its pager
  cmd=$(sed -nE 's/^    (build\/bin\/cptop --replay .* --json) \| less +#.*/\1/p' "$n.screen" | head -1)
  (cd "$top" && ${cmd/build/$BUILD}) >"$n.jsonl" 2>&1
  check "$n: the printed --json command replays the session's checkpoints" \
    bash -c "test -n '$cmd' && grep -q '\"type\":\"state\"' $n.jsonl && grep -q '\"type\":\"cp_completed\"' $n.jsonl"
}

run pass true
tui_keys pass q
ended_well pass 0
check "pass: verify ran, the demo said done" grep -q '^demo: done$' pass.screen

run failv false
tui_keys failv q
ended_well failv 1
check "failv: the failed verify ended it (no 'done'), saying so" \
  bash -c "grep -q '^demo: verifying$' failv.screen && ! grep -q '^demo: done$' failv.screen &&
           grep -q '^demo: stopped (exit status 1)$' failv.screen"

run intr true
tui_keys intr C-c
ended_well intr 130
check "intr: Ctrl-C ended it before the verify step" \
  bash -c "! grep -q '^demo: verifying$' intr.screen && grep -q '^demo: stopped (exit status 130)$' intr.screen"
t_done
