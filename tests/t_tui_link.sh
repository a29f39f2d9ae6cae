#!/usr/bin/env bash
# The dashboard's link to jobs, driven through tmux: the job picker when
# several run, a job that goes away (shown disconnected, history kept) and
# comes back (reconnected, resynced), --read-only, and --connect over TCP
# with the shared secret. Jobs are the agent_hello example.
. "$(dirname "$0")/lib.sh"
export XDG_RUNTIME_DIR=$T_TMP
HELLO=$top/$BUILD/bin/agent_hello
CPTOP=$top/$BUILD/bin/cptop
screen() { tui_cap "$1"; cat "$SCREEN"; }
# wait_screen SECONDS PANE REGEX: until the pane shows REGEX
wait_screen() { tui_wait "$1" "$2" "$3" || { tui_show "$2"; return 1; }; }
# start_cptop NAME ARGS...: cptop in its own 100x30 window, pid in $T_TMP/NAME.pid
start_cptop() {
  local name=$1; shift
  tui_start "$name" 100 30 \
    "env XDG_RUNTIME_DIR=$T_TMP LANG=C.UTF-8 TERM=screen sh -c 'echo \$\$ > $T_TMP/$name.pid; exec $CPTOP $* 2>$T_TMP/$name.err'"
}
hello_pid() { cat "$T_TMP/$1.hpid"; }
start_hello() { # ID [ARGS]
  local id=$1; shift
  "$HELLO" --job-id "$id" --interval-ms 300 "$@" >>"$T_TMP/$id.log" 2>&1 &
  T_PIDS+=($!)
  echo $! > "$T_TMP/$id.hpid"
}

start_hello alpha
start_hello beta
wait_for 10 test -e "$T_TMP/cptop/beta.json" || fail "agent_hello did not start"
wait_for 10 test -e "$T_TMP/cptop/alpha.json" || fail "agent_hello did not start"

start_cptop pick
check "two jobs: the picker lists both" wait_screen 10 pick "Several jobs are running"
check "the picker names alpha and beta" sh -c "tmux -S '$T_TMUX' capture-pane -p -t pick | grep -q alpha && tmux -S '$T_TMUX' capture-pane -p -t pick | grep -q beta"
# choose beta, whichever row it is on
row=$(screen pick | grep -E '│ +(alpha|beta) ' | grep -n beta | cut -d: -f1)
for ((i = 1; i < row; i++)); do tui_keys pick j; done
tui_keys pick Enter
check "choosing beta watches beta" wait_screen 10 pick "^cptop hello \(beta\)"
check "beta's checkpoints complete on screen" wait_screen 10 pick " completed +periodic"
# the f menu is the job's own table: agent_hello declares slow-upload
tui_keys pick f
check "f: agent_hello's own failure kind is offered" \
  wait_screen 5 pick "│ 1  slow-upload +slow the next snapshot upload at one subtask"
tui_keys pick 1 Enter
check "slow-upload targets a subtask: its subtask prompt" wait_screen 5 pick "subtask \(0\.\.1\): 0_"
tui_keys pick 1 Enter
check "its ms parameter proposes the table's default (800) and range" \
  wait_screen 5 pick "│ ms=800_  \(1\.\.10000 ms\)"
tui_keys pick Enter
check "the job takes it" wait_screen 10 pick "fail slow-upload: ok, the next upload at source#1 takes 800 ms longer"

# the job goes away: disconnected, history kept
before=$(screen pick | grep -Eo '[0-9]+ completed' | head -1 | cut -d' ' -f1)
kill "$(hello_pid beta)"
check "a job that goes away is shown disconnected" wait_screen 10 pick "DISCONNECTED"
check "its history stays on screen" sh -c "tmux -S '$T_TMUX' capture-pane -p -t pick | grep -Eq ' completed +periodic'"
# ... and comes back (a new process, the same job id): reconnected and resynced
start_hello beta
newpid=$(hello_pid beta)
check "the job coming back is reconnected" wait_screen 15 pick "pid $newpid .*live"
check "history from before the restart is kept (History rows >= $before)" \
  sh -c "n=\$(tmux -S '$T_TMUX' capture-pane -p -t pick | grep -Eo 'History \([0-9]+\)' | grep -Eo '[0-9]+'); [ \"\$n\" -ge '$before' ]"
# the event log, filtered to cptop's own notes: both attachments are there
tui_keys pick e /; tui_keys pick -l cptop; tui_keys pick Enter
check "the event log notes the job going away and coming back" \
  wait_screen 5 pick "(no message from the job|nothing received from) .* disconnected"
check "... and its return" sh -c "tmux -S '$T_TMUX' capture-pane -p -t pick | grep -Eq 'cptop: (job is back|job process restarted|watching beta)' && [ \$(tmux -S '$T_TMUX' capture-pane -p -t pick | grep -Ec 'cptop: (job is back|job process restarted|watching beta)') -ge 2 ]"
tui_keys pick Escape Escape
# a refused command's reason reaches the status line
tui_keys pick t
check "trigger: the job's reply in the status line" wait_screen 10 pick "trigger: ok, checkpoint will be triggered now"
check "a manual checkpoint completes" wait_screen 10 pick " completed +manual"
tui_keys pick q
check "q quits" wait_for 5 tui_dead pick

# --read-only: no actions
start_cptop ro --read-only --job alpha
check "read-only: shown in the footer" wait_screen 10 ro "read-only"
tui_keys ro t
check "read-only: t is refused" wait_screen 5 ro "read-only: actions are disabled"
tui_keys ro f
check "read-only: no failure menu" sh -c "sleep 0.3; ! tmux -S '$T_TMUX' capture-pane -p -t ro | grep -q 'Inject a failure'"
tui_keys ro q

# --connect over TCP with the secret
port=$(free_port_pair || echo 0)
if [ "$port" -gt 0 ]; then
  rt=$T_TMP/tcp; mkdir -m 700 "$rt"
  XDG_RUNTIME_DIR=$rt start_hello gamma --listen "tcp://127.0.0.1:$port"
  wait_for 10 test -e "$rt/cptop/secret" || fail "tcp agent_hello did not start"
  start_cptop tcp --connect "tcp://127.0.0.1:$port" --secret-file "$rt/cptop/secret"
  check "--connect: the job over TCP" wait_screen 10 tcp "^cptop hello \(gamma\).*live"
  tui_keys tcp t
  check "--connect: a signed trigger is accepted" wait_screen 10 tcp "trigger: ok"
  tui_keys tcp q
  start_cptop tcpbad --connect "tcp://127.0.0.1:$port"
  wait_screen 10 tcpbad "live" >/dev/null
  tui_keys tcpbad t
  check "--connect without the secret: refused, and said why" wait_screen 10 tcpbad "trigger refused \(auth\)"
  tui_keys tcpbad q
else
  fail "no free port for the TCP case"
fi
# every dashboard above has quit; none complained (sanitizer builds report here)
for p in pick ro tcp tcpbad; do wait_for 5 tui_dead "$p" || tui_keys "$p" q; done
sleep 0.5
check "no dashboard wrote an error (sanitizers, leaks)" \
  sh -c "! grep -l -E 'ERROR|runtime error|LeakSanitizer|cptop:' $T_TMP/*.err"
t_done
