"""Shared plumbing for dbroker's local HTTPS test doubles (stdlib only).

A double defines a handler class (subclass of BaseHandler) and calls
run(handler, description). run() parses the common options, listens on
loopback only, optionally wraps the socket in TLS, writes the bound port to
--port-file (atomically, after listening, so tests never race or guess
ports), records every request as one JSON line in --log, and exits cleanly
on SIGTERM.

Common options:
  --cert PEM --key PEM   server certificate and key (required unless --plain)
  --client-ca PEM        require a client certificate signed by this CA
  --plain                plain http:// listener (to test that clients refuse it)
  --bind ADDR            listen address, loopback only (default 127.0.0.1)
  --port N               0 (default) picks a free port
  --port-file FILE       where to write the bound port
  --log FILE             append one JSON object per request
"""

import argparse
import http.server
import ipaddress
import json
import os
import signal
import socket
import ssl
import sys
import threading


class TLSServer(http.server.ThreadingHTTPServer):
    """ThreadingHTTPServer whose TLS handshake runs in the request thread,
    so a client that never finishes a handshake cannot stall the server."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, handler, tls_context=None, log_path=None):
        if ":" in addr[0]:
            self.address_family = socket.AF_INET6
        super().__init__(addr, handler)
        self.tls_context = tls_context
        self.log_path = log_path
        self.log_lock = threading.Lock()
        self.counter = 0
        self.connections = 0  # accepted connections = TLS handshakes

    def next_connection(self):
        """A number for a new connection (1, 2, ...): records carry it, so a
        test can tell which requests shared a (kept-alive) connection."""
        with self.log_lock:
            self.connections += 1
            return self.connections

    def get_request(self):
        sock, addr = super().get_request()
        if self.tls_context is not None:
            sock = self.tls_context.wrap_socket(
                sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def handle_error(self, request, client_address):
        # Handshake failures are expected in the tests: one line, no traceback.
        exc = sys.exc_info()[1]
        print(f"tlsserver: {client_address[0]}: {exc!r}", file=sys.stderr)

    def record(self, entry):
        """Append one request record to the log; returns its sequence number."""
        with self.log_lock:
            self.counter += 1
            entry = dict(entry, seq=self.counter)
            if self.log_path:
                with open(self.log_path, "a", encoding="utf-8") as f:
                    f.write(json.dumps(entry) + "\n")
            return self.counter


class BaseHandler(http.server.BaseHTTPRequestHandler):
    """HTTP/1.1 handler with helpers for JSON answers and request records."""

    protocol_version = "HTTP/1.1"
    server_version = "dbroker-test-double"

    def version_string(self):
        return self.server_version

    def setup(self):
        # headers and body go out in separate writes: without NODELAY, Nagle
        # and the client's delayed ACK cost 40 ms per answer
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.conn_id = self.server.next_connection()
        super().setup()
        if isinstance(self.connection, ssl.SSLSocket):
            self.connection.do_handshake()

    def log_message(self, fmt, *args):  # keep test output quiet
        pass

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def record_request(self, body):
        """Log method, path, headers (as a list, duplicates kept) and body."""
        return self.server.record({
            "method": self.command,
            "path": self.path,
            "headers": [[k, v] for k, v in self.headers.items()],
            "body": body.decode("utf-8", "replace"),
            "conn": self.conn_id,
        })

    def send_bytes(self, status, body, content_type="application/octet-stream",
                   headers=()):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_padding(self, status, size, chunked=False, headers=()):
        """An oversized answer: {"padding": "xxx..."} of size bytes in
        64 KiB writes, with Content-Length or (chunked) without; closes the
        connection after it and stops quietly when the client hangs up."""
        head, tail, step = b'{"padding": "', b'"}', 64 * 1024
        pad = size - len(head) - len(tail)
        self.close_connection = True
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(size))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        parts = [head] + [b"x" * min(step, pad - i) for i in range(0, pad, step)] + [tail]
        try:
            for part in parts:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part) if chunked else part)
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
        except (OSError, ValueError):
            pass  # the client stopped reading at its cap

    def send_json(self, status, obj, headers=()):
        body = (json.dumps(obj) + "\n").encode()
        self.send_bytes(status, body, "application/json", headers)


def _loopback_only(addr):
    if addr == "localhost":
        return
    if not ipaddress.ip_address(addr).is_loopback:
        sys.exit(f"tlsserver: refusing to listen on non-loopback address {addr}")


def parser(description):
    """The common options; a double may add its own before calling run()."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--client-ca")
    p.add_argument("--plain", action="store_true")
    p.add_argument("--bind", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file")
    p.add_argument("--log")
    return p


def tls_context(args):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(args.cert, args.key)
    if args.client_ca:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(args.client_ca)
    return ctx


def write_port_file(path, port):
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w", encoding="ascii") as f:
        f.write(f"{port}\n")
    os.replace(tmp, path)


def serve(server, port_file=None):
    """Write the port file, serve until SIGTERM/SIGINT, close."""
    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if port_file:
        write_port_file(port_file, server.server_address[1])
    try:
        server.serve_forever(poll_interval=0.1)
    except SystemExit:
        pass
    finally:
        server.server_close()


def run(handler, description, args=None):
    """Parse the common options (or use args), listen and serve."""
    if args is None:
        args = parser(description).parse_args()
    _loopback_only(args.bind)
    ctx = None
    if not args.plain:
        if not args.cert or not args.key:
            sys.exit("tlsserver: --cert and --key are required without --plain")
        ctx = tls_context(args)
    server = TLSServer((args.bind, args.port), handler, ctx, args.log)
    serve(server, args.port_file)
