#!/usr/bin/env bash
# cpdemo verify, end to end against cpdemo kafka, without cpdemo run: the
# committed results are written by an independent Python model of the job
# (its own JSON rule, its own aggregation) straight into the sink's tables,
# then corrupted in each way verify must notice.
. "$(dirname "$0")/lib.sh"
CPDEMO=$BUILD/bin/cpdemo
BSF=$T_TMP/bs
export LC_ALL=C

# python3 (with sqlite3) and kcat are required: fail loudly, never skip
for tool in python3 kcat; do
  if ! command -v "$tool" >/dev/null; then
    fail "$tool is required by t_verify.sh (Debian: apt-get install $tool)"
    t_done; exit 1
  fi
done
if ! python3 -c 'import sqlite3, json' 2>/dev/null; then
  fail "python3 lacks the sqlite3 or json module"; t_done; exit 1
fi

# ---- the model of the job: records (kcat "%p %o %s") -> sink tables
cat >"$T_TMP/model.py" <<'EOF'
"""model.py RECORDS DB ENDS [PARTITIONS]: writes the committed state a correct
job would have after reading each partition up to ENDS ("full": everything,
"cut": a few records short of the end per partition, "none": no checkpoint,
"P=N,P=N": explicit), with the sink's schema (demo-job/cpd_sink.c).
Prints the number of good records covered."""
import json, sqlite3, sys

recs, dbpath, ends_spec = sys.argv[1:4]
parts = int(sys.argv[4]) if len(sys.argv) > 4 else 4

def no_dups(pairs):
    d = {}
    for k, v in pairs:
        if k in d:
            raise ValueError("duplicate " + k)
        d[k] = v
    return d

def good(raw):
    try:
        o = json.loads(raw.decode("utf-8"), object_pairs_hook=no_dups)
    except Exception:
        return None
    if not isinstance(o, dict) or "bad" in o:
        return None
    a = o.get("account")
    if not isinstance(a, str) or not 1 <= len(a.encode()) <= 31 or "\0" in a:
        return None
    if any(type(o.get(k)) is not int for k in ("amount_cents", "ts_ms", "id")):
        return None
    return a, o["amount_cents"], o["ts_ms"]

records = []
with open(recs, "rb") as f:
    for line in f.read().split(b"\n"):
        if line:
            p, o, v = line.split(b" ", 2)
            records.append((int(p), int(o), v))
records.sort()
hw = {}
for p, o, _ in records:
    hw[p] = max(hw.get(p, 0), o + 1)
if ends_spec == "full":
    ends = {p: hw.get(p, 0) for p in range(parts)}
elif ends_spec == "cut":
    ends = {p: max(0, hw.get(p, 0) - (5 + 3 * p)) for p in range(parts)}
elif ends_spec == "none":
    ends = None
else:
    ends = {int(k): int(v) for k, v in (kv.split("=") for kv in ends_spec.split(","))}

acc, dead, n_good = {}, [], 0
for p, o, v in records:
    if ends is None or o >= ends.get(p, 0):
        continue
    g = good(v)
    if g is None:
        dead.append((p, o, "malformed", v, 1))
        continue
    n_good += 1
    a, amt, ts = g
    if a not in acc:
        acc[a] = [0, 0, amt, amt, ts]
    r = acc[a]
    r[0] += 1; r[1] += amt; r[2] = min(r[2], amt); r[3] = max(r[3], amt); r[4] = ts

