#!/usr/bin/env python3
"""flink_script.py — a JobManager that plays a script, for
tests/t_flink_script.sh and tests/t_flink_auth.sh: one job (Source x2 ->
Map x2 -> Sink x1) whose checkpoint statistics go through STEPS, one step
per GET /jobs/:jid/checkpoints, in the REST shapes of Flink 1.12, 1.15 or
1.19 (as tests/fixtures/flink/ and protocol/cpw_flink_write.c show them).

  flink_script.py PORTFILE --version 1.12|1.15|1.19 [--gate FILE]
                  [--bearer TOKEN] [--basic USER:PASSWORD] [--tls CERT KEY]
                  [--stall REGEX]

  --gate FILE   stay at step 0 until FILE exists (a test first reads the
                state its client printed, then lets the script run)
  --bearer, --basic
                every request without "Authorization: Bearer TOKEN" (or that
                Basic pair) is answered 401, as a proxy in front of Flink does
  --tls CERT KEY
                HTTPS with that certificate and key
  --stall REGEX a request whose path matches is never answered (a JobManager
                stuck on it)

Steps (ids as Flink gives them; history newest first, at most 10):
   0  1 completed                                      (held at the gate)
   1  2 in progress, 0/5 acknowledged
   2  2: 2/5 (the sources)
   3  2: 3/5 (one map subtask: placed through subtasks/MAP)
   4  2 completed
   5  3 in progress, 1/5 (one source subtask)
   6  3 failed: "Checkpoint expired before completing."
   7  a restore from 2 (latest.restored; counts.restored 1)
   8  4 in progress, 0/5
   9  4 completed
  10  5 in progress, 2/5
  11  JobManager failover: history empty, counts 0 but restored 1, latest
      restored from 4; 5 is gone
  12  6 in progress, 0/5 (ids go on)
  13  6 completed
  14  7 completed, never seen in progress (the last step, kept)

A step is left only once the client asked what it needs to follow it (the
details of a checkpoint in flight whose acks rose, the subtasks of a vertex
acknowledged in part): the script cannot outrun a client, and one that does
not ask for them stops it. The step reached and what is still awaited are
written to PORTFILE.step at each change. Every request's path is appended
to PORTFILE.log. Listens on 127.0.0.1 (a free port, written to PORTFILE once
it listens). Ends on SIGTERM.
"""
import base64
import http.server
import json
import os
import re
import signal
import ssl
import sys
import threading
import time

ARGS = sys.argv[1:]
PORTFILE = ARGS.pop(0)
OPT = {"--version": "1.19", "--gate": None, "--bearer": None, "--basic": None, "--tls": None,
       "--stall": None}
while ARGS:
    k = ARGS.pop(0)
    if k not in OPT:
        sys.exit("flink_script.py: unknown option %s" % k)
    OPT[k] = (ARGS.pop(0), ARGS.pop(0)) if k == "--tls" else ARGS.pop(0)
VERSION = OPT["--version"]
if VERSION not in ("1.12", "1.15", "1.19"):
    sys.exit("flink_script.py: --version is 1.12, 1.15 or 1.19, not %s" % VERSION)
V12, V15 = VERSION == "1.12", VERSION == "1.15"
FULL_VERSION = {"1.12": "1.12.7", "1.15": "1.15.4", "1.19": "1.19.1"}[VERSION]
CLASS = "@class" if V12 else "className"

JID = "f1175c417ed0b0000000000000000001"
VERTS = [("a0000000000000000000000000000001", "Source: payments", 2),
         ("a0000000000000000000000000000002", "Map: parse", 2),
         ("a0000000000000000000000000000003", "Sink: totals", 1)]
NSUB = sum(p for _, _, p in VERTS)
T0 = int(time.time() * 1000) - 120000  # the script's clock: step k at T0 + k s
START = T0 - 60000

