#!/usr/bin/env bash
# The transport under attack (PROTOCOL.md §1). First the reproductions from
# issue 8: a peer claiming SUB that sends 8 bytes on a tcp job's event port,
# a malformed ipc frame on a job's command and event sockets, the same frame
# from a job's publisher to cptop. Then cpspfuzz: random and mutated SP
# sessions at every endpoint of two jobs (ipc and tcp), and a fake job that
# is a hostile publisher and command server to three dashboards (cptop in
# tmux over ipc, cptop --json over tcp, cptop --once). Throughout, the jobs
# keep checkpointing (well-behaved subscribers see checkpoints complete) and
# answer commands; afterwards the dashboards still connect, decode and draw;
# nothing crashed and no sanitizer wrote a report.
# TRANSPORT_FUZZ_SECONDS (default 20) bounds the fuzzing; make fuzz raises it.
. "$(dirname "$0")/lib.sh"
export XDG_RUNTIME_DIR=$T_TMP
HELLO=$top/$BUILD/bin/agent_hello
CPTOP=$top/$BUILD/bin/cptop
FUZZ=$top/$BUILD/tests/cpspfuzz
SECS=${TRANSPORT_FUZZ_SECONDS:-20}
SOCK=$T_TMP/tmux.sock
tmx() { tmux -S "$SOCK" "$@"; }
cleanup_tui() {
  tmx kill-server 2>/dev/null
  [ -n "${T_KEEP:-}" ] && rm -rf /tmp/t_transport.kept && cp -r "$T_TMP" /tmp/t_transport.kept
  t_cleanup
}
trap cleanup_tui EXIT

# two free ports in a row (a job's events on P, its commands on P+1)
port_pair() {
  python3 - <<'PY'
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
}
completions() { cat "$1" 2>/dev/null | grep -c '"type":"cp_completed"'; }
more() { [ "$(completions "$1")" -gt "$2" ]; }
# grows FILE SECONDS: another checkpoint completes in FILE within SECONDS
grows() { wait_for "$2" more "$1" "$(completions "$1")"; }
alive() { kill -0 "$1" 2>/dev/null; }
# answered RTDIR JOB: a trigger command gets the job's reply (ok, or refused
# because the attack's own triggers keep it busy)
answered() {
  timeout 10 "$CPTOP" --runtime-dir "$1/cptop" --job "$2" ctl trigger >"$T_TMP/ctl.out" 2>&1
  local rc=$?
  { echo "$2: rc $rc"; cat "$T_TMP/ctl.out"; } >>"$T_TMP/ctl.log"
  grep -Eq '^(ok|refused)' "$T_TMP/ctl.out"
}
screen() { tmx capture-pane -p -t "$1"; }
wait_screen() {
  local s=$1 pane=$2 re=$3 i
  for ((i = 0; i < s * 10; i++)); do
    screen "$pane" 2>/dev/null | grep -Eq -- "$re" && return 0
    sleep 0.1
  done
  echo "--- pane $pane never showed /$re/; last screen:"; screen "$pane" 2>/dev/null
  return 1
}
pane_dead() { [ "$(tmx display-message -p -t "$1" '#{pane_dead}')" = 1 ]; }
no_reports() { ! grep -l -E 'Sanitizer|runtime error:|Assertion|panic' "$@"; }
# quits_cleanly PANE: q ends the dashboard with status 0 (terminal restored);
# the pane's command writes cptop's status to $T_TMP/PANE.rc
quits_cleanly() {
  screen "$1" >"$T_TMP/$1.before-q"
  tmx send-keys -t "$1" q
  wait_for 5 pane_dead "$1" && [ "$(cat "$T_TMP/$1.rc")" = 0 ] && return
  screen "$1" | grep -v '^ *$' | head -5
  echo "pane $1: dead $(tmx display-message -p -t "$1" '#{pane_dead}'), cptop's status: $(cat "$T_TMP/$1.rc")"
  return 1
}
both_grow() { grows "$1" 10 && grows "$2" 10; }
fds() { ls "/proc/$1/fd" | wc -l; }
# stops PID: SIGTERM ends it within 10 s with status 0
stops() {
  kill "$1" || return 1
  local i; for ((i = 0; i < 100; i++)); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  wait "$1"
}

# ---------------------------------------------------------------- the jobs
P=$(port_pair)
[ -n "$P" ] || { fail "no free port pair"; t_done; exit 1; }
mkdir -m 700 "$T_TMP/tcp"
"$HELLO" --job-id ipcjob --interval-ms 200 >"$T_TMP/ipcjob.log" 2>&1 &
IPCJOB=$!; T_PIDS+=($IPCJOB)
XDG_RUNTIME_DIR=$T_TMP/tcp "$HELLO" --job-id tcpjob --interval-ms 200 \
  --listen "tcp://127.0.0.1:$P" >"$T_TMP/tcpjob.log" 2>&1 &