db = sqlite3.connect(dbpath)
db.executescript("""
CREATE TABLE accounts (account TEXT PRIMARY KEY, count INTEGER NOT NULL,
  sum_cents INTEGER NOT NULL, min_cents INTEGER NOT NULL, max_cents INTEGER NOT NULL,
  last_ts_ms INTEGER NOT NULL);
CREATE TABLE dead_letters (partition INTEGER NOT NULL, offset INTEGER NOT NULL,
  error TEXT NOT NULL, raw BLOB, checkpoint_id INTEGER NOT NULL, PRIMARY KEY (partition, offset));
CREATE TABLE commits (checkpoint_id INTEGER PRIMARY KEY, committed_at_ms INTEGER NOT NULL,
  rows INTEGER NOT NULL);
CREATE TABLE committed_offsets (partition INTEGER PRIMARY KEY, next_offset INTEGER NOT NULL,
  checkpoint_id INTEGER NOT NULL);
""")
db.executemany("INSERT INTO accounts VALUES (?,?,?,?,?,?)", [(a, *r) for a, r in acc.items()])
db.executemany("INSERT INTO dead_letters VALUES (?,?,?,?,?)", dead)
if ends is not None:
    db.execute("INSERT INTO commits VALUES (1, 0, ?)", (len(acc),))
    db.executemany("INSERT INTO committed_offsets VALUES (?,?,1)", sorted(ends.items()))
db.commit()
print(n_good)
EOF

# sql DB STATEMENT...: runs SQL on a copy's database, prints the first value
sql() { python3 - "$@" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for s in sys.argv[2:]:
    row = db.execute(s).fetchone()
    if row is not None:
        print(row[0])
db.commit()
EOF
}

# config NAME [EXTRA-JSON-MEMBERS]: a job configuration using $T_TMP/NAME.db
config() {
  cat >"$T_TMP/$1.json" <<EOF
{ "execution.checkpointing.interval": "1s",
  "source.kafka.bootstrap-file": "$BSF",
  "sink.url": "sqlite:$T_TMP/$1.db"${2:+,
  $2} }
EOF
  echo "$T_TMP/$1.json"
}

# run_verify NAME [ARGS...]: sets rc, out (stdout), err file $T_TMP/NAME.err
run_verify() {
  local name=$1; shift
  out=$(timeout 60 "$CPDEMO" verify "$@" 2>"$T_TMP/$name.err"); rc=$?
  echo "$out" >"$T_TMP/$name.out"
}
# expect NAME RC LINE: the last run exited RC and printed exactly LINE
expect() {
  local lines; lines=$(printf '%s\n' "$out" | grep -c .)
  if [ "$rc" -eq "$2" ] && [ "$out" = "$3" ] && [ "$lines" -eq 1 ]; then ok "$1"
  else fail "$1" "exit $rc, stdout '$out'; $(tail -4 "$T_TMP/${4:-x}.err" 2>/dev/null | tr '\n' ' ')"; fi
}
# stderr_has NAME FILE PATTERN
stderr_has() { if grep -q -- "$3" "$T_TMP/$2.err"; then ok "$1"; else fail "$1" "$(tail -3 "$T_TMP/$2.err" | tr '\n' ' ')"; fi; }

# exits NAME RC PATTERN COMMAND...: the command exits RC and its output matches PATTERN
exits() {
  local n=$1 want=$2 pat=$3; shift 3
  "$@" >"$T_TMP/exits.out" 2>&1; local rc=$?
  if [ "$rc" -eq "$want" ] && grep -q -- "$pat" "$T_TMP/exits.out"; then ok "$n"
  else fail "$n" "exit $rc: $(tail -2 "$T_TMP/exits.out" | tr '\n' ' ')"; fi
}

# ---- usage (no Kafka needed)
check "verify --help exits 0 and documents --config and --allow-duplicates" \
  bash -c "$CPDEMO verify --help | grep 'usage: cpdemo verify --config FILE' && $CPDEMO verify --help | grep -- --allow-duplicates"
check "cpdemo --help lists verify" bash -c "$CPDEMO --help | grep '^  verify '"
exits "verify without --config exits 2 naming it" 2 '--config is required' "$CPDEMO" verify
exits "verify with an unknown option exits 2 naming it" 2 "unknown option '--frob'" \
  "$CPDEMO" verify --config x --frob
check "verify --allow-duplicates=yes exits 2" \
  bash -c "$CPDEMO verify --config x --allow-duplicates=yes 2>/dev/null; test \$? -eq 2"
exits "verify with a missing config file exits 2 naming it" 2 'nope.json: cannot open' \
  "$CPDEMO" verify --config "$T_TMP/nope.json"
