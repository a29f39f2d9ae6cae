#!/usr/bin/env bash
# The dashboard's link to jobs, driven through tmux: the job picker when
# several run, a job that goes away (shown disconnected, history kept) and
# comes back (reconnected, resynced), --read-only, and --connect over TCP
# with the shared secret. Jobs are the agent_hello example.
. "$(dirname "$0")/lib.sh"
export XDG_RUNTIME_DIR=$T_TMP
HELLO=$top/$BUILD/bin/agent_hello
CPTOP=$top/$BUILD/bin/cptop
SOCK=$T_TMP/tmux.sock
tmx() { tmux -S "$SOCK" "$@"; }
cleanup_tui() { tmx kill-server 2>/dev/null; t_cleanup; }
trap cleanup_tui EXIT
screen() { tmx capture-pane -p -t "$1"; }
# wait_screen SECONDS PANE REGEX: until the pane shows REGEX
wait_screen() {
  local s=$1 pane=$2 re=$3 i
  for ((i = 0; i < s * 10; i++)); do
    screen "$pane" 2>/dev/null | grep -Eq -- "$re" && return 0
    sleep 0.1
  done
  echo "--- pane $pane never showed /$re/; last screen:"; screen "$pane" 2>/dev/null
  return 1
}
# start_cptop NAME ARGS...: cptop in its own 100x30 window, pid in $T_TMP/NAME.pid
start_cptop() {
  local name=$1; shift
  tmx new-session -d -s "$name" -x 100 -y 30 \
    "env XDG_RUNTIME_DIR=$T_TMP LANG=C.UTF-8 TERM=screen sh -c 'echo \$\$ > $T_TMP/$name.pid; exec $CPTOP $* 2>$T_TMP/$name.err'"
  tmx set-option -t "$name" remain-on-exit on >/dev/null
}
# the pane's process has exited (kept on screen by remain-on-exit)
pane_dead() { [ "$(tmx display-message -p -t "$1" '#{pane_dead}')" = 1 ]; }
hello_pid() { cat "$T_TMP/$1.hpid"; }
start_hello() { # ID [ARGS]
  local id=$1; shift
  "$HELLO" --job-id "$id" --interval-ms 300 "$@" >>"$T_TMP/$id.log" 2>&1 &
  T_PIDS+=($!)
  echo $! > "$T_TMP/$id.hpid"
}

start_hello alpha
start_hello beta
wait_for 10 test -S "$T_TMP/cptop/beta.cmd" || fail "agent_hello did not start"
wait_for 10 test -S "$T_TMP/cptop/alpha.cmd" || fail "agent_hello did not start"

start_cptop pick
check "two jobs: the picker lists both" wait_screen 10 pick "Several jobs are running"
check "the picker names alpha and beta" sh -c "tmux -S '$SOCK' capture-pane -p -t pick | grep -q alpha && tmux -S '$SOCK' capture-pane -p -t pick | grep -q beta"
# choose beta, whichever row it is on
row=$(screen pick | grep -E '│ +(alpha|beta) ' | grep -n beta | cut -d: -f1)
for ((i = 1; i < row; i++)); do tmx send-keys -t pick j; done
tmx send-keys -t pick Enter
check "choosing beta watches beta" wait_screen 10 pick "^cptop hello \(beta\)"
check "beta's checkpoints complete on screen" wait_screen 10 pick " completed +periodic"

# the job goes away: disconnected, history kept
before=$(screen pick | grep -Eo '[0-9]+ completed' | head -1 | cut -d' ' -f1)
kill "$(hello_pid beta)"
check "a job that goes away is shown disconnected" wait_screen 10 pick "DISCONNECTED"
check "its history stays on screen" sh -c "tmux -S '$SOCK' capture-pane -p -t pick | grep -Eq ' completed +periodic'"
# ... and comes back (a new process, the same job id): reconnected and resynced
start_hello beta
newpid=$(hello_pid beta)
check "the job coming back is reconnected" wait_screen 15 pick "pid $newpid .*live"
check "history from before the restart is kept (History rows >= $before)" \
  sh -c "n=\$(tmux -S '$SOCK' capture-pane -p -t pick | grep -Eo 'History \([0-9]+\)' | grep -Eo '[0-9]+'); [ \"\$n\" -ge '$before' ]"
