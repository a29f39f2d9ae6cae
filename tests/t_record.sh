#!/usr/bin/env bash
# cptop --record from the command line, beside tests/t_replay.sh's headless
# recording of a demo job:
#  1. the interactive dashboard (tmux) records while it runs: a checkpoint
#     triggered with t on it is in the recording, which q closes with its
#     index, and replays (--once, --json, the replay dashboard at its end);
#  2. --record-max SIZE: a headless recording of a Flink source whose REST
#     bodies are padded with random bytes (a proxy in front of agent_hello's
#     REST API; they do not compress) rotates FILE into FILE.1; sampled as it
#     runs, the two never hold more than SIZE plus one chunk, the oldest
#     chunks are gone, and the replay is of the newest part, up to the end.
. "$(dirname "$0")/lib.sh"
export XDG_RUNTIME_DIR=$T_TMP LANG=C.UTF-8 LC_ALL=C.UTF-8
HELLO=$top/$BUILD/bin/agent_hello
CPTOP=$top/$BUILD/bin/cptop
cd "$T_TMP"

"$HELLO" --job-id x --interval-ms 500 --rest 127.0.0.1:0 >>hello.log 2>&1 &
T_PIDS+=($!)
wait_for 10 grep -q 'Flink REST API on port' hello.log || fail "agent_hello did not serve REST"
PORT=$(sed -nE 's/.*Flink REST API on port ([0-9]+).*/\1/p' hello.log | head -1)

# ---------------------------------------------------------------- 1. the dashboard
cat > run-dash.sh <<SH
export XDG_RUNTIME_DIR='$T_TMP' TERM=screen TZ=UTC
'$CPTOP' --job x --record '$T_TMP/dash.cprec' 2> '$T_TMP/dash.err'
echo \$? > '$T_TMP/dash.rc'
SH
tui_start dash 120 40 "sh '$T_TMP/run-dash.sh'"
tui_expect "the dashboard runs while it records, checkpoints completing" 15 dash \
  '^cptop hello \(x\)  RUNNING' '^ +[0-9]+ completed periodic'
tui_keys dash t
tui_expect "t on it triggers a checkpoint" 5 dash '^trigger: ok'
tui_expect "a checkpoint completes, manual" 10 dash '^ +[0-9]+ completed manual'
manual=$(sed -nE 's/^ +([0-9]+) completed manual .*/\1/p' "$SCREEN" | head -1)
tui_keys dash q
check "q ends the dashboard, exit status 0" wait_for 5 grep -qx 0 dash.rc
check "  having complained of nothing" bash -c "! grep -q . dash.err"
check "  and closed the recording with its index (the trailer last)" \
  bash -c "test \"\$(tail -c 16 dash.cprec | head -c 4)\" = CPRI"
"$CPTOP" --replay dash.cprec --once >dash.once 2>dash.rerr
check "replay --once: the job, and checkpoint $manual completed, manual" \
  bash -c "grep -q '^job x (hello), pid [1-9]' dash.once && grep -Eq '^ +$manual completed manual ' dash.once"
"$CPTOP" --replay dash.cprec --json >dash.jsonl 2>>dash.rerr
check "replay --json: checkpoint $manual triggered manually, then completed" bash -c "
  grep '\"type\":\"cp_triggered\"' dash.jsonl | grep '\"id\":$manual,' | grep -q '\"kind\":\"manual\"' &&
  grep '\"type\":\"cp_completed\"' dash.jsonl | grep -q '\"id\":$manual,'"
tui_start rdash 120 40 "env XDG_RUNTIME_DIR=$T_TMP TERM=screen TZ=UTC '$CPTOP' --replay '$T_TMP/dash.cprec'"
tui_expect "the recording replays in the replay dashboard" 10 rdash '^REPLAY [0-9:]{8} ' '^cptop hello '
tui_keys rdash Z
tui_expect "Z: at its end, checkpoint $manual completed, manual" 5 rdash \
  '^the end of the recording: at ' "^ +$manual completed manual"
tui_keys rdash q
check "replay printed no complaint" bash -c "! grep -q . dash.rerr"