# cp id -> {step: (status, acks per vertex)}; statuses as Flink names them
CP = {
    1: {0: ("COMPLETED", [2, 2, 1])},
    2: {1: ("IN_PROGRESS", [0, 0, 0]), 2: ("IN_PROGRESS", [2, 0, 0]),
        3: ("IN_PROGRESS", [2, 1, 0]), 4: ("COMPLETED", [2, 2, 1])},
    3: {5: ("IN_PROGRESS", [1, 0, 0]), 6: ("FAILED", [1, 0, 0])},
    4: {8: ("IN_PROGRESS", [0, 0, 0]), 9: ("COMPLETED", [2, 2, 1])},
    5: {10: ("IN_PROGRESS", [2, 0, 0])},
    6: {12: ("IN_PROGRESS", [0, 0, 0]), 13: ("COMPLETED", [2, 2, 1])},
    7: {14: ("COMPLETED", [2, 2, 1])},
}
FIRST = {1: 0, 2: 1, 3: 5, 4: 8, 5: 10, 6: 12, 7: 14}  # the step each is triggered at
LAST = 14
FAILOVER = 11
RESTORES = [(7, 2), (11, 4)]  # (step, checkpoint restored)
EXPIRED = "Checkpoint expired before completing."
# what a client must ask at a step before the next one is served
NEEDS = {1: ["details/2"], 2: ["details/2"], 3: ["details/2", "details/2/subtasks/" + VERTS[1][0]],
         5: ["details/3", "details/3/subtasks/" + VERTS[0][0]], 8: ["details/4"],
         10: ["details/5"], 12: ["details/6"]}

LOCK = threading.Lock()
STATE = {"step": 0, "asked": set()}


def state_at(cid, step):
    """(status, acks) of checkpoint cid as step shows it, or None."""
    seen = [s for s in CP[cid] if s <= step]
    if not seen:
        return None
    if step >= FAILOVER and FIRST[cid] < FAILOVER:
        return None  # the new JobManager never knew it
    return CP[cid][max(seen)]


def sizes(cid, acks):
    """state_size, checkpointed_size of what acks acknowledged."""
    n = sum(acks)
    return 4000 * cid * n // NSUB, 1000 * cid * n // NSUB


def stat(v, empty=False):
    s = {"min": v, "max": v, "avg": v}
    if V12:
        return s
    for p in ("p50", "p90", "p95", "p99", "p999"):
        s[p] = "NaN" if empty or V15 else float(v)
    return s


def cp_entry(cid, step, tasks=False):
    st = state_at(cid, step)
    if not st:
        return None
    status, acks = st
    trig = T0 + FIRST[cid] * 1000
    done = status != "IN_PROGRESS"
    end = T0 + max(CP[cid]) * 1000 + 500
    e2e = end - trig if status == "COMPLETED" else (-1 if not sum(acks) else 450)
    size, cpsize = sizes(cid, acks)
    e = {CLASS: status.lower(), "id": cid, "status": status, "is_savepoint": False}
    if not V12:
        e["savepointFormat"] = None
    e.update({"trigger_timestamp": trig,
              "latest_ack_timestamp": end if status == "COMPLETED" else
              (trig + 450 if sum(acks) else -1)})
    if not V12:
        e["checkpointed_size"] = cpsize
    e.update({"state_size": size, "end_to_end_duration": e2e, "alignment_buffered": 0,
              "processed_data": 0, "persisted_data": 0, "num_subtasks": NSUB,
              "num_acknowledged_subtasks": sum(acks), "checkpoint_type": "CHECKPOINT",
              "tasks": {}})
    if status == "COMPLETED":
        e["external_path"] = "file:/flink/checkpoints/%s/chk-%d" % (JID, cid)
        e["discarded"] = False
    if status == "FAILED":
        e["failure_timestamp"] = end
        e["failure_message"] = EXPIRED
    if tasks:
        for v, (vid, _, par) in enumerate(VERTS):
            a = acks[v]
            t = {"id": cid, "status": status, "latest_ack_timestamp": trig + 100 * v + 50 if a else -1}
            if not V12:
                t["checkpointed_size"] = 1000 * cid * a // NSUB
            t.update({"state_size": 4000 * cid * a // NSUB,
                      "end_to_end_duration": 100 * v + 50 if a else -1,
                      "alignment_buffered": 0, "processed_data": 0, "persisted_data": 0,
                      "num_subtasks": par, "num_acknowledged_subtasks": a})
            e["tasks"][vid] = t
    return e


def restored_at(step):
    r = [x for x in RESTORES if x[0] <= step]
    if not r:
        return None, 0
    s, cid = r[-1]
    return ({"id": cid, "restore_timestamp": T0 + s * 1000 + 200, "is_savepoint": False,
             "external_path": "file:/flink/checkpoints/%s/chk-%d" % (JID, cid)},
            len(r) if step < FAILOVER else 1)


