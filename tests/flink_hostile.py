#!/usr/bin/env python3
"""flink_hostile.py — JobManagers gone wrong, for tests/t_flink_hostile.sh:
each answers every request in one broken way, its MODE.

  flink_hostile.py DIR MODE...

One listener per MODE, each on 127.0.0.1 (a free port, written to
DIR/MODE.port once it listens; every request's path appended to
DIR/MODE.log). Ends on SIGTERM. The modes:

  garbage        200 with a body that is not JSON
  types          a well-formed cluster whose /jobs/:jid/checkpoints has
                 strings where Flink writes numbers
  http500        every request: 500 with Flink's {"errors":[...]}
  http500-stats  all well, but /jobs/:jid/checkpoints answers 500
  slow           valid bodies, a byte every 300 ms (past any --timeout)
  endless        200 and a body that never ends (past the 8 MiB bound)
  redirect-ftp   302 to ftp://127.0.0.1/...
  redirect-host  302 to the same path on another host (127.0.0.2, a second
                 listener here that notes what reaches it in DIR/MODE.other)
  redirect-loop  302 to the same path, again and again
  redirect-same  (not hostile) 307 from PATH to /v1PATH on this host, where
                 a well-formed cluster answers: a proxy's redirect, followed
  silent         accepts, reads the request, never answers
"""
import http.server
import json
import os
import re
import signal
import sys
import threading
import time

DIR, MODES = sys.argv[1], sys.argv[2:]
JID = "5c0bad5e55e7c0bad5e55e7c0bad5e55"
VID = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
NOW = int(time.time() * 1000)
OTHER = {"port": 0}

CONFIG = {"refresh-interval": 3000, "timezone-name": "UTC", "timezone-offset": 0,
          "flink-version": "1.19.1", "flink-revision": "hostile",
          "features": {"web-submit": False, "web-cancel": False, "web-history": False}}
OVERVIEW = {"jobs": [{"jid": JID, "name": "victim", "state": "RUNNING", "start-time": NOW - 60000,
                      "end-time": -1, "duration": 60000, "last-modification": NOW - 60000,
                      "tasks": {"total": 1, "running": 1}}]}
JOB = {"jid": JID, "name": "victim", "isStoppable": False, "state": "RUNNING",
       "start-time": NOW - 60000, "end-time": -1, "duration": 60000, "now": NOW,
       "vertices": [{"id": VID, "name": "Source: numbers", "parallelism": 1,
                     "maxParallelism": 128, "status": "RUNNING"}],
       "plan": {"jid": JID, "name": "victim", "type": "STREAMING",
                "nodes": [{"id": VID, "parallelism": 1, "description": "Source: numbers"}]}}
CP_CONFIG = {"mode": "exactly_once", "interval": 1000, "timeout": 600000, "min_pause": 0,
             "max_concurrent": 1,
             "externalization": {"enabled": False, "delete_on_cancellation": True},
             "unaligned_checkpoints": False}
ZERO = {"min": 0, "max": 0, "avg": 0}
STATS = {"counts": {"restored": 0, "total": 0, "in_progress": 0, "completed": 0, "failed": 0},
         "summary": {k: ZERO for k in ("checkpointed_size", "state_size", "end_to_end_duration",
                                       "alignment_buffered", "processed_data",
                                       "persisted_data")},
         "latest": {"completed": None, "savepoint": None, "failed": None, "restored": None},
         "history": []}
ERROR_500 = {"errors": ["Internal server error.",
                        "<Exception on server side:\norg.apache.flink.runtime.rest.handler."
                        "RestHandlerException: the JobManager is not well\n\tat ...>"]}


def valid(path):
    """The body a healthy cluster answers path with, or None (404)."""
    p = re.sub(r"^/v1", "", path.split("?")[0])
    if p == "/config":
        return CONFIG
    if p == "/jobs/overview":
        return OVERVIEW
    if p == "/jobs/" + JID:
        return JOB
    if p == "/jobs/%s/checkpoints/config" % JID:
        return CP_CONFIG
    if p == "/jobs/%s/checkpoints" % JID:
        return STATS
    return None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    MODE = None  # set per listener

    def log_message(self, *args):
        pass

    def send(self, status, body, ctype="application/json"):
        out = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def do_GET(self):
        MODE = self.MODE
        with open(os.path.join(DIR, MODE + ".log"), "a") as f:
            f.write(self.path + "\n")
        p = self.path.split("?")[0]
        body = valid(self.path)
        if MODE == "garbage":
            # a terminal's escape first: whatever quotes the body must not pass it on
            self.send(200, b"\x1b]0;pwned\x07\x1b[31m<html>Flink is {not here</html>", "text/html")
        elif MODE == "types":
            if p.endswith("/checkpoints"):
                bad = json.loads(json.dumps(STATS))
                bad["counts"]["total"] = "twelve"
                self.send(200, bad)
            else:
                self.send(200 if body is not None else 404, body or {"errors": ["Not found."]})
        elif MODE == "http500":
            self.send(500, ERROR_500)
        elif MODE == "http500-stats":
            if p.endswith("/checkpoints"):
                self.send(500, ERROR_500)
            else:
                self.send(200 if body is not None else 404, body or {"errors": ["Not found."]})
        elif MODE == "slow":
            out = json.dumps(body or {"errors": ["Not found."]}).encode()
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.flush()
            for i in range(len(out)):
                self.wfile.write(out[i:i + 1])
                self.wfile.flush()
                time.sleep(0.3)
        elif MODE == "endless":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b'{"jobs":[')
            chunk = b" " * 65536
            while True:  # until the client hangs up
                self.wfile.write(chunk)
        elif MODE == "redirect-ftp":
            self.redirect("ftp://127.0.0.1/flink" + self.path)
        elif MODE == "redirect-host":
            self.redirect("http://127.0.0.2:%d%s" % (OTHER["port"], self.path))
        elif MODE == "redirect-loop":
            self.redirect(self.path)
        elif MODE == "redirect-same":
            if p.startswith("/v1/"):
                self.send(200 if body is not None else 404, body or {"errors": ["Not found."]})
            else:
                self.redirect("/v1" + self.path, 307)
        elif MODE == "silent":
            self.rfile.read()  # until the client hangs up; nothing is sent
        else:
            self.send(500, {"errors": ["unknown mode " + MODE]})

    def redirect(self, where, status=302):
        self.send_response(status)
        self.send_header("Location", where)
        self.send_header("Content-Length", "0")
        self.end_headers()


class Other(http.server.BaseHTTPRequestHandler):
    """The other host: counts what reaches it, answers as the cluster would."""
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        with open(os.path.join(DIR, "redirect-host.other"), "a") as f:
            f.write("%s %s\n" % (self.path, self.headers.get("Authorization", "-")))
        body = valid(self.path)
        out = json.dumps(body or {"errors": ["Not found."]}).encode()
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)


def serve(mode, addr, handler):
    srv = http.server.ThreadingHTTPServer((addr, 0), type(mode, (handler,), {"MODE": mode}))
    srv.daemon_threads = True
    srv.handle_error = lambda *a: None  # a client that hung up mid-answer: expected here
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv.server_address[1]


def main():
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    if "redirect-host" in MODES:
        OTHER["port"] = serve("other", "127.0.0.2", Other)
    for mode in MODES:
        port = serve(mode, "127.0.0.1", Handler)
        tmp = os.path.join(DIR, mode + ".port.tmp")
        with open(tmp, "w") as f:
            f.write(str(port))
        os.rename(tmp, os.path.join(DIR, mode + ".port"))
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
