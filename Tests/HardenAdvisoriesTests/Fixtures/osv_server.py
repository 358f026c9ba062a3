#!/usr/bin/env python3
"""A real HTTP server on 127.0.0.1 for the sync tests, serving a folder laid out like OSV's
export (<ecosystem>/all.zip, <ecosystem>/modified_id.csv, <ecosystem>/<id>.json).

Usage: osv_server.py ROOT LOG_FILE
Prints "port N" once it listens on N, and writes one line per request ("GET /PyPI/all.zip 200")
to LOG_FILE. Sends ETag (sha256 of the file) and Last-Modified, and answers 304 to a matching
If-None-Match or a not-older If-Modified-Since. Faults, by the first path segment:
/fail/... answers 500, /stall/... sends nothing, /cut/... sends half the body of a file with
its full Content-Length, /always304/... answers 304 to every request, /slow/... sends a file's
head at once and its body a second later.
"""
import email.utils
import hashlib
import http.server
import os
import sys
import time

root, log_file = sys.argv[1], sys.argv[2]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def record(self, status):
        with open(log_file, "a", encoding="utf-8") as log:
            log.write(f"{self.command} {self.path} {status}\n")

    def answer(self, status, body=b"", headers=()):
        self.record(status)
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def head(self, length):
        """A 200's head for a body of `length` bytes, sent at once."""
        self.record(200)
        self.send_response(200)
        self.send_header("Content-Length", str(length))
        self.end_headers()
        self.wfile.flush()

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        fault = path.split("/")[1] if path.count("/") > 1 else ""
        if fault == "fail":
            return self.answer(500, b"internal error\n")
        if fault == "stall":
            self.record("stalled")
            time.sleep(30)
            return
        if fault == "always304":
            return self.answer(304)
        relative = path[len(fault) + 1:] if fault in ("cut", "slow") else path
        file = os.path.normpath(os.path.join(root, relative.lstrip("/").replace("%3A", ":")))
        if not file.startswith(os.path.abspath(root)) or not os.path.isfile(file):
            return self.answer(404, b"not found\n")
        with open(file, "rb") as handle:
            body = handle.read()
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        mtime = int(os.path.getmtime(file))
        modified = email.utils.formatdate(mtime, usegmt=True)
        if self.headers.get("If-None-Match") == etag:
            return self.answer(304, headers=[("ETag", etag)])
        since = self.headers.get("If-Modified-Since")
        if since and self.headers.get("If-None-Match") is None:
            try:
                if mtime <= email.utils.parsedate_to_datetime(since).timestamp():
                    return self.answer(304, headers=[("ETag", etag)])
            except (TypeError, ValueError):
                pass
        if fault == "cut":
            self.head(len(body))
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if fault == "slow":
            self.head(len(body))
            time.sleep(1)
            self.wfile.write(body)
            return
        self.answer(200, body, [("ETag", etag), ("Last-Modified", modified)])


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print("port", server.server_address[1], flush=True)
server.serve_forever()
