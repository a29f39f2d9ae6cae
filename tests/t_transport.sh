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
SECS=${TRANSPORT_FUZZ_SECONDS:-15}
# the whole script within a minute in make test: fuzzing, and the checks
# before and after it, each bounded in time
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
no_reports() { ! grep -l -E 'Sanitizer|runtime error:|Assertion|panic' "$@"; }
# quits_cleanly PANE: q ends the dashboard with status 0 (terminal restored);
# the pane's command writes cptop's status to $T_TMP/PANE.rc
quits_cleanly() {
  tui_keys "$1" q
  wait_for 5 tui_dead "$1" && [ "$(cat "$T_TMP/$1.rc")" = 0 ] && return
  tui_cap "$1"; grep -v '^ *$' "$SCREEN" | head -5
  echo "pane $1: dead? $(tui_dead "$1" && echo yes || echo no), cptop's status: $(cat "$T_TMP/$1.rc")"
  return 1
}
# draws SECONDS PANE REGEX: the pane shows REGEX within SECONDS (else its screen)
draws() { tui_wait "$1" "$2" "$3" && return; tui_show "$2"; return 1; }
both_grow() { grows "$1" 10 && grows "$2" 10; }
fds() { ls "/proc/$1/fd" | wc -l; }
# stops PID: SIGTERM ends it within 10 s with status 0
stops() {
  kill "$1" || return 1
  local i; for ((i = 0; i < 100; i++)); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  wait "$1"
}

# ---------------------------------------------------------------- the jobs
P=$(free_port_pair)
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

# ---------------------------------------------------------------- issue 8, items 1 and 2
# Both reproductions at every endpoint of both jobs: item 1 (claim the
# pairing socket, then 8 zero bytes: over tcp a zero-length message, over ipc
# a bad type byte) and item 2 (type byte 2 and a length: over tcp a length of
# 2^57). The peer claims SUB on the events, REQ on the commands.
repro() {
  python3 - "$@" <<'PY'
import socket, sys, time
ITEMS = (bytes(8), b'\2' + bytes(7) + b'\5hello')
for arg in sys.argv[1:]:
    kind, url = arg.split('=', 1)
    proto = 0x21 if kind == 'events' else 0x30
    for item in ITEMS:
        if url.startswith('ipc://'):
            s = socket.socket(socket.AF_UNIX); s.connect(url[6:])
        else:
            host, port = url[6:].rsplit(':', 1); s = socket.create_connection((host, int(port)))
        s.sendall(b'\0SP\0\0' + bytes([proto]) + b'\0\0'); s.recv(8)
        s.sendall(item); time.sleep(.2); s.close()
PY
}
repro "events=ipc://$RT/ipcjob.events" "cmd=ipc://$RT/ipcjob.cmd" \
  "events=tcp://127.0.0.1:$P" "cmd=tcp://127.0.0.1:$((P + 1))"
check "items 1, 2 at the ipc job's events and commands: the job lives" alive $IPCJOB
check "items 1, 2 at the tcp job's events and commands: the job lives" alive $TCPJOB
check "items 1, 2: the ipc job keeps checkpointing" grows "$T_TMP/ipc.jsonl" 10
check "items 1, 2: the tcp job keeps checkpointing" grows "$T_TMP/tcp.jsonl" 10
check "items 1, 2: the ipc job answers commands" answered "$T_TMP" ipcjob
check "items 1, 2: the tcp job answers commands" answered "$T_TMP/tcp" tcpjob

# The same bytes from a job's publisher (and command server), to cptop:
# interactive and --json over ipc, --json over tcp. Each connection gets one
# of the two, in turn.
EVIL=$T_TMP/evil/cptop
mkdir -p -m 700 "$T_TMP/evil" && mkdir -m 700 "$EVIL"
E=$(free_port_pair)
python3 - "$EVIL" "$E" <<'PY' >"$T_TMP/evil.log" 2>&1 &
import os, socket, sys, threading, time
d, port = sys.argv[1], int(sys.argv[2])
ITEMS = (bytes(8), b'\2' + bytes(7) + b'\5hello')
def serve(l, proto):
    l.listen(8); n = 0
    while True:
        c, _ = l.accept()
        try:
            c.recv(8); c.sendall(b'\0SP\0\0' + bytes([proto]) + b'\0\0')
            c.sendall(ITEMS[n % 2]); n += 1; time.sleep(.3)
        except OSError:
            pass
        c.close()
