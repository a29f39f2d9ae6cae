#!/usr/bin/env python3
"""flink_server.py — a Flink-shaped JobManager for bench/flink_bench.sh: N
pretend jobs (source x2 -> map x2 -> sink x1), each checkpointing every
INTERVAL ms; a checkpoint's acks arrive over 800 ms (the sources at +100
and +150 ms, the map at +400 and +450, the sink at +800, when it
completes). Bodies in Flink 1.19's shapes, as libcpagent's REST facade
writes them: /config, /jobs/overview, /jobs/:jid,
/jobs/:jid/checkpoints[/config|/details/:id[/subtasks/:vid]]; Flink's
history keeps the newest 10 (web.checkpoints.history).

  flink_server.py PORTFILE JOBS [INTERVAL_MS [REFRESH_MS]]

REFRESH_MS (3000) is what /config says of Flink's statistics cache.

Listens on 127.0.0.1 (a free port, written to PORTFILE once it listens);
counts the requests it answered per path kind in PORTFILE.stats on SIGUSR1
(and goes on) and on SIGTERM (and ends).
"""
import http.server
import json
import re
import signal
import sys
import time

N = int(sys.argv[2])
INTERVAL = int(sys.argv[3]) if len(sys.argv) > 3 else 5000
REFRESH = int(sys.argv[4]) if len(sys.argv) > 4 else 3000
T0 = int(time.time() * 1000) - 3600 * 1000
VERTS = [("source", 2, [100, 150]), ("map", 2, [400, 450]), ("sink", 1, [800])]
DONE_MS = 800
HISTORY = 10
COUNTS = {}


def jid(k):
    return "%032x" % (0xBE7C0000000000000000000000000000 + k)


def vid(k, v):
    return "%032x" % (0xF11C0000000000000000000000000000 + k * 16 + v)


JOB_OF = {jid(k): k for k in range(N)}


def trig(k, i):
    return T0 + (k * 97) % INTERVAL + i * INTERVAL


def acked(k, i, v, now):
    return sum(1 for d in VERTS[v][2] if trig(k, i) + d <= now)


def entry(k, i, now, tasks=False):
    t = trig(k, i)
    done = now >= t + DONE_MS
    n_acked = sum(acked(k, i, v, now) for v in range(len(VERTS)))
    e = {"className": "completed" if done else "in_progress", "id": i,
         "status": "COMPLETED" if done else "IN_PROGRESS", "is_savepoint": False,
         "savepointFormat": None, "trigger_timestamp": t,
         "latest_ack_timestamp": t + (DONE_MS if done else 450 if n_acked else 0),
         "checkpointed_size": 1048704 + i, "state_size": 4194304 + i,
         "end_to_end_duration": DONE_MS if done else 0, "alignment_buffered": 0,
         "processed_data": 4096, "persisted_data": 0, "num_subtasks": 5,
         "num_acknowledged_subtasks": n_acked, "checkpoint_type": "CHECKPOINT", "tasks": {}}
    if done:
        e["external_path"] = "<checkpoint-not-externally-addressable>"
        e["discarded"] = False
    if tasks:
        for v, (name, par, ds) in enumerate(VERTS):
            a = acked(k, i, v, now)
            e["tasks"][vid(k, v)] = {
                "id": i, "status": e["status"], "latest_ack_timestamp": t + ds[a - 1] if a else -1,
                "checkpointed_size": 1000 * a, "state_size": 4000 * a,
                "end_to_end_duration": ds[a - 1] if a else -1, "alignment_buffered": 0,
                "processed_data": 0, "persisted_data": 0, "num_subtasks": par,
                "num_acknowledged_subtasks": a}
    return e


def stat(v):
    return {"min": v, "max": v, "avg": v, "p50": float(v), "p90": float(v), "p95": float(v),
            "p99": float(v), "p999": float(v)}