cfg=$(config badmode '"execution.checkpointing.mode": "SOMETIMES", "parallelism.default": 0')
check "bad config values exit 2, each key named" \
  bash -c "$CPDEMO verify --config $cfg 2>$T_TMP/badmode.err; test \$? -eq 2 &&
           grep -q 'execution.checkpointing.mode' $T_TMP/badmode.err && grep -q 'parallelism.default' $T_TMP/badmode.err"
printf '{ "sink.url": "sqlite:%s/x.db" }\n' "$T_TMP" >"$T_TMP/nokafka.json"
exits "no bootstrap in the config exits 2 naming both keys" 2 'neither source.kafka.bootstrap-servers nor source.kafka.bootstrap-file' \
  "$CPDEMO" verify --config "$T_TMP/nokafka.json"
printf '{ "source.kafka.bootstrap-file": "%s/no-such-file", "sink.url": "sqlite:%s/x.db" }\n' "$T_TMP" "$T_TMP" >"$T_TMP/nobsf.json"
exits "an unreadable bootstrap file exits 1 naming it" 1 "source.kafka.bootstrap-file $T_TMP/no-such-file: cannot read" \
  "$CPDEMO" verify --config "$T_TMP/nobsf.json"

# ---- Kafka with the records
bg bash -c "exec $CPDEMO kafka --partitions 4 --bootstrap-file $BSF >$T_TMP/kafka.out 2>$T_TMP/kafka.err"
if ! wait_for 10 test -s "$BSF"; then
  fail "cpdemo kafka wrote no bootstrap file" "$(cat "$T_TMP/kafka.err")"; t_done; exit 1
fi
BS=$(cat "$BSF")
check "produce 2000 records, every 100th malformed" \
  bash -c "$CPDEMO produce --bootstrap-file $BSF --count 2000 --seed 3 --bad-every 100 2>$T_TMP/p.err && grep -q '(20 malformed)' $T_TMP/p.err"
kcat -b "$BS" -C -e -q -o beginning -t payments -f '%p %o %s\n' >"$T_TMP/records.txt"
check "kcat reads the 2000 records back" test "$(wc -l <"$T_TMP/records.txt")" -eq 2000

exits "sink missing: exit 1 naming the database" 1 "no database at $T_TMP/absent.db" \
  "$CPDEMO" verify --config "$(config absent)"

# ---- the correct state: exit 0
cfg=$(config good)
n=$(python3 "$T_TMP/model.py" "$T_TMP/records.txt" "$T_TMP/good.db" full)
check "the model covers 1980 good records" test "$n" = 1980
run_verify good --config "$cfg"
expect "correct results: exit 0, records 1980, all zero" 0 "records 1980, lost 0, duplicated 0, mismatched accounts 0" good
stderr_has "stderr: dead letters match (20)" good "dead letters: 20 expected, 20 in the database: match"
stderr_has "stderr: 1980 good, 20 malformed read" good "1980 good, 20 malformed"
run_verify good2 --config "$cfg" --allow-duplicates
expect "correct results with --allow-duplicates: exit 0" 0 "records 1980, lost 0, duplicated 0, mismatched accounts 0" good2

# up to offsets short of the end: only what they cover
cp_db() { cp "$T_TMP/good.db" "$T_TMP/$1.db"; config "$1"; }
cfg=$(config cut)
n=$(python3 "$T_TMP/model.py" "$T_TMP/records.txt" "$T_TMP/cut.db" cut)
run_verify cut --config "$cfg"
expect "committed offsets short of the end: records $n, exit 0" 0 "records $n, lost 0, duplicated 0, mismatched accounts 0" cut
check "  ($n < 1980)" test "$n" -lt 1980
# the full results but offsets that claim less: duplicated
cfg=$(config claimless)
python3 "$T_TMP/model.py" "$T_TMP/records.txt" "$T_TMP/claimless.db" full >/dev/null
sql "$T_TMP/claimless.db" "UPDATE committed_offsets SET next_offset = next_offset - 10 WHERE partition = 1"
run_verify claimless --config "$cfg"
check "results beyond the committed offsets: duplicated > 0, exit 1" \
  bash -c "test $rc -eq 1 && grep -Eq '^records [0-9]+, lost 0, duplicated [1-9][0-9]*, mismatched accounts 0$' $T_TMP/claimless.out"

