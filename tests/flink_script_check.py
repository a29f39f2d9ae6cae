#!/usr/bin/env python3
"""flink_script_check.py — checks what `cptop --flink URL --json` printed
while tests/flink_script.py played its script (from its gate to its last
step): the derived events, in order, each once, across the restore and the
JobManager failover.

  flink_script_check.py JSONFILE VERSION

Prints one line per failed expectation and exits 1 if there was any.
"""
import json
import sys

path, version = sys.argv[1], sys.argv[2]
lines = [json.loads(l) for l in open(path) if l.strip()]
bad = []


def expect(cond, what):
    if not cond:
        bad.append(what)


expect(lines and lines[0].get("type") == "state", "the first line is the state")
st = lines[0]
res = st.get("result", {})
hist = [(c["id"], c["status"]) for c in res.get("history", [])]
expect(hist == [(1, "completed")], "the state line holds checkpoint 1 completed: %s" % hist)
expect(not res.get("inflight"), "the state line has nothing in flight")
expect([o["name"] for o in res.get("operators", [])] ==
       ["Source: payments", "Map: parse", "Sink: totals"], "the state names the three vertices")

msgs = lines[1:]
seqs = [m["seq"] for m in msgs]
expect(seqs == list(range(st["seq"] + 1, st["seq"] + 1 + len(msgs))),
       "the messages after the state follow its seq, none missing or repeated")
ev = [m for m in msgs if m["type"] not in ("heartbeat", "hello")]
kinds = [(m["type"], m.get("id")) for m in ev]


def ids(t):
    return [m["id"] for m in ev if m["type"] == t]


expect(ids("cp_triggered") == [2, 3, 4, 5, 6, 7],
       "cp_triggered for 2..7, once each, in order: %s" % ids("cp_triggered"))
expect(ids("cp_completed") == [2, 4, 6, 7], "cp_completed 2, 4, 6, 7 once each: %s"
       % ids("cp_completed"))
expect(ids("cp_failed") == [3, 5], "cp_failed 3 and 5 once each: %s" % ids("cp_failed"))
expect([(m["id"], m["attempt"]) for m in ev if m["type"] == "restored"] == [(2, 1), (4, 1)],
       "restored from 2, then from 4 (after the failover), each once")


def at(t, i):
    for k, m in enumerate(ev):
        if m["type"] == t and m.get("id") == i:
            return k
    return -1


order = [("cp_triggered", 2), ("cp_completed", 2), ("cp_triggered", 3), ("cp_failed", 3),
         ("restored", 2), ("cp_triggered", 4), ("cp_completed", 4), ("cp_triggered", 5),
         ("cp_failed", 5), ("restored", 4), ("cp_triggered", 6), ("cp_completed", 6),
         ("cp_triggered", 7), ("cp_completed", 7)]
pos = [at(*o) for o in order]
expect(all(p >= 0 for p in pos) and pos == sorted(pos),
       "the script's order: %s" % [kinds[p] if p >= 0 else None for p in pos])

f3 = [m for m in ev if m["type"] == "cp_failed" and m["id"] == 3]
expect(f3 and f3[0]["reason"] == "CHECKPOINT_EXPIRED" and
       f3[0]["message"] == "Checkpoint expired before completing.",
       "3 failed by expiry, with Flink's message: %s" % f3)
f5 = [m for m in ev if m["type"] == "cp_failed" and m["id"] == 5]
expect(f5 and f5[0]["reason"] == "TASK_FAILURE" and
       "restarted (from checkpoint 4)" in f5[0]["message"],
       "5, in flight at the failover, failed by the restart: %s" % f5)

for cid, n in ((2, 5), (3, 1), (4, 5), (5, 2), (6, 5), (7, 5)):
    acks = [(m["op"], m["subtask"]) for m in ev if m["type"] == "ack" and m["id"] == cid]
    expect(len(acks) == n and len(set(acks)) == n,
           "checkpoint %d: %d subtasks acknowledged, each once: %s" % (cid, n, acks))
    end = max(at("cp_completed", cid), at("cp_failed", cid))
    expect(all(at("cp_triggered", cid) < k < end for k, m in enumerate(ev)
               if m["type"] == "ack" and m["id"] == cid),
           "checkpoint %d: its acks between its trigger and its end" % cid)


def ack(cid, op, sub):
    a = [m for m in ev if m["type"] == "ack" and m["id"] == cid and m["op"] == op and
         m["subtask"] == sub]
    return a[0] if a else {}


# a subtask acknowledged alone came through subtasks/VERTEX, with its figures
for cid, op in ((2, 1), (3, 0)):
    a = ack(cid, op, 0)
    expect(a.get("sync_us") == 7000 and a.get("async_us") == 31000 and
           a.get("alignment_us") == 3000 and a.get("start_delay_us") == 11000,
           "checkpoint %d: op %d subtask 0's ack carries its subtask's figures: %s" % (cid, op, a))
    full = 4000 * cid // 5
    cp = 1000 * cid // 5 if version != "1.12" else full
    expect(a.get("state_size") == full and a.get("checkpointed_size") == cp,
           "checkpoint %d: op %d subtask 0's sizes (%d, %d): %s" % (cid, op, full, cp, a))

c2 = [m for m in ev if m["type"] == "cp_completed" and m["id"] == 2]
# 1.12 has no checkpointed_size: the full size stands in
want = 8000 if version == "1.12" else 2000
expect(c2 and c2[0]["duration_us"] == 3500000 and c2[0]["state_size"] == 8000 and
       c2[0]["checkpointed_size"] == want,
       "2 completed in 3.5 s, 8000 B, %d B checkpointed: %s" % (want, c2))

for b in bad:
    print("  %s" % b)
sys.exit(1 if bad else 0)
