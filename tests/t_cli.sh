#!/usr/bin/env bash
# cptop's script modes against live jobs (examples/agent_hello, and the
# tests' fake agent where a job must misbehave): the modes themselves; a
# runtime directory someone else made or opened, refused; a secret never
# taken from a discovery file; 80 jobs killed with kill -9 hiding no live
# one; a job id on TCP never taken over; ctl fail checked against the job's
# own failure table before it is sent.
. "$(dirname "$0")/lib.sh"
export XDG_RUNTIME_DIR=$T_TMP
CPTOP=$top/$BUILD/bin/cptop
HELLO=$top/$BUILD/bin/agent_hello
FAKE=$top/$BUILD/tests/fake_agent

check "help exits 0 and names every mode" bash -c "$CPTOP --help | grep -q -- --once && $CPTOP --help | grep -q 'ctl set'"
check "bad usage exits 2 naming the argument" bash -c "$CPTOP --bogus 2>&1 | grep -q -- --bogus && test \${PIPESTATUS[0]} -eq 2"
check "no job: --once says so and exits 1" bash -c "$CPTOP --once 2>&1 | grep -q 'no running job' && test \${PIPESTATUS[0]} -eq 1"

bg "$HELLO" --job-id demo1 --interval-ms 300
wait_for 10 test -e "$T_TMP/cptop/demo1.json" || fail "agent_hello did not start"

check "--list shows the running job" bash -c "$CPTOP --list | grep -E '^demo1 +hello +[0-9]+ running'"
check "--once shows completed checkpoints" \
  wait_for 10 bash -c "$CPTOP --once | grep -E '^ +[0-9]+ completed periodic'"
check "ctl trigger is accepted" bash -c "$CPTOP ctl trigger | grep -q '^ok:'"
check "the manual checkpoint completes" wait_for 5 bash -c "$CPTOP --once | grep -q 'completed manual'"
check "ctl abort refused by the job exits 1 with its reason" \
  bash -c "$CPTOP ctl abort 1 2>&1 | grep -q 'refused (handler)' && test \${PIPESTATUS[0]} -eq 1"
check "ctl set unsupported by the job exits 1" \
  bash -c "$CPTOP ctl set a b 2>&1 | grep -q 'refused (unsupported)' && test \${PIPESTATUS[0]} -eq 1"
check "ctl abort with a bad id exits 2" bash -c "$CPTOP ctl abort x; test \$? -eq 2"
check "--json streams decodable events" \
  bash -c "timeout 2 $CPTOP --json > $T_TMP/events.jsonl; grep -q '\"type\":\"cp_completed\"' $T_TMP/events.jsonl && grep -q '\"type\":\"heartbeat\"' $T_TMP/events.jsonl"
check "--json lines are one object each" bash -c "! grep -v '^{.*}\$' $T_TMP/events.jsonl"

# a second job: now a job must be chosen
bg "$HELLO" --job-id demo2 --interval-ms 300
wait_for 10 test -e "$T_TMP/cptop/demo2.json"
check "two jobs: --once without --job exits 2 listing them" \
  bash -c "$CPTOP --once 2>&1 | grep -q demo2 && test \${PIPESTATUS[0]} -eq 2"
check "--job picks one" bash -c "$CPTOP --job demo2 --once | grep -q '^job demo2'"
check "--job NAME shared by two jobs: exit 2, both listed, an id asked for" \
  bash -c "$CPTOP --job hello --once 2>&1 | tr '\n' ' ' | grep -E \"2 running jobs are named 'hello'; choose one with --job ID: .*demo[12] .*demo[12]\" && test \${PIPESTATUS[0]} -eq 2"
# ctl fail: the job's own table decides, checked before anything is sent
check "ctl fail: an unknown kind is refused with the agent's words, naming what the job offers" \
  bash -c "$CPTOP --job demo2 ctl fail bogus 2>&1 | grep -qx 'refused (bad_command): unknown failure \"bogus\" (this job offers: slow-upload)' && test \${PIPESTATUS[0]} -eq 1"
check "ctl fail: a value out of the table's range is refused, naming the range" \
  bash -c "$CPTOP --job demo2 ctl fail slow-upload 0 1 ms=99999 2>&1 | grep -q 'ms=99999: out of range 1..10000 ms'"
