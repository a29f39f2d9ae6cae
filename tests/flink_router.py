#!/usr/bin/env python3
"""flink_router.py — one Flink-shaped REST endpoint in front of several
agents' Flink REST facades (agent_hello --rest, cpdemo's agent.rest.listen),
so that cptop --flink sees a cluster running several jobs.

  flink_router.py PORTFILE BACKEND_URL...

Listens on 127.0.0.1 (a free port, written to PORTFILE once it listens).
/jobs/overview and /jobs list every backend's jobs; a path naming a job
(/jobs/JID/...) goes to the backend that runs it, GET or POST, answered as
that backend answered; anything else (/config) goes to the first backend.
"""
import http.server
import json
import re
import sys
import urllib.error
import urllib.request

BACKENDS = sys.argv[2:]
JOB_OF = {}  # job id -> backend


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
        status, out = fetch(base, path, method, body, self.headers.get("Content-Type"))
        self.answer(status, out)

    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")


def main():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.rename(sys.argv[1] + ".tmp", sys.argv[1])
    srv.serve_forever()


if __name__ == "__main__":
    main()
