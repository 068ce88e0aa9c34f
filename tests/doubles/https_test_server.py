#!/usr/bin/python3
"""Generic HTTPS double for dbroker's HTTP client tests.

Endpoints (any method):
  /echo                      200, JSON {method, path, headers: [[k, v], ...], body}
  /status/<code>             <code>, JSON error body {error_code, message}
  /big/<n>[?chunked=1]       n bytes of "x" (chunked: no Content-Length)
  /redirect?to=<url>&code=N  N (default 302) with Location: <url>
  /slow/<ms>                 sleeps, then 200 {"slept_ms": ms}
  /trickle/<n>/<ms>[?chunked=1]  200 with n KiB of "x", one KiB every ms
                             (sized, or chunked: no Content-Length)
  /retry-after/<s>[?date=1]  429 with Retry-After: s (or an HTTP-date s from now)
  /flaky/<key>/<n>/<status>  the first n requests for key answer <status> with
                             {error_code: code, message} (query: code=,
                             message=, retry_after= adds Retry-After); status
                             "reset" resets the connection instead; later
                             requests get 200 {key, attempt}
Every path may also be given under /api/ (/api/echo is /echo), the only
paths the request module sends. Every answer carries X-Request-Id:
test-<seq>, and every request is recorded in --log (see tlsserver.py for the
common options).
"""

import email.utils
import io
import os
import socket
import struct
import sys
import threading
import time
import urllib.parse

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tlsserver  # noqa: E402


FLAKY = {}  # key -> requests seen
FLAKY_LOCK = threading.Lock()


class Handler(tlsserver.BaseHandler):
    def handle_any(self):
        body = self.read_body()
        seq = self.record_request(body)
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        parts = [p for p in url.path.split("/") if p]
        if parts[:1] == ["api"]:
            parts = parts[1:]
        rid = [("X-Request-Id", f"test-{seq}")]
        name = parts[0] if parts else ""
        arg = parts[1] if len(parts) > 1 else ""

        if name == "echo":
            self.send_json(200, {
                "method": self.command,
                "path": self.path,
                "headers": [[k, v] for k, v in self.headers.items()],
                "body": body.decode("utf-8", "replace"),
            }, rid)
        elif name == "status" and arg.isdigit():
            code = int(arg)
            self.send_json(code, {"error_code": f"TEST_{code}",
                                  "message": f"status {code} as asked"}, rid)
        elif name == "big" and arg.isdigit():
            self.send_big(int(arg), query.get("chunked") == ["1"], rid)
        elif name == "redirect" and "to" in query:
            code = int(query.get("code", ["302"])[0])
            self.send_json(code, {"redirect": query["to"][0]},
                           rid + [("Location", query["to"][0])])
        elif name == "slow" and arg.isdigit():
            time.sleep(int(arg) / 1000)
            self.send_json(200, {"slept_ms": int(arg)}, rid)
        elif name == "trickle" and len(parts) == 3 and arg.isdigit() and parts[2].isdigit():
            self.trickle(int(arg), int(parts[2]), query.get("chunked") == ["1"], rid)
        elif name == "retry-after" and arg.isdigit():
            value = arg
            if query.get("date") == ["1"]:
                value = email.utils.formatdate(time.time() + int(arg), usegmt=True)
            self.send_json(429, {"error_code": "REQUEST_LIMIT_EXCEEDED",
                                 "message": "slow down"},
                           rid + [("Retry-After", value)])
        elif name == "flaky" and len(parts) == 4 and parts[2].isdigit():
            self.flaky(parts[1], int(parts[2]), parts[3], query, rid)
        else:
            self.send_json(404, {"error_code": "ENDPOINT_NOT_FOUND",
                                 "message": f"no endpoint {url.path}"}, rid)

    def flaky(self, key, n, what, query, headers):
        with FLAKY_LOCK:
            FLAKY[key] = seen = FLAKY.get(key, 0) + 1
        if seen > n:
            self.send_json(200, {"key": key, "attempt": seen}, headers)
        elif what == "reset":
            self.reset()
        elif what.isdigit():
            status = int(what)
            if "retry_after" in query:
                headers = headers + [("Retry-After", query["retry_after"][0])]
            self.send_json(status, {
                "error_code": query.get("code", [f"TEST_{status}"])[0],
                "message": query.get("message", [f"attempt {seen} for {key}"])[0],
            }, headers)
        else:
            self.send_json(400, {"error_code": "BAD_TEST", "message": what}, headers)

    def reset(self):
        """Close with an RST: no answer at all, as from a crashed proxy."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                   struct.pack("ii", 1, 0))
        self.close_connection = True
        # every reference to the socket must go for the close to happen now
        self.rfile.close()
        self.wfile.close()
        self.connection.close()
        self.wfile = io.BytesIO()  # what the base class flushes afterwards

    def send_big(self, n, chunked, headers):
        if not chunked:
            self.send_bytes(200, b"x" * n, "text/plain", headers)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Transfer-Encoding", "chunked")
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        step = 16384
        try:
            for off in range(0, n, step):
                chunk = b"x" * min(step, n - off)
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass  # the client hung up at its cap: expected

    def trickle(self, n, ms, chunked, headers):
        """A slow download: each KiB flushed on its own, ms apart."""
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(n * 1024))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        try:
            for i in range(n):
                if i:
                    time.sleep(ms / 1000)
                self.wfile.write(b"400\r\n%s\r\n" % (b"x" * 1024) if chunked else b"x" * 1024)
                self.wfile.flush()
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass  # the client gave up: expected when it stalls

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = handle_any


if __name__ == "__main__":
    tlsserver.run(Handler, __doc__.splitlines()[0])
