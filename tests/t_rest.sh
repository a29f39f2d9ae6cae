#!/usr/bin/env bash
# cpdemo run with agent.rest.listen: every endpoint of Flink's REST API that
# libcpagent answers, fetched with curl and checked against Flink's JSON
# schema for it (tests/fixtures/flink/rest_api_v1_subset.json); the numbers
# against what `cptop --once` says of the same job; a checkpoint triggered
# with `curl -X POST` completes and shows COMPLETED with its id.
. "$(dirname "$0")/lib.sh"
export XDG_RUNTIME_DIR=$T_TMP
CPDEMO=$top/$BUILD/bin/cpdemo
CPTOP=$top/$BUILD/bin/cptop
SCHEMA=$top/tests/fixtures/flink/rest_api_v1_subset.json
for tool in curl python3; do # required: fail loudly, never skip
  command -v "$tool" >/dev/null || { fail "$tool is required (scripts/deps.sh --for test)"; t_done; exit 1; }
done
cd "$T_TMP" && mkdir -p var

# ---------------------------------------------------------------- helpers

# validate ENDPOINT FILE: the body matches the schema of "METHOD /path"
cat > validate.py <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))
defs, name, body = doc["defs"], sys.argv[2], json.load(open(sys.argv[3]))
errors = []
def check(node, val, path):
    if "$ref" in node:
        nullable = node.get("nullable")
        node = dict(defs[node["$ref"]])
        if nullable:
            node["nullable"] = True
    if val is None:
        if not node.get("nullable"):
            errors.append(f"{path}: null")
        return
    t = node.get("type", "any")
    if "enum" in node and val not in node["enum"]:
        errors.append(f"{path}: {val!r} not one of {node['enum']}")
    if t == "object":
        if not isinstance(val, dict):
            return errors.append(f"{path}: not an object")
        props = node.get("properties", {})
        for k in node.get("required", []):
            if k not in val:
                errors.append(f"{path}.{k}: missing")
        for k, v in val.items():
            if k in props:
                check(props[k], v, f"{path}.{k}")
            elif "additionalProperties" in node:
                check(node["additionalProperties"], v, f"{path}.{k}")
            else:
                errors.append(f"{path}.{k}: not in Flink's schema")
    elif t == "array":
        if not isinstance(val, list):
            return errors.append(f"{path}: not an array")
        for i, v in enumerate(val):
            check(node.get("items", {}), v, f"{path}[{i}]")
    elif t == "integer":
        if not isinstance(val, int) or isinstance(val, bool):
            errors.append(f"{path}: {val!r} is not an integer")
    elif t == "number":
        if not ((isinstance(val, (int, float)) and not isinstance(val, bool))
                or val in ("NaN", "Infinity", "-Infinity")):
            errors.append(f"{path}: {val!r} is not a number")
    elif t == "string":
        if not isinstance(val, str):
            errors.append(f"{path}: {val!r} is not a string")
    elif t == "boolean":
        if not isinstance(val, bool):
            errors.append(f"{path}: {val!r} is not a boolean")
check(doc["endpoints"][name], body, "$")
if errors:
    print("\n".join(errors[:10]))
    sys.exit(1)
EOF

# fetch METHOD PATH WANT-STATUS SCHEMA-NAME [curl args]: body in $T_TMP/r.json
fetch() {
  local method=$1 path=$2 want=$3 name=$4; shift 4
  local code
  code=$(curl -sS -o "$T_TMP/r.json" -w '%{http_code}' -X "$method" "$@" "$REST$path") || return 1
  [ "$code" = "$want" ] || { echo "HTTP $code, expected $want: $(head -c 300 "$T_TMP/r.json")"; return 1; }
  python3 validate.py "$SCHEMA" "$name" "$T_TMP/r.json"
}

# jq-less field access: py EXPR FILE prints the Python expression over body b
py() { python3 -c "import json,sys; b=json.load(open(sys.argv[1])); print($1)" "$2"; }

# ---------------------------------------------------------------- the job

bg "$CPDEMO" kafka --partitions 2 --bootstrap-file var/kafka.bootstrap
wait_for 10 test -s var/kafka.bootstrap || fail "cpdemo kafka did not start"
bg "$CPDEMO" produce --bootstrap-file var/kafka.bootstrap --count 2000000 --rate 2000 --seed 7
cat > rest.json <<EOF
{ "pipeline.name": "rest", "parallelism.default": 2,
  "source.kafka.bootstrap-file": "var/kafka.bootstrap",
  "sink.url": "sqlite:var/rest.db",
  "execution.checkpointing.interval": "1 s",
  "execution.checkpointing.storage": "var/checkpoints",
  "agent.rest.listen": "127.0.0.1:0" }