check "ctl fail: an operator by name, the parameter left to the table's default (800)" \
  bash -c "$CPTOP --job demo2 ctl fail slow-upload source 1 | grep -qx 'ok: the next upload at source#1 takes 800 ms longer'"
check "--once lists the failures the job offers" \
  bash -c "$CPTOP --job demo2 --once | grep -E '^  slow-upload +OP SUBTASK .*ms=800 \(1\.\.10000 ms\)'"
check "ctl takes its options after ctl too (cptop ctl --job ID trigger)" \
  bash -c "$CPTOP ctl --job demo2 --timeout 3000 trigger | grep -q '^ok:'"
check "--json | head: cptop ends when its reader does" \
  bash -c "timeout 10 $CPTOP --job demo2 --json | head -n 2 | wc -l | grep -qx 2 && test \${PIPESTATUS[0]} -ne 124"

# clean stop removes the discovery file; kill -9 leaves a stale one
kill -TERM "${T_PIDS[0]}"; wait "${T_PIDS[0]}" 2>/dev/null
check "clean stop removes the discovery file" test ! -e "$T_TMP/cptop/demo1.json"
kill -KILL "${T_PIDS[1]}"; wait "${T_PIDS[1]}" 2>/dev/null
check "a killed job is listed as stale" bash -c "$CPTOP --list | grep -E '^demo2 .* stale'"
check "a stale job is not a target" bash -c "$CPTOP --once 2>&1 | grep -q 'no running job'"

# ---------------------------------------------------------------- a runtime dir someone else made
# (the attack: another user pre-creates /tmp/cptop-UID, mode 0777, with a forged announcement)
OPEN=$T_TMP/open
mkdir "$OPEN" && chmod 0777 "$OPEN"
printf '{"v":1,"job":"forged","name":"forged","pid":%d,"events":"ipc://%s/forged.events","commands":"ipc://%s/forged.cmd","auth":"none"}\n' \
  $$ "$OPEN" "$OPEN" > "$OPEN/forged.json"
for mode in --list --once "ctl trigger"; do
  check "cptop $mode refuses a runtime dir of mode 0777, naming it and the fix" \
    bash -c "$CPTOP --runtime-dir '$OPEN' $mode 2>&1 | grep -F '$OPEN' | grep -q 'chmod 700' && test \${PIPESTATUS[0]} -eq 1"
done
check "the forged job is never listed" bash -c "! $CPTOP --runtime-dir '$OPEN' --list 2>/dev/null | grep -q forged"
mkdir -p "$T_TMP/openx/cptop" && chmod 0777 "$T_TMP/openx/cptop"
check "an agent refuses it too, with the same words" \
  bash -c "XDG_RUNTIME_DIR='$T_TMP/openx' $HELLO --job-id x 2>&1 | grep -q 'chmod 700'"
if [ "$(id -u)" = 0 ]; then
  THEIRS=$T_TMP/theirs
  mkdir -m 0700 "$THEIRS" && cp "$OPEN/forged.json" "$THEIRS/" && chown -R 65534:65534 "$THEIRS"
  check "a private runtime dir of another user is refused too, naming its owner" \
    bash -c "$CPTOP --runtime-dir '$THEIRS' --list 2>&1 | grep -F '$THEIRS' | grep -q 'uid 65534'"
fi

# ---------------------------------------------------------------- no secret from a discovery file
# A job over TCP whose announcement names a secret file: cptop signs with the
# user's own secret (--secret-file, else the runtime dir's), never that one.
SEC=$T_TMP/sec
mkdir -m 0700 "$SEC"
printf 'user-secret-0123456789abcdef0123456789\n' > "$SEC/secret"
printf 'named-by-the-file-0123456789abcdef0123\n' > "$T_TMP/named.secret"
chmod 600 "$SEC/secret" "$T_TMP/named.secret"
port=$(free_port_pair)
bg "$FAKE" --runtime-dir "$SEC" --job tjob --name tjob --listen "tcp://127.0.0.1:$port" --no-announce \
  --log "$T_TMP/tjob.log" --key own="$SEC/secret" --key named="$T_TMP/named.secret"
wait_for 10 grep -q "^fake_agent tjob" "$T_TMP/bg.log" || fail "the fake agent did not start" "$(tail -2 "$T_TMP/bg.log")"
printf '{"v":1,"job":"tjob","name":"tjob","pid":%d,"events":"tcp://127.0.0.1:%d","commands":"tcp://127.0.0.1:%d","auth":"hmac-sha256","secret_file":"%s","started_us":1}\n' \
  "${T_PIDS[-1]}" "$port" $((port + 1)) "$T_TMP/named.secret" > "$SEC/tjob.json"