# ---------------------------------------------------------------- 2. --record-max
cat > padproxy.py <<'PY'
# GETs forwarded to BACKEND, every JSON object answered with a random pad first
import base64, http.server, os, sys, urllib.error, urllib.request
portfile, backend, pad = sys.argv[1], sys.argv[2], int(sys.argv[3])
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        try:
            with urllib.request.urlopen(backend + self.path, timeout=5) as r:
                status, body = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, body = e.code, e.read()
        if body.startswith(b"{"):
            body = b'{"pad":"' + base64.b64encode(os.urandom(pad)) + b'",' + body[1:]
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
open(portfile + ".tmp", "w").write(str(s.server_address[1]))
os.rename(portfile + ".tmp", portfile)
s.serve_forever()
PY
# Samples FILE and FILE.1 every 0.1 s until STOPFILE exists: the largest
# total of the two against SIZE plus the largest chunk met so far (header
# and payload) plus each file's index and trailer; the first times of the
# FILE.1s seen (also in PATH.olds as it runs); the first time any file held.
cat > sample.py <<'PY'
import os, struct, sys, time
path, size, stop = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def chunks(p):
    out = []
    try:
        with open(p, "rb") as f:
            while True:
                h = f.read(48)
                if len(h) < 48 or h[:4] != b"CPRC":
                    return out
                flags, = struct.unpack_from("<B", h, 5)
                t_first, = struct.unpack_from("<q", h, 8)
                comp, = struct.unpack_from("<I", h, 32)
                out.append((48 + comp, t_first, bool(flags & 4)))
                f.seek(comp, 1)
    except (FileNotFoundError, struct.error):
        return out
big, worst, olds, first = 0, -1 << 62, set(), None
while not os.path.exists(stop):
    total, over = 0, 0
    for p in (path + ".1", path):  # a rotation between the two: counted once, not twice
        try:
            total += os.path.getsize(p)
        except FileNotFoundError:
            continue
        cs = chunks(p)
        for n, t, idx in cs:
            over += n + 16 if idx else 0
            if not idx:
                big = max(big, n)
                first = t if first is None else min(first, t)
        if p.endswith(".1") and cs:
            olds.add(cs[0][1])
    worst = max(worst, total - over - size - big)
    with open(path + ".olds", "w") as f:
        f.write("%d\n" % len(olds))
    time.sleep(0.1)
print(worst, big, len(olds), first)
PY
python3 padproxy.py pp "http://127.0.0.1:$PORT" 16384 2>pp.err &
T_PIDS+=($!)
wait_for 10 test -s pp || fail "the padding proxy did not start" "$(cat pp.err)"
PURL=http://127.0.0.1:$(cat pp)
SIZE=$((1024 * 1024))
python3 sample.py "$T_TMP/max.cprec" $SIZE "$T_TMP/stop" >sample.txt 2>sample.err &
sampler=$!
T_PIDS+=($sampler)
"$CPTOP" --flink "$PURL" --poll 250 --record max.cprec --record-max 1M --headless 2>max.err &
mrec=$!
T_PIDS+=($mrec)
# two rotations (a chunk is cut every 5 s, ~500 KB here: the first FILE.1
# replaced by a newer one after 10 s or so; slower on a loaded machine)
wait_for 60 bash -c '[ "$(cat max.cprec.olds 2>/dev/null || echo 0)" -ge 2 ]'
last=$(timeout 10 "$CPTOP" --flink "$PURL" --once 2>/dev/null | awk '$2 == "completed" {print $1; exit}')
sleep 1
kill -TERM "$mrec"
check "the recorder ends on SIGTERM" wait_for 5 bash -c "! kill -0 $mrec 2>/dev/null"
touch stop
wait_for 5 grep -q . sample.txt
read -r worst big olds first <sample.txt
check "the recorder said nothing wrong" bash -c "! grep -q . max.err sample.err"
check "FILE was rotated into FILE.1, replaced by a newer one since ($olds seen)" test "${olds:-0}" -ge 2
check "FILE and FILE.1 never held more than 1M plus one chunk ($big B) and their indexes (by $worst B)" \
  test "${worst:-1}" -le 0
"$CPTOP" --replay max.cprec --json >max.jsonl 2>max.rerr
start=$(head -1 max.jsonl | sed -n 's/.*"ts_us":\([0-9]*\).*/\1/p')
check "the replay starts 5 s or more after the recording did: its oldest chunks are gone" \
  test "${start:-0}" -ge $((first + 5000000))
"$CPTOP" --replay max.cprec --once >max.once 2>>max.rerr
rlast=$(awk '$2 == "completed" {print $1; exit}' max.once)
check "and ends where it did: its newest checkpoint ($rlast) is the one live --once saw last ($last) or newer" \
  test "${rlast:-0}" -ge "${last:-1}"
check "replay of the bounded recording complained of nothing" bash -c "! grep -q . max.rerr"
t_done