EOF
bg "$CPDEMO" run --config rest.json
check "the job starts and says where its REST endpoint is" \
  wait_for 20 grep -q '"rest":"http://127.0.0.1:' "$T_TMP/cptop/rest.json"
REST=$(py 'b["rest"]' "$T_TMP/cptop/rest.json")
check "it completes checkpoints" \
  wait_for 20 bash -c "curl -sf '$REST/jobs/overview' >/dev/null && \
    curl -sf \"$REST/jobs/\$(curl -sf '$REST/jobs' | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"jobs\"][0][\"id\"])')/checkpoints\" \
    | python3 -c 'import json,sys; sys.exit(json.load(sys.stdin)[\"counts\"][\"completed\"] < 4)'"
JID=$(curl -sf "$REST/jobs" | python3 -c 'import json,sys; print(json.load(sys.stdin)["jobs"][0]["id"])')

# ---------------------------------------------------------------- every endpoint against Flink's schema

check "GET /config" fetch GET /config 200 "GET /config"
check "/config says what it emulates and that it is libcpagent" \
  bash -c "python3 -c 'import json,sys; v=json.load(open(sys.argv[1]))[\"flink-version\"]; sys.exit(not (v.startswith(\"1.19\") and \"libcpagent\" in v))' $T_TMP/r.json"
check "GET /v1/jobs (the optional prefix)" fetch GET /v1/jobs 200 "GET /jobs"
check "GET /jobs/overview" fetch GET /jobs/overview 200 "GET /jobs/overview"
check "GET /jobs/:jid" fetch GET "/jobs/$JID" 200 "GET /jobs/:jobid"
check "the job's vertices are its operators with their parallelism" \
  test "$(py '" ".join("%s:%d" % (v["name"], v["parallelism"]) for v in b["vertices"])' "$T_TMP/r.json")" \
  = "source:2 parse:2 aggregate:2 sink:2"
check "read-records come from the heartbeats' counters" \
  bash -c "python3 -c 'import json,sys; sys.exit(json.load(open(sys.argv[1]))[\"vertices\"][1][\"metrics\"][\"read-records\"] <= 0)' $T_TMP/r.json"
VID=$(py 'b["vertices"][0]["id"]' "$T_TMP/r.json")
check "GET /jobs/:jid/checkpoints/config" fetch GET "/jobs/$JID/checkpoints/config" 200 \
  "GET /jobs/:jobid/checkpoints/config"
check "mode is lowercase, interval in ms" \
  bash -c "[ \"\$(python3 -c 'import json,sys; b=json.load(open(sys.argv[1])); print(b[\"mode\"], b[\"interval\"])' $T_TMP/r.json)\" = 'exactly_once 1000' ]"
check "GET /jobs/:jid/checkpoints" fetch GET "/jobs/$JID/checkpoints" 200 "GET /jobs/:jobid/checkpoints"
cp "$T_TMP/r.json" "$T_TMP/stats.json"
CPID=$(py '[c["id"] for c in b["history"] if c["status"] == "COMPLETED"][0]' "$T_TMP/stats.json")
check "GET …/checkpoints/details/:cpid (with tasks)" \
  fetch GET "/jobs/$JID/checkpoints/details/$CPID" 200 "GET /jobs/:jobid/checkpoints/details/:checkpointid"
check "details list a task per operator" bash -c "[ \"\$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))[\"tasks\"]))' $T_TMP/r.json)\" = 4 ]"
# per-subtask detail is kept for the newest 8 finished checkpoints: under load
# the one above may have left that window (one a second), so take the newest
curl -sS -o "$T_TMP/now.json" "$REST/jobs/$JID/checkpoints" &&
  CPID=$(py '[c["id"] for c in b["history"] if c["status"] == "COMPLETED"][0]' "$T_TMP/now.json")
check "GET …/details/:cpid/subtasks/:vid" fetch GET "/jobs/$JID/checkpoints/details/$CPID/subtasks/$VID" 200 \
  "GET /jobs/:jobid/checkpoints/details/:checkpointid/subtasks/:vertexid"
check "an unknown checkpoint is Flink's 404" fetch GET "/jobs/$JID/checkpoints/details/999999" 404 error
check "an unknown path is Flink's 404" fetch GET /nope 404 error
check "a wrong method is 405" fetch DELETE /jobs 405 error
check "a malformed id is 400" fetch GET /jobs/xyz 400 error
check "a malformed trigger body is 400" fetch POST "/jobs/$JID/checkpoints" 400 error -d '{bad'
# cpdemo's command handler does not cancel (it answers unsupported): Flink's error shape
check "PATCH cancel is refused with a clear error" fetch PATCH "/jobs/$JID?mode=cancel" 501 error

# ---------------------------------------------------------------- the numbers against cptop --once

