#!/usr/bin/env bash
# cpdemo kafka (embedded mock cluster) and cpdemo produce (the generator), checked with kcat.
. "$(dirname "$0")/lib.sh"
CPDEMO=$BUILD/bin/cpdemo
BSF=$T_TMP/bs

# ---- usage
check "cpdemo --help exits 0 and lists kafka and produce" \
  bash -c "$CPDEMO --help | grep -q '^  kafka ' && $CPDEMO --help | grep -q '^  produce '"
check "every subcommand --help lists answers its own --help" \
  bash -c "for s in \$($CPDEMO --help | sed -n 's/^  \([a-z][a-z]*\) .*/\1/p'); do $CPDEMO \$s --help | grep -q \"usage: cpdemo \$s\" || exit 1; done"
check "cpdemo kafka --help exits 0" bash -c "$CPDEMO kafka --help | grep -q -- --bootstrap-file"
check "cpdemo produce --help exits 0" bash -c "$CPDEMO produce --help | grep -q -- --bad-every"
check "unknown subcommand exits 2 naming it" \
  bash -c "$CPDEMO frobnicate 2>&1 | grep -q \"unknown subcommand 'frobnicate'\"; test \${PIPESTATUS[0]} -eq 2"
check "no subcommand exits 2" bash -c "$CPDEMO 2>/dev/null; test \$? -eq 2"
check "kafka: bad --partitions exits 2 naming it" \
  bash -c "$CPDEMO kafka --partitions 0 2>&1 | grep -q -- '--partitions'; test \${PIPESTATUS[0]} -eq 2"
check "kafka: unknown option exits 2 naming it" \
  bash -c "$CPDEMO kafka --bogus 2>&1 | grep -q -- \"'--bogus'\"; test \${PIPESTATUS[0]} -eq 2"
check "produce: missing --bootstrap exits 2 naming it" \
  bash -c "$CPDEMO produce --count 1 2>&1 | grep -q -- '--bootstrap is required'; test \${PIPESTATUS[0]} -eq 2"
check "produce: bad --rate exits 2 naming it" \
  bash -c "$CPDEMO produce --bootstrap x:1 --rate fast 2>&1 | grep -q -- '--rate'; test \${PIPESTATUS[0]} -eq 2"

# ---- the embedded Kafka
bg bash -c "exec $CPDEMO kafka --partitions 4 --bootstrap-file $BSF >$T_TMP/kafka.out 2>$T_TMP/kafka.err"
KPID=${T_PIDS[-1]}
wait_for 10 test -s "$BSF" || fail "cpdemo kafka wrote no bootstrap file" "$(cat "$T_TMP/kafka.err")"
BS=$(cat "$BSF")
check "kafka prints 'bootstrap ADDR' matching the bootstrap file" \
  bash -c "grep -qx 'bootstrap $BS' $T_TMP/kafka.out && [[ '$BS' =~ ^127\.0\.0\.1:[0-9]+$ ]]"
check "kcat -L lists topic payments with 4 partitions" \
  bash -c "kcat -b $BS -L -t payments | grep -q 'topic \"payments\" with 4 partitions'"
check "kcat produces a message and consumes it back" \
  bash -c "echo hello-$$ | kcat -b $BS -P -t smoke -k k1 && kcat -b $BS -C -e -q -o beginning -t smoke -f '%k %s\n' | grep -qx 'k1 hello-$$'"

# ---- the generator
# consume T [FORMAT]: every record of topic T, one per line
consume() { kcat -b "$BS" -C -e -q -o beginning -t "$1" -f "${2:-%s\n}"; }
check "produce --count 10000 --seed 7 succeeds" \
  bash -c "$CPDEMO produce --bootstrap $BS --count 10000 --seed 7 2>$T_TMP/p1.err && grep -q 'delivered 10000, 0 delivery errors' $T_TMP/p1.err"
consume payments >"$T_TMP/payments.txt"
check "the topic holds exactly 10000 records" test "$(wc -l <"$T_TMP/payments.txt")" -eq 10000
grep -ao '"id":[0-9]*' "$T_TMP/payments.txt" | cut -d: -f2 | sort -n >"$T_TMP/ids.txt"
check "ids are 0..9999, each exactly once" cmp -s "$T_TMP/ids.txt" <(seq 0 9999)
check "records are well-formed JSON of the documented shape" \
  bash -c "! grep -avE '^\{\"account\":\"acct-[0-9]{4,}\",\"amount_cents\":[0-9]+,\"ts_ms\":[0-9]+,\"id\":[0-9]+\}$' $T_TMP/payments.txt"
check "the key is the record's account" \
  bash -c "kcat -b $BS -C -e -q -o beginning -t payments -f '%k %s\n' | awk '{ if (index(\$2, \"\\\"account\\\":\\\"\" \$1 \"\\\"\") != 2) bad++ } END { exit bad > 0 }'"