TCPJOB=$!; T_PIDS+=($TCPJOB)
RT=$T_TMP/cptop
wait_for 10 test -S "$RT/ipcjob.cmd" || fail "the ipc job did not start"
wait_for 10 test -e "$T_TMP/tcp/cptop/tcpjob.json" || fail "the tcp job did not start"
# well-behaved subscribers, one per job
"$CPTOP" --job ipcjob --json >"$T_TMP/ipc.jsonl" 2>"$T_TMP/json-ipc.err" &
T_PIDS+=($!)
"$CPTOP" --connect "tcp://127.0.0.1:$P" --json >"$T_TMP/tcp.jsonl" 2>"$T_TMP/json-tcp.err" &
T_PIDS+=($!)
check "both jobs checkpoint, seen by a subscriber each" both_grow "$T_TMP/ipc.jsonl" "$T_TMP/tcp.jsonl"

# ---------------------------------------------------------------- issue 8, item 1
python3 - "$P" <<'PY'
import socket, sys, time
P = int(sys.argv[1])
s = socket.create_connection(('127.0.0.1', P)); s.sendall(b'\0SP\0\0\x21\0\0'); s.recv(8)
s.sendall(bytes(8)); time.sleep(.5)
PY
check "item 1: a SUB sending 8 bytes on the tcp event port: the job lives" alive $TCPJOB
check "item 1: ... keeps checkpointing" grows "$T_TMP/tcp.jsonl" 10
check "item 1: ... answers commands" answered "$T_TMP/tcp" tcpjob

# ---------------------------------------------------------------- issue 8, item 2
python3 - "$RT/ipcjob.cmd" "$RT/ipcjob.events" <<'PY'
import socket, sys, time
for path, proto in ((sys.argv[1], 0x30), (sys.argv[2], 0x21)):
    s = socket.socket(socket.AF_UNIX); s.connect(path)
    s.sendall(b'\0SP\0\0' + bytes([proto]) + b'\0\0'); s.recv(8)
    s.sendall(b'\2' + bytes(7) + b'\5hello'); time.sleep(.5); s.close()
PY
check "item 2: a malformed ipc frame on .cmd and .events: the job lives" alive $IPCJOB
check "item 2: ... keeps checkpointing" grows "$T_TMP/ipc.jsonl" 10
check "item 2: ... answers commands" answered "$T_TMP" ipcjob

# the same bytes from a job's publisher, to cptop (interactive and --json)
EVIL=$T_TMP/evil/cptop
mkdir -p -m 700 "$T_TMP/evil" && mkdir -m 700 "$EVIL"
python3 - "$EVIL" <<'PY' >"$T_TMP/evil.log" 2>&1 &
import os, socket, sys, threading, time
d = sys.argv[1]
def serve(path, proto):
    l = socket.socket(socket.AF_UNIX); l.bind(path); l.listen(8)
    while True:
        c, _ = l.accept()
        try:
            c.recv(8); c.sendall(b'\0SP\0\0' + bytes([proto]) + b'\0\0')
            c.sendall(b'\2' + bytes(7) + b'\5hello'); time.sleep(.3)
        except OSError:
            pass
        c.close()
for path, proto in ((d + '/evil.events', 0x20), (d + '/evil.cmd', 0x31)):
    threading.Thread(target=serve, args=(path, proto), daemon=True).start()
time.sleep(.2)
with open(d + '/evil.json.tmp', 'w') as f:
    f.write('{"v":1,"job":"evil","name":"evil","pid":%d,"events":"ipc://%s/evil.events",'
            '"commands":"ipc://%s/evil.cmd","auth":"none","started_us":1}\n' % (os.getpid(), d, d))
os.rename(d + '/evil.json.tmp', d + '/evil.json')
time.sleep(3600)
PY
EVILPID=$!; T_PIDS+=($EVILPID)
wait_for 10 test -e "$EVIL/evil.json" || fail "the hostile publisher did not start"
"$CPTOP" --runtime-dir "$EVIL" --job evil --json >"$T_TMP/evil.jsonl" 2>"$T_TMP/json-evil.err" &
EVILJSON=$!; T_PIDS+=($EVILJSON)
tmx new-session -d -s evil -x 100 -y 30 \
  "env LANG=C.UTF-8 TERM=screen $CPTOP --runtime-dir $EVIL --job evil 2>$T_TMP/tui-evil.err; echo \$? >$T_TMP/evil.rc"
tmx set-option -t evil remain-on-exit on >/dev/null
sleep 2 # several reconnections, each met by the malformed frame
check "item 2: cptop --json fed the frame lives" alive $EVILJSON
check "item 2: the dashboard fed the frame lives and draws" wait_screen 5 evil "^cptop .*evil"
check "item 2: ... and quits cleanly (terminal restored, status 0)" quits_cleanly evil
kill $EVILJSON $EVILPID 2>/dev/null