# ---- corruptions
first="SELECT min(account) FROM accounts"
cfg=$(cp_db lost)
c0=$(sql "$T_TMP/lost.db" "SELECT count FROM accounts WHERE account = ($first)" "DELETE FROM accounts WHERE account = ($first)")
run_verify lost --config "$cfg"
expect "one account row deleted: lost $c0, exit 1" 1 "records 1980, lost $c0, duplicated 0, mismatched accounts 0" lost
stderr_has "stderr names the missing account" lost ": missing from the database; expected count $c0"
run_verify lost2 --config "$cfg" --allow-duplicates
expect "lost fails with --allow-duplicates too" 1 "records 1980, lost $c0, duplicated 0, mismatched accounts 0" lost2

cfg=$(cp_db dup)
acct=$(sql "$T_TMP/dup.db" "$first" "UPDATE accounts SET count = count + 1, sum_cents = sum_cents + 500 WHERE account = ($first)")
run_verify dup --config "$cfg"
expect "one count bumped: duplicated 1, exit 1" 1 "records 1980, lost 0, duplicated 1, mismatched accounts 0" dup
stderr_has "stderr names the duplicated account" dup "$acct: 1 duplicated"
run_verify dup2 --config "$cfg" --allow-duplicates
expect "one count bumped, --allow-duplicates: exit 0, still counted" 0 "records 1980, lost 0, duplicated 1, mismatched accounts 0" dup2

cfg=$(cp_db sum)
acct=$(sql "$T_TMP/sum.db" "$first" "UPDATE accounts SET sum_cents = sum_cents + 1 WHERE account = ($first)")
run_verify sum --config "$cfg"
expect "one sum changed: mismatched 1, exit 1" 1 "records 1980, lost 0, duplicated 0, mismatched accounts 1" sum
stderr_has "stderr names the account and the sum" sum "$acct: mismatched (count [0-9]* as expected): sum_cents expected"
run_verify sum2 --config "$cfg" --allow-duplicates
expect "one sum changed, --allow-duplicates: still exit 1" 1 "records 1980, lost 0, duplicated 0, mismatched accounts 1" sum2

cfg=$(cp_db last)
sql "$T_TMP/last.db" "UPDATE accounts SET last_ts_ms = last_ts_ms - 10 WHERE account IN (SELECT account FROM accounts ORDER BY account LIMIT 3)"
run_verify last --config "$cfg"
expect "three last_ts_ms changed: mismatched 3, exit 1" 1 "records 1980, lost 0, duplicated 0, mismatched accounts 3" last

cfg=$(cp_db extra)
sql "$T_TMP/extra.db" "INSERT INTO accounts VALUES ('acct-x', 4, 40, 10, 10, 1)"
run_verify extra --config "$cfg"
expect "an account that no record has: duplicated 4, exit 1" 1 "records 1980, lost 0, duplicated 4, mismatched accounts 0" extra
stderr_has "stderr names the unexpected account" extra "acct-x: in the database"

cfg=$(cp_db dead)
sql "$T_TMP/dead.db" "DELETE FROM dead_letters WHERE rowid = (SELECT min(rowid) FROM dead_letters)"
run_verify dead --config "$cfg"
expect "a dead letter missing: all zero but exit 1" 1 "records 1980, lost 0, duplicated 0, mismatched accounts 0" dead
stderr_has "stderr reports the dead-letter difference" dead "dead letters: 20 malformed records expected, 19 in the database: MISSING"
run_verify dead2 --config "$cfg" --allow-duplicates
check "a dead letter missing fails with --allow-duplicates too" test "$rc" -eq 1