chmod 600 "$SEC/tjob.json"
"$CPTOP" --runtime-dir "$SEC" --job tjob ctl trigger >/dev/null 2>&1
check "ctl over TCP signs with the runtime dir's secret, not the one the discovery file names" \
  grep -qx 'trigger mac=own' "$T_TMP/tjob.log"
"$CPTOP" --runtime-dir "$SEC" --job tjob --secret-file "$T_TMP/named.secret" ctl trigger >/dev/null 2>&1
check "... and with --secret-file, the one the user names" bash -c "tail -1 '$T_TMP/tjob.log' | grep -qx 'trigger mac=named'"
check "no command was ever signed with the file's choice on its own" bash -c "test \$(grep -c 'mac=named' '$T_TMP/tjob.log') -eq 1"
chmod 644 "$SEC/secret"
check "a secret open to others is refused, not used" \
  bash -c "$CPTOP --runtime-dir '$SEC' --job tjob ctl trigger 2>&1 | grep -q 'chmod 600'"

# ---------------------------------------------------------------- 80 jobs killed with kill -9
KD=$T_TMP/kill9
export XDG_RUNTIME_DIR=$KD
mkdir -m 0700 "$KD"
killed=()
for i in $(seq -w 1 80); do
  bg "$HELLO" --job-id "k$i" --interval-ms 5000
  killed+=("${T_PIDS[-1]}")
done
wait_for 60 bash -c "test \$(ls '$KD/cptop/'k*.json 2>/dev/null | wc -l) -eq 80" || fail "80 jobs did not all start"
bg "$HELLO" --job-id LIVE --interval-ms 300
wait_for 20 bash -c "ls '$KD/cptop/LIVE.json'" || fail "LIVE did not start"
{ kill -9 "${killed[@]}"; for p in "${killed[@]}"; do wait "$p"; done; } 2>/dev/null
check "80 stale announcements are left behind" test "$(ls "$KD"/cptop/k*.json | wc -l)" -eq 80
check "--job LIVE finds the live job among them" bash -c "$CPTOP --job LIVE --once | grep -q '^job LIVE'"
check "without --job, the one live job is the target" bash -c "$CPTOP --once | grep -q '^job LIVE'"
check "--list lists all 81, the 80 as stale" \
  bash -c "test \$($CPTOP --list | grep -c ' stale ') -eq 80 && $CPTOP --list | grep -Eq '^LIVE .* running '"
bg "$HELLO" --job-id NEXT --interval-ms 300
wait_for 20 bash -c "ls '$KD/cptop/NEXT.json'"
check "the next agent to start removes the 80 stale announcements, and only those" \
  bash -c "test ! -e '$KD/cptop/k01.json' && test \$(ls '$KD'/cptop/*.json | wc -l) -eq 2"

# ---------------------------------------------------------------- a job id on TCP is never taken over
p1=$(free_port_pair)
bg "$HELLO" --job-id dup --interval-ms 300 --listen "tcp://127.0.0.1:$p1"
first=${T_PIDS[-1]}
wait_for 10 test -e "$KD/cptop/dup.json" || fail "the first job 'dup' did not start" "$(tail -2 "$T_TMP/bg.log")"
cp "$KD/cptop/dup.json" "$T_TMP/dup.before"
p2=$(free_port_pair)
# it must refuse at once; one that started anyway is stopped by timeout (124)
timeout 10 "$HELLO" --job-id dup --interval-ms 300 --listen "tcp://127.0.0.1:$p2" >"$T_TMP/dup2.out" 2>&1
rc=$?
check "a second job with a running job's id does not start (exit 1), naming the running one" \
  bash -c "[ $rc -eq 1 ] && grep -q 'job id dup is already announced' '$T_TMP/dup2.out' && grep -q 'pid $first' '$T_TMP/dup2.out' || { echo rc=$rc; cat '$T_TMP/dup2.out'; exit 1; }"
check "... the running job's announcement is untouched" cmp -s "$KD/cptop/dup.json" "$T_TMP/dup.before"
check "... and still leads to it" bash -c "$CPTOP --job dup --once | grep -q 'pid $first'"
t_done