check "each account stays on one partition" \
  bash -c "test -z \"\$(kcat -b $BS -C -e -q -o beginning -t payments -f '%p %k\n' | sort -u | cut -d' ' -f2 | uniq -d)\""
check "the same seed produces the same records on the same partitions" \
  bash -c "$CPDEMO produce --bootstrap $BS --topic payments2 --count 10000 --seed 7 2>/dev/null &&
           cmp -s <(kcat -b $BS -C -e -q -o beginning -t payments -f '%p %k %s\n' | sort) \
                  <(kcat -b $BS -C -e -q -o beginning -t payments2 -f '%p %k %s\n' | sort)"
check "another seed produces other records" \
  bash -c "$CPDEMO produce --bootstrap $BS --topic payments3 --count 100 --seed 8 2>/dev/null &&
           ! cmp -s <(kcat -b $BS -C -e -q -o beginning -t payments3 | sort) <(head -100 $T_TMP/payments.txt | sort)"

check "--bad-every 100 succeeds" \
  bash -c "$CPDEMO produce --bootstrap $BS --topic bad --count 10000 --seed 7 --bad-every 100 2>$T_TMP/p2.err && grep -q '(100 malformed)' $T_TMP/p2.err"
consume bad >"$T_TMP/bad.txt"
export LC_ALL=C
check "--bad-every 100: 10000 records, 100 marked malformed" \
  bash -c "test \$(wc -l <$T_TMP/bad.txt) -eq 10000 && test \$(grep -ac '\"bad\":\"' $T_TMP/bad.txt) -eq 100"
check "the malformed ones are ids 99, 199, ..., 9999 and keep their id" \
  cmp -s <(grep -a '"bad":"' "$T_TMP/bad.txt" | grep -ao '^{"id":[0-9]*' | cut -d: -f2 | sort -n) <(seq 99 100 9999)
check "all ids 0..9999 are still there, good or bad" \
  cmp -s <(grep -ao '"id":[0-9]*' "$T_TMP/bad.txt" | cut -d: -f2 | sort -n) <(seq 0 9999)
check "four kinds of malformed, 25 each" \
  bash -c "for k in truncated missing-field wrong-type non-utf8; do test \$(grep -ac \"\\\"bad\\\":\\\"\$k\\\"\" $T_TMP/bad.txt) -eq 25 || exit 1; done"
check "non-utf8 records carry invalid UTF-8 bytes, truncated ones no closing brace" \
  bash -c "test \$(grep -ac \$'\\xff\\xfe' $T_TMP/bad.txt) -eq 25 && ! grep -a '\"bad\":\"truncated\"' $T_TMP/bad.txt | grep -q '}\$'"
check "good records are identical with and without --bad-every" \
  cmp -s <(grep -av '"bad":"' "$T_TMP/bad.txt" | sort) <(grep -v '"id":[0-9]*99}' "$T_TMP/payments.txt" | sort)

check "--rate 2000 --count 3000 is paced (1.3..6 s) and reports progress" \
  bash -c "s=\$(date +%s%N); $CPDEMO produce --bootstrap $BS --topic paced --rate 2000 --count 3000 2>$T_TMP/p3.err || exit 1
           ms=\$(( (\$(date +%s%N) - s) / 1000000 )); echo \$ms ms; test \$ms -ge 1300 -a \$ms -lt 6000 && grep -q '^cpdemo produce: sent [0-9]*, delivered' $T_TMP/p3.err"

# ---- failures
check "produce to a closed port fails clearly within 15 s" \
  bash -c "s=\$(date +%s); timeout 20 $CPDEMO produce --bootstrap 127.0.0.1:1 --count 10 2>$T_TMP/p4.err; rc=\$?
           test \$rc -eq 1 && test \$((\$(date +%s) - s)) -lt 15 && grep -q 'cannot reach Kafka at 127.0.0.1:1' $T_TMP/p4.err"

# a second cluster, killed while records are in flight: produce names the failure
bg bash -c "exec $CPDEMO kafka --bootstrap-file $T_TMP/bs2 >/dev/null 2>&1"
K2=${T_PIDS[-1]}
wait_for 10 test -s "$T_TMP/bs2"
"$CPDEMO" produce --bootstrap "$(cat "$T_TMP/bs2")" --rate 1000 --count 1000 --delivery-timeout 1 \
  2>"$T_TMP/p5.err" &
PP=$!; T_PIDS+=("$PP")
sleep 0.4; kill -KILL "$K2"; wait "$K2" 2>/dev/null
wait "$PP"; prc=$?
check "a failed delivery makes produce exit 1 naming the error" \
  bash -c "test $prc -eq 1 && grep -q 'deliveries failed, the first: Local: Message timed out' $T_TMP/p5.err"

kill -TERM "$KPID"; wait "$KPID"; krc=$?
check "SIGTERM: kafka exits 0" test "$krc" -eq 0
check "SIGTERM: kafka removes the bootstrap file" test ! -e "$BSF"
t_done