# ---------------------------------------------------------------- fuzz the jobs
IPCFDS=$(fds $IPCJOB) TCPFDS=$(fds $TCPJOB)
"$FUZZ" attack --seconds "$SECS" "ipc://$RT/ipcjob.events" "ipc://$RT/ipcjob.cmd" \
  "tcp://127.0.0.1:$P" "tcp://127.0.0.1:$((P + 1))" >"$T_TMP/attack.log" 2>&1 &
ATTACK=$!; T_PIDS+=($ATTACK)

# ---------------------------------------------------------------- fuzz the dashboards
FAKE=$T_TMP/fake/cptop
mkdir -p -m 700 "$T_TMP/fake" && mkdir -m 700 "$FAKE"
Q=$(port_pair)
"$FUZZ" serve --seconds "$SECS" --job fake "ipc://$FAKE/fake.events" "ipc://$FAKE/fake.cmd" \
  >"$T_TMP/serve-ipc.log" 2>&1 &
SERVE=$!; T_PIDS+=($SERVE)
"$FUZZ" serve --seconds "$SECS" --job fake "tcp://127.0.0.1:$Q" "tcp://127.0.0.1:$((Q + 1))" \
  >"$T_TMP/serve-tcp.log" 2>&1 &
T_PIDS+=($!)
printf '{"v":1,"job":"fake","name":"fake","pid":%d,"events":"ipc://%s/fake.events","commands":"ipc://%s/fake.cmd","auth":"none","started_us":1}\n' \
  "$SERVE" "$FAKE" "$FAKE" >"$FAKE/fake.json"
wait_for 10 test -S "$FAKE/fake.cmd" || fail "the fake job did not start"
tmx new-session -d -s fake -x 120 -y 40 \
  "env LANG=C.UTF-8 TERM=screen $CPTOP --runtime-dir $FAKE --job fake 2>$T_TMP/tui-fake.err; echo \$? >$T_TMP/fake.rc"
tmx set-option -t fake remain-on-exit on >/dev/null
"$CPTOP" --connect "tcp://127.0.0.1:$Q" --json >"$T_TMP/fake-tcp.jsonl" 2>"$T_TMP/json-fake.err" &
FAKEJSON=$!; T_PIDS+=($FAKEJSON)

# while they run: the jobs checkpoint and answer; --once against the hostile job ends
rounds=0 bad=""
while alive $ATTACK; do
  rounds=$((rounds + 1))
  grows "$T_TMP/ipc.jsonl" 10 || bad="$bad ipc-stalled@$rounds"
  grows "$T_TMP/tcp.jsonl" 10 || bad="$bad tcp-stalled@$rounds"
  answered "$T_TMP" ipcjob || bad="$bad ipc-unanswered@$rounds"
  answered "$T_TMP/tcp" tcpjob || bad="$bad tcp-unanswered@$rounds"
  timeout 15 "$CPTOP" --runtime-dir "$FAKE" --job fake --once >/dev/null 2>>"$T_TMP/once.err"
  rc=$?; [ $rc -lt 124 ] || bad="$bad once-rc$rc@$rounds"
  sleep 1
done
wait $ATTACK; arc=$?
check "the attack ran ($(tail -1 "$T_TMP/attack.log"))" test $arc -eq 0
check "under attack, for $rounds rounds, both jobs kept checkpointing and answering${bad:+:$bad}" \
  test -z "$bad" -a $rounds -gt 0
check "both jobs are alive" kill -0 $IPCJOB $TCPJOB
check "after the attack, the ipc job still checkpoints" grows "$T_TMP/ipc.jsonl" 10
check "after the attack, the tcp job still checkpoints" grows "$T_TMP/tcp.jsonl" 10
fds_back() { [ "$(fds $IPCJOB)" -le "$IPCFDS" ] && [ "$(fds $TCPJOB)" -le "$TCPFDS" ]; }
check "the jobs hold no more descriptors than before the attack ($IPCFDS, $TCPFDS)" \
  wait_for 10 fds_back

# the fake job calms down: each dashboard shows its valid hello
check "the dashboard under a hostile publisher lives and draws the calm job" \
  wait_screen 20 fake "cptop survived"
check "cptop --json under a hostile publisher lives and prints the calm job" \
  wait_for 20 grep -q '"name":"survived"' "$T_TMP/fake-tcp.jsonl"
once_calm() { timeout 10 "$CPTOP" --runtime-dir "$FAKE" --job fake --once | grep -q survived; }
check "cptop --once against the calm job" once_calm
check "the dashboard quits cleanly (status 0)" quits_cleanly fake
check "the ipc job stops cleanly" stops $IPCJOB
check "the tcp job stops cleanly" stops $TCPJOB
check "no process crashed or reported (sanitizers, asserts)" \
  no_reports "$T_TMP"/*.err "$T_TMP/ipcjob.log" "$T_TMP/tcpjob.log"
t_done
