#!/usr/bin/env python3
"""flink_router.py — one Flink-shaped REST endpoint in front of several
agents' Flink REST facades (agent_hello --rest, cpdemo's agent.rest.listen),
so that cptop --flink sees a cluster running several jobs.

  flink_router.py [--flink-version V] PORTFILE BACKEND_URL...

Listens on 127.0.0.1 (a free port, written to PORTFILE once it listens).
/jobs/overview and /jobs list every backend's jobs; a path naming a job
(/jobs/JID/...) goes to the backend that runs it, GET or POST, answered as
that backend answered; anything else (/config) goes to the first backend.

--flink-version V plays an older cluster: /config says V, and before 1.17
there is no POST /jobs/JID/checkpoints (404, as Flink answers a path it
has no handler for). Savepoints (any version): POST /jobs/JID/savepoints
triggers a checkpoint on the backend (its REST facade has no savepoints)
and GET /jobs/JID/savepoints/TRIGGER answers in a savepoint's shape, its
location under the request's target-directory (or /tmp/flink-savepoints);
a target-directory containing "refuse" fails it as Flink reports an I/O
error. The last savepoint request's body is kept in PORTFILE.savepoint.
"""
import http.server
import json
import re
import sys
import urllib.error
import urllib.request

ARGS = sys.argv[1:]
VERSION = None
if ARGS[:1] == ["--flink-version"]:
    VERSION, ARGS = ARGS[1], ARGS[2:]
PORTFILE = ARGS[0]
BACKENDS = ARGS[1:]
JOB_OF = {}  # job id -> backend
SAVEPOINTS = {}  # trigger id -> the target directory asked for


def old():
    """Before 1.17: no REST checkpoint trigger."""
    if not VERSION:
        return False
    major, minor = (int(x) for x in VERSION.split(".")[:2])
    return (major, minor) < (1, 17)


def fetch(base, path, method="GET", body=None, ctype=None):
    req = urllib.request.Request(base + path, data=body, method=method)
    if ctype:
        req.add_header("Content-Type", ctype)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def merged(path, key):
    jobs = []
    for b in BACKENDS:
        status, body = fetch(b, path)
        if status != 200:
            continue
        for j in json.loads(body).get(key, []):
            JOB_OF[j.get("jid") or j.get("id")] = b
            jobs.append(j)
    return json.dumps({key: jobs}).encode()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def route(self, method):
        path = self.path
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else None
        bare = re.sub(r"^/v1", "", path.split("?")[0])
        if method == "GET" and bare == "/jobs/overview":
            return self.answer(200, merged(path, "jobs"))
        m = re.match(r"^/jobs/([0-9a-f]{32})", bare)
        if m and m.group(1) not in JOB_OF:
            merged("/jobs/overview", "jobs")
        base = JOB_OF.get(m.group(1)) if m else BACKENDS[0]
        if not base:
            return self.answer(404, b'{"errors":["Job could not be found."]}')
        if m and bare.startswith("/jobs/%s/savepoints" % m.group(1)):
            return self.savepoint(base, m.group(1), method, bare, body)
        if method == "POST" and bare == "/jobs/%s/checkpoints" % m.group(1) and old():
            return self.answer(404, json.dumps({"errors": ["Not found: " + bare]}).encode())
        status, out = fetch(base, path, method, body, self.headers.get("Content-Type"))
        if bare == "/config" and status == 200 and VERSION:
            c = json.loads(out)
            c["flink-version"] = VERSION
            out = json.dumps(c).encode()
        self.answer(status, out)

    def savepoint(self, base, jid, method, bare, body):
        if method == "POST" and bare == "/jobs/%s/savepoints" % jid:
            with open(PORTFILE + ".savepoint", "wb") as f:
                f.write(body or b"")
            req = json.loads(body or b"{}")
            status, out = fetch(base, "/jobs/%s/checkpoints" % jid, "POST",
                                b'{"checkpointType":"CONFIGURED"}', "application/json")
            if status == 202:
                SAVEPOINTS[json.loads(out)["request-id"]] = req.get("target-directory")
            return self.answer(status, out)
        m = re.match(r"^/jobs/%s/savepoints/([0-9a-f]{32})$" % jid, bare)
        if method != "GET" or not m or m.group(1) not in SAVEPOINTS:
            return self.answer(404, b'{"errors":["Operation not found."]}')
        status, out = fetch(base, "/jobs/%s/checkpoints/%s" % (jid, m.group(1)))
        if status != 200:
            return self.answer(status, out)
        st = json.loads(out)
        op = st.get("operation") or {}
        where = SAVEPOINTS[m.group(1)] or "/tmp/flink-savepoints"
        if st["status"]["id"] == "COMPLETED":
            if "refuse" in where:
                op = {"failure-cause": {"class": "java.io.IOException",
                                        "stack-trace": "java.io.IOException: cannot write " + where}}
            elif "failureCause" in op:
                op = {"failure-cause": op["failureCause"]}
            elif "checkpointId" in op:
                op = {"location": "file:%s/savepoint-%s-%d" % (where, jid[:6], op["checkpointId"])}
            st["operation"] = op
        self.answer(200, json.dumps(st).encode())

    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")


def main():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with open(PORTFILE + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.rename(PORTFILE + ".tmp", PORTFILE)
    srv.serve_forever()


if __name__ == "__main__":
    main()