def unix(path):
    l = socket.socket(socket.AF_UNIX); l.bind(path); return l
def tcp(p):
    l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind(('127.0.0.1', p)); return l
for l, proto in ((unix(d + '/evil.events'), 0x20), (unix(d + '/evil.cmd'), 0x31),
                 (tcp(port), 0x20), (tcp(port + 1), 0x31)):
    threading.Thread(target=serve, args=(l, proto), daemon=True).start()
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
"$CPTOP" --connect "tcp://127.0.0.1:$E" --json >"$T_TMP/evil-tcp.jsonl" 2>"$T_TMP/json-evil-tcp.err" &
EVILTCP=$!; T_PIDS+=($EVILTCP)
tui_start evil 100 30 \
  "env LANG=C.UTF-8 TERM=screen $CPTOP --runtime-dir $EVIL --job evil 2>$T_TMP/tui-evil.err; echo \$? >$T_TMP/evil.rc"
sleep 2 # several reconnections, each met by one of the two
check "items 1, 2 from a publisher: cptop --json over ipc lives" alive $EVILJSON
check "items 1, 2 from a publisher: cptop --json over tcp lives" alive $EVILTCP
check "items 1, 2 from a publisher: the dashboard lives and draws" draws 5 evil "^cptop .*evil"
check "... and quits cleanly (terminal restored, status 0)" quits_cleanly evil
check "... cptop --json (ipc) ends on SIGTERM with status 0" stops $EVILJSON
check "... cptop --json (tcp) ends on SIGTERM with status 0" stops $EVILTCP
kill $EVILPID 2>/dev/null

# ---------------------------------------------------------------- fuzz the jobs
IPCFDS=$(fds $IPCJOB) TCPFDS=$(fds $TCPJOB)
"$FUZZ" attack --seconds "$SECS" "ipc://$RT/ipcjob.events" "ipc://$RT/ipcjob.cmd" \
  "tcp://127.0.0.1:$P" "tcp://127.0.0.1:$((P + 1))" >"$T_TMP/attack.log" 2>&1 &
ATTACK=$!; T_PIDS+=($ATTACK)

# ---------------------------------------------------------------- fuzz the dashboards
FAKE=$T_TMP/fake/cptop
mkdir -p -m 700 "$T_TMP/fake" && mkdir -m 700 "$FAKE"
Q=$(free_port_pair)
"$FUZZ" serve --seconds "$SECS" --job fake "ipc://$FAKE/fake.events" "ipc://$FAKE/fake.cmd" \
  >"$T_TMP/serve-ipc.log" 2>&1 &
SERVE=$!; T_PIDS+=($SERVE)
"$FUZZ" serve --seconds "$SECS" --job fake "tcp://127.0.0.1:$Q" "tcp://127.0.0.1:$((Q + 1))" \
  >"$T_TMP/serve-tcp.log" 2>&1 &
T_PIDS+=($!)
printf '{"v":1,"job":"fake","name":"fake","pid":%d,"events":"ipc://%s/fake.events","commands":"ipc://%s/fake.cmd","auth":"none","started_us":1}\n' \
  "$SERVE" "$FAKE" "$FAKE" >"$FAKE/fake.json"
wait_for 10 test -S "$FAKE/fake.cmd" || fail "the fake job did not start"
tui_start fake 120 40 \
  "env LANG=C.UTF-8 TERM=screen $CPTOP --runtime-dir $FAKE --job fake 2>$T_TMP/tui-fake.err; echo \$? >$T_TMP/fake.rc"
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
  draws 20 fake "cptop survived"
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