def last_id(k, now):
    return max(0, (now - trig(k, 0)) // INTERVAL)


def stats(k, now):
    n = last_id(k, now)
    hist = [entry(k, i, now) for i in range(n, max(0, n - HISTORY), -1)]
    done = [e for e in hist if e["status"] == "COMPLETED"]
    inflight = sum(1 for e in hist if e["status"] != "COMPLETED")
    return {"counts": {"restored": 0, "total": n, "in_progress": inflight,
                       "completed": n - inflight, "failed": 0},
            "summary": {"checkpointed_size": stat(1048704), "state_size": stat(4194304),
                        "end_to_end_duration": stat(DONE_MS), "alignment_buffered": stat(0),
                        "processed_data": stat(4096), "persisted_data": stat(0)},
            "latest": {"completed": done[0] if done else None, "savepoint": None, "failed": None,
                       "restored": None},
            "history": hist}


def subtasks(k, i, v, now):
    name, par, ds = VERTS[v]
    t = trig(k, i)
    subs = []
    for s in range(par):
        if t + ds[s] <= now:
            subs.append({"className": "completed", "index": s, "status": "completed",
                         "ack_timestamp": t + ds[s], "end_to_end_duration": ds[s],
                         "checkpointed_size": 500, "state_size": 2000,
                         "checkpoint": {"sync": 2, "async": 30},
                         "alignment": {"buffered": 0, "processed": 0, "persisted": 0,
                                       "duration": 5 if v else 0},
                         "start_delay": ds[s] - 40 if ds[s] > 40 else 0,
                         "unaligned_checkpoint": False, "aborted": False})
        else:
            subs.append({"className": "pending_or_failed", "index": s,
                         "status": "pending_or_failed"})
    a = acked(k, i, v, now)
    summ = {"checkpointed_size": stat(500), "state_size": stat(2000),
            "end_to_end_duration": stat(ds[0]),
            "checkpoint_duration": {"sync": stat(2), "async": stat(30)},
            "alignment": {"buffered": stat(0), "processed": stat(0), "persisted": stat(0),
                          "duration": stat(5)},
            "start_delay": stat(0)}
    return {"id": i, "status": "COMPLETED" if now >= t + DONE_MS else "IN_PROGRESS",
            "latest_ack_timestamp": t + ds[a - 1] if a else -1, "checkpointed_size": 500 * a,
            "state_size": 2000 * a, "end_to_end_duration": ds[a - 1] if a else -1,
            "alignment_buffered": 0, "processed_data": 0, "persisted_data": 0,
            "num_subtasks": par, "num_acknowledged_subtasks": a, "summary": summ,
            "subtasks": subs}


def overview(now):
    return {"jobs": [{"jid": jid(k), "name": "job-%02d" % k, "state": "RUNNING",
                      "start-time": T0, "end-time": -1, "duration": now - T0,
                      "last-modification": T0,
                      "tasks": {"total": 5, "created": 0, "scheduled": 0, "deploying": 0,
                                "running": 5, "finished": 0, "canceling": 0, "canceled": 0,
                                "failed": 0, "reconciling": 0, "initializing": 0}}
                     for k in range(N)]}


def job(k, now):
    states = ["INITIALIZING", "CREATED", "RUNNING", "FAILING", "FAILED", "CANCELLING",
              "CANCELED", "FINISHED", "RESTARTING", "SUSPENDED", "RECONCILING"]
    tstates = ["CREATED", "SCHEDULED", "DEPLOYING", "RUNNING", "FINISHED", "CANCELING",
               "CANCELED", "FAILED", "RECONCILING", "INITIALIZING"]
    verts, nodes = [], []
    for v, (name, par, _) in enumerate(VERTS):
        verts.append({"id": vid(k, v), "name": name, "maxParallelism": par, "parallelism": par,
                      "status": "RUNNING", "start-time": T0, "end-time": -1,
                      "duration": now - T0,
                      "tasks": {s: par if s == "RUNNING" else 0 for s in tstates},
                      "metrics": {"read-bytes": 0, "read-bytes-complete": True,
                                  "write-bytes": 0, "write-bytes-complete": True,
                                  "read-records": 0, "read-records-complete": True,
                                  "write-records": 0, "write-records-complete": True,
                                  "accumulated-backpressured-time": 0,
                                  "accumulated-idle-time": 0, "accumulated-busy-time": 0.0}})
        node = {"id": vid(k, v), "parallelism": par, "operator": "", "operator_strategy": "",
                "description": name, "optimizer_properties": {}}
        if v:
            node["inputs"] = [{"num": 0, "id": vid(k, v - 1), "ship_strategy": "HASH",
                               "exchange": "pipelined_bounded"}]
        nodes.append(node)
    return {"jid": jid(k), "name": "job-%02d" % k, "isStoppable": False, "state": "RUNNING",
            "start-time": T0, "end-time": -1, "duration": now - T0, "maxParallelism": -1,
            "now": now, "timestamps": {s: T0 if s == "RUNNING" else 0 for s in states},
            "vertices": verts,
            "status-counts": {s: 5 if s == "RUNNING" else 0 for s in tstates},
            "plan": {"jid": jid(k), "name": "job-%02d" % k, "type": "STREAMING",
                     "nodes": nodes}}


CP_CONFIG = {"mode": "exactly_once", "interval": INTERVAL, "timeout": 600000, "min_pause": 0,
             "max_concurrent": 1,
             "externalization": {"enabled": False, "delete_on_cancellation": True},
             "state_backend": "HashMapStateBackend",
             "checkpoint_storage": "JobManagerCheckpointStorage",
             "unaligned_checkpoints": False, "tolerable_failed_checkpoints": 0,
             "aligned_checkpoint_timeout": 0, "checkpoints_after_tasks_finish": True,
             "state_changelog_enabled": False}
CONFIG = {"refresh-interval": REFRESH, "timezone-name": "UTC", "timezone-offset": 0,
          "flink-version": "1.19.1-benchserver", "flink-revision": "bench",
          "features": {"web-submit": False, "web-cancel": False, "web-history": False}}


def answer(path, now):
    """(kind, body) for path, or (kind, None) for a 404."""
    p = re.sub(r"^/v1", "", path.split("?")[0])
    if p == "/config":
        return "config", CONFIG
    if p == "/jobs/overview":
        return "overview", overview(now)
    m = re.match(r"^/jobs/([0-9a-f]{32})(/.*)?$", p)
    if not m or m.group(1) not in JOB_OF:
        return "other", None
    k, rest = JOB_OF[m.group(1)], m.group(2) or ""
    if rest == "":
        return "job", job(k, now)
    if rest == "/checkpoints":
        return "checkpoints", stats(k, now)
    if rest == "/checkpoints/config":
        return "cp_config", CP_CONFIG
    m = re.match(r"^/checkpoints/details/(\d+)(/subtasks/([0-9a-f]{32}))?$", rest)
    if not m:
        return "other", None
    i = int(m.group(1))
    if i < 1 or i > last_id(k, now) or i <= last_id(k, now) - HISTORY:
        return "details", None
    if not m.group(2):
        return "details", entry(k, i, now, tasks=True)
    for v in range(len(VERTS)):
        if vid(k, v) == m.group(3):
            return "subtasks", subtasks(k, i, v, now)
    return "subtasks", None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        kind, body = answer(self.path, int(time.time() * 1000))
        COUNTS[kind] = COUNTS.get(kind, 0) + 1
        out = json.dumps(body if body is not None else {"errors": ["Not found"]},
                         separators=(",", ":")).encode()
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)


def main():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True

    def dump(*_):
        with open(sys.argv[1] + ".stats.tmp", "w") as f:
            json.dump(dict(COUNTS), f)
        import os
        os.rename(sys.argv[1] + ".stats.tmp", sys.argv[1] + ".stats")

    def stop(*_):
        dump()
        sys.exit(0)
    signal.signal(signal.SIGUSR1, dump)
    signal.signal(signal.SIGTERM, stop)
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.rename(sys.argv[1] + ".tmp", sys.argv[1])
    srv.serve_forever()


if __name__ == "__main__":
    main()