# the event log, filtered to cptop's own notes: both attachments are there
tmx send-keys -t pick e /; tmx send-keys -t pick -l cptop; tmx send-keys -t pick Enter
check "the event log notes the job going away and coming back" \
  wait_screen 5 pick "(no message from the job|nothing received from) .* disconnected"
check "... and its return" sh -c "tmux -S '$SOCK' capture-pane -p -t pick | grep -Eq 'cptop: (job is back|job process restarted|watching beta)' && [ \$(tmux -S '$SOCK' capture-pane -p -t pick | grep -Ec 'cptop: (job is back|job process restarted|watching beta)') -ge 2 ]"
tmx send-keys -t pick Escape Escape
# a refused command's reason reaches the status line
tmx send-keys -t pick t
check "trigger: the job's reply in the status line" wait_screen 10 pick "trigger: ok, checkpoint will be triggered now"
check "a manual checkpoint completes" wait_screen 10 pick " completed +manual"
tmx send-keys -t pick q
check "q quits" wait_for 5 pane_dead pick

# --read-only: no actions
start_cptop ro --read-only --job alpha
check "read-only: shown in the footer" wait_screen 10 ro "read-only"
tmx send-keys -t ro t
check "read-only: t is refused" wait_screen 5 ro "read-only: actions are disabled"
tmx send-keys -t ro f
check "read-only: no failure menu" sh -c "sleep 0.3; ! tmux -S '$SOCK' capture-pane -p -t ro | grep -q 'Inject a failure'"
tmx send-keys -t ro q

# --connect over TCP with the secret
# a port whose neighbour (the agent's command port) is free too
port=$(python3 - <<'PY' 2>/dev/null || echo 0
import socket
for _ in range(100):
    a = socket.socket(); a.bind(("127.0.0.1", 0)); p = a.getsockname()[1]
    b = socket.socket()
    try:
        b.bind(("127.0.0.1", p + 1))
    except OSError:
        a.close(); continue
    a.close(); b.close(); print(p); break
PY
)
if [ "$port" -gt 0 ]; then
  rt=$T_TMP/tcp; mkdir -m 700 "$rt"
  XDG_RUNTIME_DIR=$rt start_hello gamma --listen "tcp://127.0.0.1:$port"
  wait_for 10 test -e "$rt/cptop/secret" || fail "tcp agent_hello did not start"
  start_cptop tcp --connect "tcp://127.0.0.1:$port" --secret-file "$rt/cptop/secret"
  check "--connect: the job over TCP" wait_screen 10 tcp "^cptop hello \(gamma\).*live"
  tmx send-keys -t tcp t
  check "--connect: a signed trigger is accepted" wait_screen 10 tcp "trigger: ok"
  tmx send-keys -t tcp q
  start_cptop tcpbad --connect "tcp://127.0.0.1:$port"
  wait_screen 10 tcpbad "live" >/dev/null
  tmx send-keys -t tcpbad t
  check "--connect without the secret: refused, and said why" wait_screen 10 tcpbad "trigger refused \(auth\)"
  tmx send-keys -t tcpbad q
else
  fail "no free port for the TCP case"
fi
# every dashboard above has quit; none complained (sanitizer builds report here)
for p in pick ro tcp tcpbad; do wait_for 5 pane_dead "$p" || tmx send-keys -t "$p" q; done
sleep 0.5
check "no dashboard wrote an error (sanitizers, leaks)" \
  sh -c "! grep -l -E 'ERROR|runtime error|LeakSanitizer|cptop:' $T_TMP/*.err"
t_done