# ---- nothing committed
cfg=$(config none)
python3 "$T_TMP/model.py" "$T_TMP/records.txt" "$T_TMP/none.db" none >/dev/null
run_verify none --config "$cfg"
expect "no checkpoint, empty results: records 0, exit 0" 0 "records 0, lost 0, duplicated 0, mismatched accounts 0" none
stderr_has "stderr says no checkpoint is committed" none "no checkpoint committed yet"
sql "$T_TMP/none.db" "INSERT INTO accounts VALUES ('acct-0001', 2, 20, 10, 10, 1)"
run_verify none2 --config "$cfg"
expect "no checkpoint but rows: duplicated 2, exit 1" 1 "records 0, lost 0, duplicated 2, mismatched accounts 0" none2

# ---- what verify cannot prove
cfg=$(config beyond)
python3 "$T_TMP/model.py" "$T_TMP/records.txt" "$T_TMP/beyond.db" full >/dev/null
sql "$T_TMP/beyond.db" "UPDATE committed_offsets SET next_offset = next_offset + 5 WHERE partition = 2"
run_verify beyond --config "$cfg"
check "committed offsets beyond the topic's end: exit 1, named, no summary" \
  bash -c "test $rc -eq 1 && test -z '$out' && grep -q 'partition 2 of payments ends at offset' $T_TMP/beyond.err"

cfg=$(config wrongparts)
python3 "$T_TMP/model.py" "$T_TMP/records.txt" "$T_TMP/wrongparts.db" "0=1,9=1" >/dev/null
run_verify wrongparts --config "$cfg"
check "offsets of a partition the topic lacks: exit 1, named" \
  bash -c "test $rc -eq 1 && grep -q 'committed offsets for partition 9, but topic payments has 4 partitions' $T_TMP/wrongparts.err"

# a partition that lost its oldest records (the mock keeps ~5 MiB a partition)
for i in $(seq 60); do head -c 75000 /dev/urandom | base64 -w0; echo; done >"$T_TMP/big.txt"
kcat -b "$BS" -P -t big -p 0 <"$T_TMP/big.txt"
cfg=$(config dropped '"source.kafka.topic": "big"')
python3 "$T_TMP/model.py" /dev/null "$T_TMP/dropped.db" "0=50" >/dev/null
run_verify dropped --config "$cfg"
check "a partition whose low watermark is > 0: exit 1, 'records were dropped'" \
  bash -c "test $rc -eq 1 && grep -Eq 'partition 0 starts at offset [1-9][0-9]*: records were dropped by the broker; verify cannot prove anything' $T_TMP/dropped.err"

cfg=$(config notopic '"source.kafka.topic": "no-such-topic-x"')
python3 "$T_TMP/model.py" /dev/null "$T_TMP/notopic.db" "0=5" >/dev/null
run_verify notopic --config "$cfg"
check "a topic the job never read: exit 1 within the limit" \
  bash -c "test $rc -eq 1 && grep -Eq 'topic no-such-topic-x|partition 0 of no-such-topic-x' $T_TMP/notopic.err"

# ---- Kafka unreachable: a clear error, not a hang
cat >"$T_TMP/down.json" <<EOF
{ "source.kafka.bootstrap-servers": "127.0.0.1:1", "sink.url": "sqlite:$T_TMP/good.db" }
EOF
s=$(date +%s)
run_verify down --config "$T_TMP/down.json"
dt=$(($(date +%s) - s))
check "unreachable bootstrap: exit 1 within 20 s naming it (${dt} s)" \
  bash -c "test $rc -eq 1 && test $dt -lt 20 && grep -q 'cannot reach Kafka at 127.0.0.1:1' $T_TMP/down.err"

# the job is a job like any other (ARCHITECTURE.md, Layers): it parses records
# with its own code and reaches the protocol only through cpagent.h, so none
# of its objects references a protocol symbol (cpw_*) or its JSON internals (cpj_*)
check "the job uses none of the protocol's internals (cpw_*, cpj_*)" \
  bash -c "ls '$BUILD'/obj/demo-job/cpd_*.o >/dev/null && ! nm -u '$BUILD'/obj/demo-job/cpd_*.o | grep -qE ' (cpj|cpw)_'"
t_done