def stats(step):
    hist = [e for e in (cp_entry(c, step) for c in sorted(CP, reverse=True)) if e][:10]
    done = [e for e in hist if e["status"] == "COMPLETED"]
    failed = [e for e in hist if e["status"] == "FAILED"]
    restored, n_restored = restored_at(step)
    summary = {}
    if not V12:
        summary["checkpointed_size"] = stat(1000, not done)
    summary.update({"state_size": stat(4000, not done),
                    "end_to_end_duration": stat(2500, not done),
                    "alignment_buffered": stat(0), "processed_data": stat(0, True),
                    "persisted_data": stat(0, True)})
    return {"counts": {"restored": n_restored, "total": len(hist),
                       "in_progress": sum(1 for e in hist if e["status"] == "IN_PROGRESS"),
                       "completed": len(done), "failed": len(failed)},
            "summary": summary,
            "latest": {"completed": done[0] if done else None, "savepoint": None,
                       "failed": failed[0] if failed else None, "restored": restored},
            "history": hist}


def subtasks(cid, step, vid):
    st = state_at(cid, step)
    v = [i for i, x in enumerate(VERTS) if x[0] == vid]
    if not st or not v:
        return None
    v = v[0]
    status, acks = st
    trig = T0 + FIRST[cid] * 1000
    subs = []
    for s in range(VERTS[v][2]):
        if s < acks[v]:
            u = {CLASS: "completed", "index": s, "status": "completed",
                 "ack_timestamp": trig + 100 * v + 50 * s + 50,
                 "end_to_end_duration": 100 * v + 50 * s + 50}
            if not V12:
                u["checkpointed_size"] = 1000 * cid // NSUB
            u.update({"state_size": 4000 * cid // NSUB,
                      "checkpoint": {"sync": 7, "async": 31},
                      "alignment": {"buffered": 0, "processed": 0, "persisted": 0,
                                    "duration": 3},
                      "start_delay": 11, "unaligned_checkpoint": False, "aborted": False})
        else:
            u = {CLASS: "pending_or_failed", "index": s, "status": "pending_or_failed"}
        subs.append(u)
    a = acks[v]
    summ = {}
    if not V12:
        summ["checkpointed_size"] = stat(1000 * cid // NSUB)
    summ.update({"state_size": stat(4000 * cid // NSUB), "end_to_end_duration": stat(100),
                 "checkpoint_duration": {"sync": stat(7), "async": stat(31)},
                 "alignment": {"buffered": stat(0), "processed": stat(0), "persisted": stat(0),
                               "duration": stat(3)},
                 "start_delay": stat(11)})
    d = {"id": cid, "status": status, "latest_ack_timestamp": trig + 100 * v + 50 if a else -1}
    if not V12:
        d["checkpointed_size"] = 1000 * cid * a // NSUB
    d.update({"state_size": 4000 * cid * a // NSUB,
              "end_to_end_duration": 100 * v + 50 if a else -1, "alignment_buffered": 0,
              "processed_data": 0, "persisted_data": 0, "num_subtasks": VERTS[v][2],
              "num_acknowledged_subtasks": a, "summary": summ, "subtasks": subs})
    return d


TSTATES = ["CREATED", "SCHEDULED", "DEPLOYING", "RUNNING", "FINISHED", "CANCELING", "CANCELED",
           "FAILED", "RECONCILING"] + ([] if V12 else ["INITIALIZING"])


def config():
    c = {"refresh-interval": 3000, "timezone-name": "Coordinated Universal Time",
         "timezone-offset": 0, "flink-version": FULL_VERSION, "flink-revision": "script @ 2024",
         "features": {"web-submit": False}}
    if not V12:
        c["features"].update({"web-cancel": False, "web-history": False})
    return c


def overview(now):
    tasks = {"total": NSUB}
    tasks.update({s.lower(): NSUB if s == "RUNNING" else 0 for s in TSTATES})
    return {"jobs": [{"jid": JID, "name": "payments", "state": "RUNNING", "start-time": START,
                      "end-time": -1, "duration": now - START, "last-modification": START,
                      "tasks": tasks}]}


def job(now):
    verts, nodes = [], []
    for v, (vid, name, par) in enumerate(VERTS):
        verts.append({"id": vid, "name": name, "maxParallelism": 128, "parallelism": par,
                      "status": "RUNNING", "start-time": START, "end-time": -1,
                      "duration": now - START,
                      "tasks": {s: par if s == "RUNNING" else 0 for s in TSTATES},
                      "metrics": {"read-bytes": 0, "read-bytes-complete": True,
                                  "write-bytes": 0, "write-bytes-complete": True,
                                  "read-records": 0, "read-records-complete": True,
                                  "write-records": 0, "write-records-complete": True}})
        node = {"id": vid, "parallelism": par, "operator": "", "operator_strategy": "",
                "description": name, "optimizer_properties": {}}
        if v:
            node["inputs"] = [{"num": 0, "id": VERTS[v - 1][0],
                               "ship_strategy": "HASH" if v == 1 else "FORWARD",
                               "exchange": "pipelined_bounded"}]
        nodes.append(node)
    return {"jid": JID, "name": "payments", "isStoppable": False, "state": "RUNNING",
            "start-time": START, "end-time": -1, "duration": now - START, "now": now,
            "timestamps": {"RUNNING": START, "CREATED": START - 500},
            "vertices": verts,
            "status-counts": {s: NSUB if s == "RUNNING" else 0 for s in TSTATES},
            "plan": {"jid": JID, "name": "payments", "nodes": nodes}}


def cp_config():
    c = {"mode": "exactly_once", "interval": 1000, "timeout": 10000, "min_pause": 0,
         "max_concurrent": 1,
         "externalization": {"enabled": True, "delete_on_cancellation": False},
         "unaligned_checkpoints": False}
    if not V12:
        c.update({"state_backend": "HashMapStateBackend",
                  "checkpoint_storage": "FileSystemCheckpointStorage",
                  "tolerable_failed_checkpoints": 2, "aligned_checkpoint_timeout": 0,
                  "checkpoints_after_tasks_finish": True})
    if not V12 and not V15:
        c["state_changelog_enabled"] = False
    return c


def write_step():
    s = STATE["step"]
    need = [n for n in NEEDS.get(s, []) if n not in STATE["asked"]]
    with open(PORTFILE + ".step.tmp", "w") as f:
        f.write("%d %s\n" % (s, " ".join(need) or "-"))
    os.rename(PORTFILE + ".step.tmp", PORTFILE + ".step")


def advance():
    """The step a /checkpoints request gets: the next, when allowed."""
    s = STATE["step"]
    gate = OPT["--gate"]
    if s < LAST and (not gate or os.path.exists(gate)) and \
            all(n in STATE["asked"] for n in NEEDS.get(s, [])):
        STATE["step"] = s + 1
        STATE["asked"] = set()
        write_step()
    return STATE["step"]


def answer(path):
    """(status, body)."""
    now = int(time.time() * 1000)
    p = re.sub(r"^/v1", "", path.split("?")[0])
    if p == "/config":
        return 200, config()
    if p == "/jobs/overview":
        return 200, overview(now)
    m = re.match(r"^/jobs/([0-9a-f]{32})(/.*)?$", p)
    if not m or m.group(1) != JID:
        return 404, {"errors": ["Not found: " + p]}
    rest = m.group(2) or ""
    with LOCK:
        if rest == "":
            return 200, job(now)
        if rest == "/checkpoints":
            return 200, stats(advance())
        if rest == "/checkpoints/config":
            return 200, cp_config()
        m = re.match(r"^/checkpoints/details/(\d+)(/subtasks/([0-9a-f]{32}))?$", rest)
        if not m:
            return 404, {"errors": ["Not found: " + p]}
        STATE["asked"].add(rest[len("/checkpoints/"):])
        write_step()
        cid, step = int(m.group(1)), STATE["step"]
        body = None
        if cid in CP:
            body = subtasks(cid, step, m.group(3)) if m.group(2) else cp_entry(cid, step, True)
        if body is None:
            return 404, {"errors": ["Could not find checkpointing statistics for checkpoint %d."
                                    % cid]}
        return 200, body


def authorized(h):
    got = h.headers.get("Authorization", "")
    if OPT["--bearer"] and got != "Bearer " + OPT["--bearer"]:
        return False
    if OPT["--basic"] and got != "Basic " + base64.b64encode(OPT["--basic"].encode()).decode():
        return False
    return True


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        with open(PORTFILE + ".log", "a") as f:
            f.write("%s %s\n" % (self.path, "auth" if self.headers.get("Authorization") else "-"))
        if OPT["--stall"] and re.search(OPT["--stall"], self.path):
            time.sleep(60)  # a JobManager that never answers this (ends with the process)
            return
        if not authorized(self):
            status, body = 401, {"errors": ["Unauthorized"]}
        else:
            status, body = answer(self.path)
        out = json.dumps(body, separators=(",", ":")).encode()
        self.send_response(status)
        if status == 401:
            self.send_header("WWW-Authenticate", 'Bearer realm="flink"' if OPT["--bearer"]
                             else 'Basic realm="flink"')
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)


def main():
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    srv.handle_error = lambda *a: None  # a client that hangs up (a refused certificate)
    if OPT["--tls"]:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*OPT["--tls"])
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    write_step()
    with open(PORTFILE + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(PORTFILE + ".tmp", PORTFILE)
    srv.serve_forever()


if __name__ == "__main__":
    main()