cat > compare.py <<'EOF'
import json, re, sys
once, stats = open(sys.argv[1]).read(), json.load(open(sys.argv[2]))
rows = {}
row = (r"^ *(\d+) (completed|failed) +(periodic|manual) +(aligned|unaligned|switched) +(\S+) +(\d+) B"
       r" +(\d+) B persisted +(\d+)/(\d+) acks")
for m in re.finditer(row, once, re.M):
    d = m.group(5)
    ms = float(d[:-2]) / 1000 if d.endswith("us") else float(d[:-2]) if d.endswith("ms") else float(d[:-1]) * 1000
    kind = "CHECKPOINT" if m.group(4) == "aligned" else "UNALIGNED_CHECKPOINT"
    rows[int(m.group(1))] = (m.group(2).upper(), kind, ms, int(m.group(6)), int(m.group(7)), int(m.group(8)),
                             int(m.group(9)))
same = 0
for c in stats["history"]:
    if c["id"] not in rows or c["status"] == "IN_PROGRESS":
        continue
    status, kind, ms, size, persisted, acks, total = rows[c["id"]]
    ok = (c["status"] == status and c["checkpoint_type"] == kind and c["state_size"] == size
          and c["persisted_data"] == persisted and c["num_acknowledged_subtasks"] == acks
          and c["num_subtasks"] == total and abs(c["end_to_end_duration"] - ms) < (100 if ms >= 10000 else 1))
    if not ok:
        sys.exit(f"checkpoint {c['id']}: REST {c} / cptop {rows[c['id']]}")
    same += 1
if same < 3:
    sys.exit(f"only {same} checkpoints in both")
tot = [int(x) for x in re.search(r"total (\d+), in progress \d+, completed (\d+), failed (\d+)", once).groups()]
print(same, tot)
EOF
"$CPTOP" --job rest --once > once1.txt
curl -sf "$REST/jobs/$JID/checkpoints" > stats.json
"$CPTOP" --job rest --once > once2.txt
check "ids, statuses, types, acks, durations, sizes and persisted bytes agree with cptop --once" python3 compare.py once2.txt stats.json
check "counts lie between two cptop --once around them" python3 -c "
import json, re
def counts(f): return [int(x) for x in re.search(r'total (\d+), in progress \d+, completed (\d+), failed (\d+)', open(f).read()).groups()]
a, b, c = counts('once1.txt'), json.load(open('stats.json'))['counts'], counts('once2.txt')
assert a[0] <= b['total'] <= c[0] and a[1] <= b['completed'] <= c[1] and a[2] <= b['failed'] <= c[2], (a, b, c)"

# ---------------------------------------------------------------- a checkpoint triggered with curl -X POST
# Periodic checkpoints every 10 s from here: on a loaded machine the manual
# one must not leave the newest 10 before the checks below look at it.
check "the interval goes to 10 s (ctl set)" "$CPTOP" --job rest ctl set execution.checkpointing.interval 10s

check "POST /jobs/:jid/checkpoints is 202 with a request id" \
  fetch POST "/jobs/$JID/checkpoints" 202 "POST /jobs/:jobid/checkpoints" \
  -H 'Content-Type: application/json' -d '{"checkpointType":"CONFIGURED"}'
RID=$(py 'b["request-id"]' "$T_TMP/r.json")
check "its status is Flink's AsynchronousOperationResult" \
  fetch GET "/jobs/$JID/checkpoints/$RID" 200 "GET /jobs/:jobid/checkpoints/:triggerid"
check "it completes and shows COMPLETED with its checkpoint id" \
  wait_for 20 bash -c "curl -sf '$REST/jobs/$JID/checkpoints/$RID' | python3 -c 'import json,sys; b=json.load(sys.stdin); sys.exit(not (b[\"status\"][\"id\"] == \"COMPLETED\" and isinstance(b[\"operation\"][\"checkpointId\"], int)))'"
curl -sf "$REST/jobs/$JID/checkpoints/$RID" > op.json
MID=$(py 'b["operation"]["checkpointId"]' op.json)
echo "  (request $RID: checkpoint $MID)"
# (cptop --once and the REST history show the newest 10: look at once)
check "it is COMPLETED in its REST details" \
  bash -c "curl -sf '$REST/jobs/$JID/checkpoints/details/$MID' | python3 -c 'import json,sys; b=json.load(sys.stdin); sys.exit(b[\"status\"] != \"COMPLETED\")'"
"$CPTOP" --job rest --once > once3.txt
grep -Eq "^ +$MID completed +manual" once3.txt || sed 's/^/    /' op.json once3.txt
check "and a completed manual checkpoint for cptop too" grep -Eq "^ +$MID completed +manual" once3.txt
check "the same triggerId is the same operation" \
  bash -c "[ \"\$(curl -sf -X POST -d '{\"triggerId\":\"$RID\"}' '$REST/jobs/$JID/checkpoints')\" = '{\"request-id\":\"$RID\"}' ]"
t_done
