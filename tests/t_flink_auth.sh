#!/usr/bin/env bash
# cptop --flink behind what guards a real JobManager, over real HTTP(S)
# (tests/flink_script.py held at its first step): a bearer token
# (--header), Basic authentication (--user, or in the URL, never shown),
# and TLS with a self-signed certificate made here (refused unless
# --cacert names it or --insecure says not to verify). With what the
# server wants cptop reads the job; without it, exit 1 naming the request
# and HTTP 401, or the certificate problem.
. "$(dirname "$0")/lib.sh"
export XDG_RUNTIME_DIR=$T_TMP
CPTOP=$top/$BUILD/bin/cptop
cd "$T_TMP"
command -v python3 >/dev/null || { fail "python3 is needed (the servers)"; t_done; exit 1; }
command -v openssl >/dev/null ||
  { fail "openssl is needed to make the test's certificate (scripts/deps.sh --for test installs it)"; t_done; exit 1; }

openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
  -days 2 -keyout "$T_TMP/key.pem" -out "$T_TMP/cert.pem" >"$T_TMP/openssl.log" 2>&1 ||
  fail "openssl could not make a certificate" "$(tail -2 "$T_TMP/openssl.log")"

serve() { # NAME ARGS...: a scripted cluster held at step 0
  local n=$1
  shift
  python3 "$top/tests/flink_script.py" "$T_TMP/$n.port" --version 1.19 --gate "$T_TMP/never" "$@" \
    >>"$T_TMP/$n.srv" 2>&1 &
  T_PIDS+=($!)
}
serve bearer --bearer 's3cret-t0ken'
serve basic --basic 'alice:wonder land'
serve tls --tls "$T_TMP/cert.pem" "$T_TMP/key.pem"
for n in bearer basic tls; do
  wait_for 15 test -s "$T_TMP/$n.port" || fail "the $n server did not start" "$(tail -2 "$T_TMP/$n.srv")"
done
B=http://127.0.0.1:$(cat "$T_TMP/bearer.port")
P=$(cat "$T_TMP/basic.port")
S=https://127.0.0.1:$(cat "$T_TMP/tls.port")

# Every run at once (most wait out their --timeout), then the checks.
# run NAME ARGS...: cptop --once ARGS into NAME.out, its exit status NAME.rc
RUNS=()
run() { local n=$1; shift; (timeout 15 "$CPTOP" "$@" --once --timeout 3000 >"$n.out" 2>&1; echo $? >"$n.rc") &
        RUNS+=($!); }
runs_end() { local p; for p in "${RUNS[@]}"; do wait "$p"; done; RUNS=(); }
run b-ok --flink "$B" --header 'Authorization: Bearer s3cret-t0ken'
runs_end
cp "$T_TMP/bearer.port.log" b-ok.log  # what that run asked, alone
run b-none --flink "$B"
run b-wrong --flink "$B" --header 'Authorization: Bearer guess'
run u-ok --flink "http://127.0.0.1:$P" --user 'alice:wonder land'
run u-none --flink "http://127.0.0.1:$P"
run u-wrong --flink "http://127.0.0.1:$P" --user 'alice:guess'
run u-url --flink "http://alice:wonder%20land@127.0.0.1:$P"
run u-urlbad --flink "http://alice:hunter2@127.0.0.1:$P"
run t-none --flink "$S"
run t-ca --flink "$S" --cacert "$T_TMP/cert.pem"
run t-insecure --flink "$S" --insecure
run t-noca --flink "$S" --cacert "$T_TMP/missing.pem"
run t-wrongca --flink "$S" --cacert "$T_TMP/key.pem"
run t-plain --flink "http://127.0.0.1:$(cat "$T_TMP/tls.port")"
runs_end
# once NAME: NAME's exit status in $rc
once() { rc=$(cat "$1.rc" 2>/dev/null || echo none); }
got_job() { grep -q '^job f1175c417ed0b0000000000000000001 (payments), pid 0, status running' "$1.out" &&
            grep -qE '^ +1 completed ' "$1.out"; }
ok_job() { test "$rc" = 0 && got_job "$1"; }

# ---------------------------------------------------------------- bearer
once b-ok
check "bearer: with --header 'Authorization: Bearer …' cptop reads the job (exit 0)" \
  ok_job b-ok
check "  the header went with every request" sh -c "
  test \$(wc -l < b-ok.log) -ge 5 && ! grep -q ' -\$' b-ok.log"
once b-none
check "bearer: without it, exit 1" test "$rc" = 1
check "  naming the request and HTTP 401" \
  grep -qE '^cptop: no checkpoint statistics from http://127\.0\.0\.1:[0-9]+ within 3000 ms: /(config|jobs/overview): HTTP 401: Unauthorized$' b-none.out
once b-wrong
check "bearer: a wrong token, exit 1 naming HTTP 401" sh -c "test $rc = 1 && grep -q 'HTTP 401: Unauthorized' b-wrong.out"

# ---------------------------------------------------------------- basic
once u-ok
check "basic: with --user cptop reads the job (exit 0)" \
  ok_job u-ok
once u-none
check "basic: without it, exit 1 naming HTTP 401" \
  sh -c "test $rc = 1 && grep -qE ': /(config|jobs/overview): HTTP 401: Unauthorized$' u-none.out"
once u-wrong
check "basic: a wrong password, exit 1 naming HTTP 401" sh -c "test $rc = 1 && grep -q 'HTTP 401' u-wrong.out"
once u-url
check "basic: credentials in the URL work too (exit 0)" ok_job u-url
once u-urlbad
check "  and a message about a wrong one shows the URL without them" \
  sh -c "test $rc = 1 && grep -q 'from http://127.0.0.1:$P within' u-urlbad.out && ! grep -q hunter2 u-urlbad.out"

# ---------------------------------------------------------------- TLS
once t-none
check "TLS: a self-signed certificate is refused (exit 1)" test "$rc" = 1
check "  naming the certificate problem" \
  grep -qE "^cptop: no checkpoint statistics from $S within 3000 ms: /(config|jobs/overview): SSL certificate problem: self[- ]signed certificate" t-none.out
once t-ca
check "TLS: with --cacert naming it cptop reads the job (exit 0)" \
  ok_job t-ca
once t-insecure
check "TLS: with --insecure too (exit 0)" ok_job t-insecure
once t-noca
check "TLS: --cacert naming no file is bad usage (exit 2), said at once" \
  sh -c "test $rc = 2 && grep -qx 'cptop: --cacert $T_TMP/missing.pem: No such file or directory' t-noca.out"
once t-wrongca
check "TLS: --cacert naming a file that holds no certificate: exit 1 naming it" \
  sh -c "test $rc = 1 && grep -q 'key.pem' t-wrongca.out"
once t-plain
check "TLS: plain http to it fails (exit 1), saying what happened" \
  sh -c "test $rc = 1 && grep -qE ': /(config|jobs/overview): .+' t-plain.out"
t_done
