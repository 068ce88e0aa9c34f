#!/usr/bin/python3
"""A local Databricks workspace double over HTTPS (Clusters API + SCIM Me),
with fault injection and an admin API for tests. Standard library only.

Run it as a program:

  workspace.py --cert server.pem --key server.key --port 0 --port-file PORT
               --token-file TOKENS [--admin-key-file KEY]
               [--pending-seconds 2] [--terminating-seconds 1]
               [--org-id N] [--verbose] [--plain] [--bind 127.0.0.1]

  Tokens never come from argv: --token-file (and/or env WORKSPACE_TOKEN)
  holds one token per line, optionally "token<TAB>user@example.com"
  (default user: user@example.com); blank lines and '#' lines are skipped.
  Exits 0 on SIGTERM/SIGINT. Never prints a token; --verbose logs
  "METHOD PATH STATUS" lines on stderr, nothing else.

Or start it from a Python test (the helper lives in workspace_client.py
and is re-exported here; set sys.dont_write_bytecode = True before the
import to keep the tree clean):

  sys.path.insert(0, ".../tests/doubles"); import workspace
  ws = workspace.start_workspace(tmpdir, ["dapi...", ("dapi...", "bob@x.com")],
                                 pending_seconds=0.3)
  ws.url, ws.host, ws.port       "https://127.0.0.1:PORT", "127.0.0.1", PORT
  ws.ca_file                     the CA to trust (mkca.sh output, tmpdir/tls)
  ws.ssl_context()               an ssl.SSLContext trusting it
  ws.call(method, path, body=None, token=None, headers=()) -> Reply
                                 (.status, .headers, .body, .json) on the API
  ws.raw_request(method, path, body=None, headers=[(k, v), ...]) -> Reply
  ws.add_fault(kind, path="", **opts) / ws.add_faults(f1, f2, ...)
  ws.faults() / ws.clear_faults()
  ws.requests(path=None, since=None) / ws.clear_requests()
  ws.clusters()                  every cluster, with idempotency_token
  ws.configure(**conf)           see POST /__admin/config
  ws.reset()                     forget clusters, faults, requests, config
  ws.admin(method, path, body=None) -> parsed JSON (raises on non-2xx)
  ws.stderr_text()               what the server printed
  ws.stop()                      SIGTERM, wait; returns the exit code
  Options: pending_seconds, terminating_seconds, admin_key (True: random,
  a str, or None: open), token_via ("file" | "env"), plain, verbose,
  org_id, tls_dir (reuse mkca.sh output), extra_args, python, timeout.
  Also a context manager.

API (every /api/ call needs "Authorization: Bearer <valid token>"; none or
malformed: 401 UNAUTHENTICATED; unknown token: 403 PERMISSION_DENIED
"Invalid access token."):
  POST /api/2.{0,1}/clusters/create   {"cluster_id": "MMDD-HHMMSS-abcde123"}
  GET  /api/2.{0,1}/clusters/get?cluster_id=ID
  GET  /api/2.{0,1}/clusters/list[?page_size=N&page_token=T]
       {"clusters": [...]}, or {} when there are none (as the service does)
  POST /api/2.{0,1}/clusters/delete   {"cluster_id": ID} -> {}
  GET  /api/2.0/preview/scim/v2/Me    {"userName": ..., ...}
  /api/2.{1,2}/jobs/...               the Jobs API: see workspace_jobs.py
  /oidc/...                           OAuth M2M: see workspace_oauth.py
  Anything else, or a known path with another method: 404
  ENDPOINT_NOT_FOUND "No API found for 'METHOD /clusters/...'" (what the
  service answers; it has no 405). Validation errors: 400
  INVALID_PARAMETER_VALUE naming the field; bad JSON: 400 MALFORMED_REQUEST.
  Answers carry Content-Type: application/json, x-request-id (a uuid) and
  x-databricks-org-id; error bodies are {"error_code", "message", "details"}.
  Cluster states, outcomes, validation: see workspace_state.py.

Admin API (no bearer; "X-Admin-Key: <key>" when --admin-key-file is given):
  GET    /__admin/health             {"ok": true}
  POST   /__admin/faults             append a fault object or a list of them
  GET    /__admin/faults             the queue; DELETE clears it
  GET    /__admin/requests[?path=SUFFIX&since=SEQ]  {"requests": [...]}
         each: seq, time, method, path, query {k: first value}, target,
         headers [[k, v], ...] (Authorization as received), body (text),
         json (parsed body or null), status (null if reset), fault,
         request_id, reset. Held in memory only. DELETE clears.
  GET    /__admin/clusters           {"clusters": [... + idempotency_token, outcome]}
  GET    /__admin/config; POST /__admin/config {"pending_seconds": s,
         "terminating_seconds": s, "next_outcome": "ERROR"|"TERMINATED"|"RUNNING",
         "termination_reason": {code, type, parameters}, "state_message": str,
         "list_page_size": N (clusters/list pages of N when no page_size is asked),
         "tokens": [token | [token, user] | {"token", "user"}]}  (tokens: replace)
  POST   /__admin/reset              forget clusters, faults, requests, config
                                     (and restore the tokens given at start)

Fault object: {"kind": K, "path": SUFFIX ("" = every /api/ call), "method":
  "POST" (optional), "count": N (default 1; -1 = until cleared), ...}. The
  first queued fault matching a request's path suffix and method is used
  (and counted down). Kinds:
  "429"   429 REQUEST_LIMIT_EXCEEDED, Retry-After: retry_after (default 1;
          null: no header; a string is sent as is, e.g. an HTTP-date)
  "503"   503 TEMPORARILY_UNAVAILABLE (Retry-After only if retry_after given)
  "500"   500 INTERNAL_ERROR
  "transient"  400 INVALID_STATE "...UnknownWorkerEnvironmentException: Unknown
          worker environment..." (a message the SDKs retry)
  "html_502"   502 text/html page, like a proxy
  "error" status (required), error_code, message: any JSON error
  "slow"  sleep seconds (default 1), then answer normally
  "reset" reset the TCP connection (RST) without processing the request
  "reset_after_create"  process the request (the cluster is created), then
          reset instead of answering
  "pass"  no fault (consumes a match: e.g. fail only the 2nd create)
  "close_after"  answer normally with "Connection: close", then close (a
          server without keep-alive)
  "drop_after"   answer normally (keep-alive announced), then close the
          connection quietly, as an idle timeout or a load balancer does
  "huge"  answer status (default 200) with {"padding": "xxx..."}, "bytes"
          long (default HUGE_BYTES, 17 MiB: one MiB over dbroker's cap on a
          response); "chunked": true sends it without Content-Length, so a
          client cannot refuse it up front and must stop reading at its cap
          (hanging up midway is expected, not an error)
  "raw"   answer status (default 200) with body (a string; lone surrogates
          \udc80-\udcff stand for raw bytes) as content_type (default
          text/plain), byte for byte: a hostile server's escape sequences
  "wire"  write data (a string; lone surrogates \udc80-\udcff stand for raw
          bytes) to the connection as the whole answer, head and body, byte
          for byte, then close unless "keep": true: a broken or hostile
          server's HTTP (a malformed head, a 103 first, a short body,
          chunked framing, LF-only lines)
  "pad_field"  process the request normally, then append "bytes" x's to the
          answer's top-level string "field" (e.g. a token_value longer than
          a client can hold)
  "set_field"  process the request normally, then set the answer's top-level
          "field" to "value" (any JSON), or remove it when no "value" is
          given: an answer of an odd shape for something that was done
          (e.g. a token made, its token_info missing or holding an id no
          client can use)
  "endless_pages"  answer 200 {FIELD: [{"padding": "xxx..."}],
          "next_page_token": T} with "bytes" x's and a new T each time: a
          list that never ends (field: "clusters", "jobs", "runs")
  "message" overrides the message of any JSON kind. Faults are taken before
  the bearer check (like an edge proxy or rate limiter). Over TLS, Python's
  ssl module reports the RST of the reset kinds as an EOF; curl reports
  "Connection reset by peer".
"""

import hmac
import json
import os
import re
import socket
import struct
import sys
import threading
import time
import urllib.parse
import uuid

sys.dont_write_bytecode = True  # keep the source tree clean
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import tlsserver  # noqa: E402
import workspace_jobs  # noqa: E402
import workspace_oauth  # noqa: E402
import workspace_state as state  # noqa: E402
import workspace_tokens  # noqa: E402
from workspace_state import ApiError, invalid  # noqa: E402
# the test helper, importable from here: workspace.start_workspace(...)
from workspace_client import (AdminError, Reply, WorkspaceProcess,  # noqa: E402,F401
                              start_workspace)

DEFAULT_USER = "user@example.com"
DEFAULT_ORG_ID = "1234567890123456"
MAX_BODY = 16 * 1024 * 1024
HUGE_BYTES = 17 * 1024 * 1024
TRANSIENT_MESSAGE = ("com.databricks.backend.manager.util.UnknownWorkerEnvironmentException: "
                     "Unknown worker environment WorkerEnvId(workerenv-6212876543210987)")
HTML_502 = (b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
            b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
            b"</body>\r\n</html>\r\n")
CLUSTERS_PATH = re.compile(r"/api/2\.[01]/clusters/([A-Za-z0-9_-]+)")
JOBS_PATH = re.compile(r"/api/2\.[12]/jobs/([A-Za-z0-9_/-]+)")
SCIM_ME = "/api/2.0/preview/scim/v2/Me"


# --- tokens --------------------------------------------------------------------

def parse_tokens(text):
    """'token' or 'token<TAB>user' per line -> {token: user}."""
    out = {}
    for line in text.splitlines():
        line = line.strip("\r\n")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        tok, _, user = line.partition("\t")
        out[tok.strip()] = user.strip() or DEFAULT_USER
    return out


class Tokens:
    """The valid tokens; every token ever valid is masked in diagnostics."""

    def __init__(self, tokens):
        self.lock = threading.Lock()
        self.initial = dict(tokens)
        self.valid = dict(tokens)
        self.seen = set(tokens)

    def restore(self):
        with self.lock:
            self.valid = dict(self.initial)

    def replace(self, tokens):
        with self.lock:
            self.valid = dict(tokens)
            self.seen |= set(tokens)

    def user(self, token):
        with self.lock:
            found = None
            for t, u in self.valid.items():  # constant time per candidate
                if hmac.compare_digest(t.encode(), token.encode()):
                    found = u
            return found

    def mask(self, text):
        with self.lock:
            for t in sorted(self.seen, key=len, reverse=True):
                text = text.replace(t, "***")
        return text


def tokens_from_json(value):
    if not isinstance(value, list):
        raise invalid("tokens: a list is required")
    out = {}
    for item in value:
        if isinstance(item, str):
            tok, user = item, DEFAULT_USER
        elif isinstance(item, list) and len(item) == 2:
            tok, user = item
        elif isinstance(item, dict):
            tok, user = item.get("token"), item.get("user", DEFAULT_USER)
        else:
            tok = user = None
        if not isinstance(tok, str) or not tok or not isinstance(user, str):
            raise invalid("tokens: each is a token, [token, user] or {token, user}")
        out[tok] = user
    return out


# --- faults ----------------------------------------------------------------------

FAULT_KINDS = ("429", "503", "500", "transient", "html_502", "error", "slow",
               "reset", "reset_after_create", "pass", "huge", "close_after", "drop_after",
               "raw", "wire", "pad_field", "set_field", "endless_pages")
FAULT_KEYS = {"kind", "path", "method", "count", "retry_after", "seconds",
              "status", "error_code", "message", "bytes", "chunked", "body", "content_type",
              "data", "keep", "field", "value"}


def parse_fault(obj):
    """Check and normalise one fault object (see the module doc)."""
    if not isinstance(obj, dict):
        raise invalid("fault: a JSON object is required")
    unknown = set(obj) - FAULT_KEYS
    if unknown:
        raise invalid("fault: unknown keys " + ", ".join(sorted(unknown)))
    kind = str(obj.get("kind"))
    kind = {"reset_after": "reset_after_create"}.get(kind, kind)
    if kind not in FAULT_KINDS:
        raise invalid("fault: kind must be one of " + ", ".join(FAULT_KINDS))
    f = {"kind": kind, "path": obj.get("path", ""), "method": obj.get("method"),
         "count": obj.get("count", 1)}
    if not isinstance(f["path"], str):
        raise invalid("fault: path must be a string")
    if f["method"] is not None:
        if not isinstance(f["method"], str):
            raise invalid("fault: method must be a string")
        f["method"] = f["method"].upper()
    if not isinstance(f["count"], int) or isinstance(f["count"], bool) or \
            not (f["count"] == -1 or f["count"] >= 1):
        raise invalid("fault: count must be -1 or >= 1")
    if kind == "429":
        f["retry_after"] = obj.get("retry_after", 1)
    elif "retry_after" in obj:
        f["retry_after"] = obj["retry_after"]
    ra = f.get("retry_after")
    if ra is not None and (isinstance(ra, bool) or not isinstance(ra, (int, float, str))):
        raise invalid("fault: retry_after must be a number, a string or null")
    if kind == "slow":
        f["seconds"] = obj.get("seconds", 1.0)
        if isinstance(f["seconds"], bool) or not isinstance(f["seconds"], (int, float)) \
                or f["seconds"] < 0:
            raise invalid("fault: seconds must be a number >= 0")
    if kind == "error":
        st = obj.get("status")
        if not isinstance(st, int) or isinstance(st, bool) or not 400 <= st <= 599:
            raise invalid("fault: error needs a status in 400..599")
        f["status"] = st
        f["error_code"] = obj.get("error_code", f"HTTP_{st}")
    if kind == "huge":
        st, size = obj.get("status", 200), obj.get("bytes", HUGE_BYTES)
        if not isinstance(st, int) or isinstance(st, bool) or not 200 <= st <= 599:
            raise invalid("fault: huge needs a status in 200..599")
        if not isinstance(size, int) or isinstance(size, bool) or size < 16:
            raise invalid("fault: bytes must be a whole number >= 16")
        f.update(status=st, bytes=size, chunked=bool(obj.get("chunked", False)))
    if kind == "raw":
        st, body = obj.get("status", 200), obj.get("body", "")
        if not isinstance(st, int) or isinstance(st, bool) or not 200 <= st <= 599:
            raise invalid("fault: raw needs a status in 200..599")
        if not isinstance(body, str) or not isinstance(obj.get("content_type", ""), str):
            raise invalid("fault: raw needs body and content_type as strings")
        f.update(status=st, body=body, content_type=obj.get("content_type", "text/plain"))
    if kind == "wire":
        if not isinstance(obj.get("data"), str) or not obj["data"]:
            raise invalid("fault: wire needs data, a non-empty string")
        f.update(data=obj["data"], keep=bool(obj.get("keep", False)))
    if kind == "pad_field":
        size = obj.get("bytes")
        if not isinstance(obj.get("field"), str) or not obj["field"]:
            raise invalid("fault: pad_field needs field, a non-empty string")
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise invalid("fault: pad_field needs bytes, a whole number >= 1")
        f.update(field=obj["field"], bytes=size)
    if kind == "set_field":
        if not isinstance(obj.get("field"), str) or not obj["field"]:
            raise invalid("fault: set_field needs field, a non-empty string")
        f["field"] = obj["field"]
        if "value" in obj:
            f["value"] = obj["value"]
    if kind == "endless_pages":
        size = obj.get("bytes")
        if not isinstance(obj.get("field"), str) or not obj["field"]:
            raise invalid("fault: endless_pages needs field, a non-empty string")
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise invalid("fault: endless_pages needs bytes, a whole number >= 1")
        f.update(field=obj["field"], bytes=size, served=0)
    if "message" in obj:
        if not isinstance(obj["message"], str):
            raise invalid("fault: message must be a string")
        f["message"] = obj["message"]
    return f


def fault_answer(f, path):
    """(status, error_code, message, extra headers) of a JSON fault kind."""
    kind, ra = f["kind"], f.get("retry_after")
    if isinstance(ra, float) and ra.is_integer():
        ra = int(ra)
    headers = [("Retry-After", str(ra))] if ra is not None else []
    defaults = {
        "429": (429, "REQUEST_LIMIT_EXCEEDED",
                "Too many requests. Please wait a moment and try again."),
        "503": (503, "TEMPORARILY_UNAVAILABLE",
                f"The service at {path} is temporarily unavailable. Please try again later."),
        "500": (500, "INTERNAL_ERROR", "Internal error. Please try again later."),
        "transient": (400, "INVALID_STATE", TRANSIENT_MESSAGE),
    }
    if kind == "error":
        st, code, msg = f["status"], f["error_code"], f"injected error {f['status']}"
    else:
        st, code, msg = defaults[kind]
    return st, code, f.get("message", msg), headers


# --- the server --------------------------------------------------------------------

class WorkspaceServer(tlsserver.TLSServer):
    def __init__(self, addr, handler, tls_context, ws, tokens, admin_key,
                 org_id, verbose):
        super().__init__(addr, handler, tls_context, None)
        self.ws = ws
        self.jobs = workspace_jobs.Jobs()
        self.tokens = tokens
        self.oauth = workspace_oauth.OAuth(tokens)
        self.admin_key = admin_key
        self.org_id = org_id
        self.verbose = verbose
        self.lock = threading.Lock()
        self.faults = []
        self.records = []
        self.seq = 0
        self.minted = workspace_tokens.MintedTokens(tokens)

    def handle_error(self, request, client_address):
        # one masked line, no traceback (which could show request data)
        exc = sys.exc_info()[1]
        print(f"workspace: {client_address[0]}: "
              f"{self.tokens.mask(f'{type(exc).__name__}: {exc}')}", file=sys.stderr)

    def take_fault(self, method, path):
        with self.lock:
            for i, f in enumerate(self.faults):
                if path.endswith(f["path"]) and f["method"] in (None, method):
                    if f["count"] > 0:
                        f["count"] -= 1
                        if f["count"] == 0:
                            del self.faults[i]
                    if f["kind"] == "endless_pages":
                        f["served"] += 1
                    return dict(f)
        return None

    def new_record(self, rec):
        with self.lock:
            self.seq += 1
            rec["seq"] = self.seq
            self.records.append(rec)
        return rec

    def reset_all(self):
        with self.lock:
            self.faults, self.records = [], []
        self.ws.reset()
        self.jobs.reset()
        self.oauth.reset()
        self.tokens.restore()
        self.minted.reset()


class Handler(tlsserver.BaseHandler):
    server_version = "databricks"

    # --- plumbing ---
    def read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
                if len(data) > MAX_BODY:
                    raise ValueError("body too large")
        n = int(self.headers.get("Content-Length") or 0)
        if n < 0 or n > MAX_BODY:
            raise ValueError("bad Content-Length")
        return self.rfile.read(n) if n > 0 else b""

    def answer(self, status, obj=None, headers=(), raw=None, ctype="application/json",
               databricks=True):
        hdrs = list(headers)
        if databricks:
            hdrs += [("x-request-id", self.request_id),
                     ("x-databricks-org-id", self.server.org_id)]
        body = raw if raw is not None else (json.dumps(obj) + "\n").encode()
        if self.record is not None:
            self.record["status"] = status
        self.send_bytes(status, body, ctype, hdrs)

    def error(self, status, code, message, headers=()):
        self.answer(status, {"error_code": code, "message": message, "details": [
            {"@type": "type.googleapis.com/google.rpc.RequestInfo",
             "request_id": self.request_id, "serving_data": ""}]}, headers)

    def reset_connection(self):
        """Close with SO_LINGER 0: the peer gets a TCP RST, no answer."""
        self.close_connection = True
        if self.record is not None:
            self.record["reset"] = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.connection.close()
        self.rfile.close()  # drops the last reference: the fd closes now

    def log_line(self, path):
        if self.server.verbose:
            st = self.record["status"] if self.record else None
            print(self.server.tokens.mask(f"workspace: {self.command} {path} "
                                          f"{st if st is not None else 'reset'}"),
                  file=sys.stderr, flush=True)

    # --- one request ---
    def handle_any(self):
        self.record = None
        self.request_id = str(uuid.uuid4())
        url = urllib.parse.urlsplit(self.path)
        try:
            body = self.read_body()
        except ValueError:
            self.close_connection = True
            self.error(400, "MALFORMED_REQUEST", "Could not read the request body")
            return
        if url.path.startswith("/__admin/"):
            self.handle_admin(url, body)
            return
        text = body.decode("utf-8", "replace")
        try:
            parsed = json.loads(text) if text.strip() else None
        except ValueError:
            parsed = None
        self.record = self.server.new_record({
            "time": time.time(), "method": self.command, "path": url.path,
            "query": {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()},
            "target": self.path, "headers": [[k, v] for k, v in self.headers.items()],
            "body": text, "json": parsed, "status": None, "fault": None,
            "request_id": self.request_id, "reset": False, "conn": self.conn_id})
        try:
            self.handle_api(url, body)
        finally:
            self.log_line(url.path)

    def handle_api(self, url, body):
        if url.path.startswith("/oidc/") and workspace_oauth.handle(self, url, body):
            return
        fault = None
        if url.path.startswith("/api/"):
            fault = self.server.take_fault(self.command, url.path)
        if fault:
            self.record["fault"] = fault["kind"]
            kind = fault["kind"]
            if kind == "reset":
                self.reset_connection()
                return
            if kind == "slow":
                time.sleep(fault["seconds"])
            elif kind == "html_502":
                self.answer(502, raw=HTML_502, ctype="text/html", databricks=False)
                return
            elif kind == "raw":
                self.answer(fault["status"], raw=fault["body"].encode("utf-8", "surrogateescape"),
                            ctype=fault["content_type"])
                return
            elif kind == "wire":
                self.wfile.write(fault["data"].encode("utf-8", "surrogateescape"))
                self.wfile.flush()
                self.close_connection = not fault["keep"]
                return
            elif kind == "endless_pages":
                n = fault["served"]
                self.answer(200, raw=('{"%s": [{"padding": "%s"}], "next_page_token": '
                                      '"endless-%d"}\n' % (fault["field"], "x" * fault["bytes"],
                                                           n)).encode())
                return
            elif kind == "huge":
                self.record["status"] = fault["status"]
                self.send_padding(fault["status"], fault["bytes"], fault["chunked"],
                                  [("x-request-id", self.request_id)])
                return
            elif kind not in ("pass", "reset_after_create", "close_after", "drop_after",
                              "pad_field", "set_field"):
                st, code, msg, hdrs = fault_answer(fault, url.path)
                self.error(st, code, msg, hdrs)
                return
        failure = None
        try:
            status, obj = self.dispatch(url, body)
        except ApiError as e:
            failure = e
        if fault and fault["kind"] == "reset_after_create":
            self.reset_connection()  # processed, but the answer is lost
            return
        close = fault["kind"] if fault and fault["kind"] in ("close_after", "drop_after") \
            else None
        hdrs = [("Connection", "close")] if close == "close_after" else []
        if failure is None and fault and fault["kind"] == "pad_field" and \
                isinstance(obj, dict) and isinstance(obj.get(fault["field"]), str):
            obj = dict(obj)
            obj[fault["field"]] += "x" * fault["bytes"]
        if failure is None and fault and fault["kind"] == "set_field" and isinstance(obj, dict):
            obj = dict(obj)
            if "value" in fault:
                obj[fault["field"]] = fault["value"]
            else:
                obj.pop(fault["field"], None)
        if failure is not None:
            self.error(failure.status, failure.error_code, failure.message, hdrs)
        else:
            self.answer(status, obj, hdrs)
        if close:
            self.close_connection = True

    def authenticate(self):
        """The caller's user name; raises ApiError 401/403."""
        values = self.headers.get_all("Authorization") or []
        unauth = ApiError(401, "UNAUTHENTICATED", "Credential was not sent or was of "
                          "an unsupported type for this API.")
        if len(values) != 1:
            raise unauth
        scheme, _, token = values[0].partition(" ")
        if scheme.lower() != "bearer" or not token or token != token.strip() \
                or any(c.isspace() for c in token):
            raise unauth
        user = self.server.tokens.user(token) or self.server.minted.user(token)
        try:
            user = user or self.server.oauth.user(token)
        except PermissionError as e:
            raise ApiError(401, "UNAUTHENTICATED", str(e)) from None
        if user is None:
            raise ApiError(403, "PERMISSION_DENIED", "Invalid access token.")
        return user

    def dispatch(self, url, body):
        """(status, object) of an API call; raises ApiError."""
        path, method = url.path, self.command
        if (method, path) == ("GET", workspace_tokens.WELL_KNOWN):
            return workspace_tokens.well_known(self.server)
        if not path.startswith("/api/"):
            raise ApiError(404, "ENDPOINT_NOT_FOUND", f"No API found for '{method} {path}'")
        user = self.authenticate()
        ws = self.server.ws
        m = CLUSTERS_PATH.fullmatch(path)
        op = (method, m.group(1)) if m else (method, path)
        query = urllib.parse.parse_qs(url.query)
        j = JOBS_PATH.fullmatch(path)
        done = j and workspace_jobs.dispatch(
            self.server.jobs, method, j.group(1), query, lambda: json_body(body), user,
            f"https://{self.headers.get('Host', '127.0.0.1')}")
        if done:
            return done
        if op == ("POST", "create"):
            cid, _ = ws.create(json_body(body), user)
            return 200, {"cluster_id": cid}
        if op == ("GET", "get"):
            return 200, ws.get(query.get("cluster_id", [None])[0])
        if op == ("GET", "list"):
            return 200, ws.list(*page_args(query))
        if op == ("POST", "delete"):
            ws.delete(json_body(body).get("cluster_id"), user)
            return 200, {}
        if op == ("GET", SCIM_ME):
            return 200, scim_me(user)
        minted = workspace_tokens.dispatch(self.server.minted, method, path,
                                           json_body(body) if method == "POST" else {}, user)
        if minted:
            return minted
        rest = re.sub(r"^/api/2\.\d+", "", path)
        raise ApiError(404, "ENDPOINT_NOT_FOUND", f"No API found for '{method} {rest}'")

    # --- admin ---
    def handle_admin(self, url, body):
        key = self.server.admin_key
        given = self.headers.get("X-Admin-Key") or ""
        if key is not None and not hmac.compare_digest(given.encode(), key.encode()):
            self.error(403, "PERMISSION_DENIED", "X-Admin-Key missing or wrong")
            return
        try:
            status, obj = self.admin_dispatch(url, body)
        except ApiError as e:
            self.error(e.status, e.error_code, e.message)
            return
        self.answer(status, obj)

    def admin_dispatch(self, url, body):
        srv, ws, method = self.server, self.server.ws, self.command
        name = url.path[len("/__admin/"):].strip("/")
        query = urllib.parse.parse_qs(url.query)
        if (method, name) == ("GET", "health"):
            return 200, {"ok": True}
        if name == "faults" and method in ("GET", "POST", "DELETE"):
            if method == "POST":
                items = json_any(body)
                items = items if isinstance(items, list) else [items]
                new = [parse_fault(f) for f in items]
                with srv.lock:
                    srv.faults.extend(new)
            elif method == "DELETE":
                with srv.lock:
                    srv.faults = []
            with srv.lock:
                return 200, {"faults": [dict(f) for f in srv.faults]}
        if name == "requests" and method in ("GET", "DELETE"):
            if method == "DELETE":
                with srv.lock:
                    srv.records = []
                return 200, {}
            suffix = query.get("path", [""])[0]
            since = query.get("since", ["0"])[0]
            if not since.isdigit():
                raise invalid("since: a sequence number is required")
            since = int(since)
            with srv.lock:
                recs = [json.loads(json.dumps(r)) for r in srv.records
                        if r["path"].endswith(suffix) and r["seq"] > since]
            return 200, {"requests": recs}
        if (method, name) == ("GET", "clusters"):
            return 200, {"clusters": ws.admin_view()}
        done = workspace_jobs.admin(srv.jobs, method, name, lambda: json_body(body)) \
            or workspace_oauth.admin(srv.oauth, method, name, lambda: json_body(body))
        if done:
            return done
        if name == "config" and method in ("GET", "POST"):
            if method == "POST":
                conf = json_body(body)
                if "tokens" in conf:
                    new = tokens_from_json(conf.pop("tokens"))
                    ws.configure(conf)  # check the rest before replacing tokens
                    srv.tokens.replace(new)
                else:
                    ws.configure(conf)
            return 200, ws.config()
        if (method, name) == ("POST", "reset"):
            srv.reset_all()
            return 200, {}
        raise ApiError(404, "ENDPOINT_NOT_FOUND", f"No admin API for '{method} {url.path}'")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_TRACE = do_TRACK = handle_any


def json_any(body):
    """Parse a request body; raises 400 MALFORMED_REQUEST."""
    def no_constants(name):
        raise ValueError(name)
    try:
        text = body.decode("utf-8")
        return json.loads(text, parse_constant=no_constants) if text.strip() else {}
    except ValueError:
        raise ApiError(400, "MALFORMED_REQUEST", "Invalid JSON given in the body of "
                       "the request - failed to parse given JSON") from None


def json_body(body):
    obj = json_any(body)
    if not isinstance(obj, dict):
        raise ApiError(400, "MALFORMED_REQUEST", "Invalid JSON given in the body of "
                       "the request - expected a map")
    return obj


def page_args(query):
    size = query.get("page_size", [None])[0]
    if size is not None:
        if not size.isdigit() or int(size) > 100:
            raise invalid(f"Invalid value for field page_size: {size} (0..100)")
        size = int(size)
    return size, query.get("page_token", [None])[0]


def scim_me(user):
    uid = str(abs(hash(user)) % 10**16)
    return {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": uid, "userName": user, "displayName": user.split("@")[0],
            "active": True, "emails": [{"value": user, "type": "work", "primary": True}],
            "groups": [], "entitlements": []}


# --- the program ------------------------------------------------------------------

def read_first_line(path):
    with open(path, encoding="utf-8") as f:
        return f.readline().strip()


def main(argv=None):
    p = tlsserver.parser("Databricks workspace double (Clusters API, SCIM Me)")
    p.add_argument("--token-file")
    p.add_argument("--admin-key-file")
    p.add_argument("--pending-seconds", type=float, default=2.0)
    p.add_argument("--terminating-seconds", type=float, default=1.0)
    p.add_argument("--org-id", default=DEFAULT_ORG_ID)
    p.add_argument("--verbose", action="store_true")
    args = p.parse_args(argv)
    if args.log:
        sys.exit("workspace: --log is not supported (requests hold tokens; "
                 "read them from GET /__admin/requests)")
    if args.client_ca:
        sys.exit("workspace: --client-ca is not supported")
    tokens = {}
    if args.token_file:
        with open(args.token_file, encoding="utf-8") as f:
            tokens.update(parse_tokens(f.read()))
    tokens.update(parse_tokens(os.environ.pop("WORKSPACE_TOKEN", "")))
    if not tokens:
        sys.exit("workspace: no valid token: give --token-file or WORKSPACE_TOKEN")
    admin_key = read_first_line(args.admin_key_file) if args.admin_key_file else None
    if args.admin_key_file and not admin_key:
        sys.exit("workspace: the admin key file is empty")
    if args.pending_seconds < 0 or args.terminating_seconds < 0:
        sys.exit("workspace: delays must be >= 0")

    tlsserver._loopback_only(args.bind)
    ctx = None
    if not args.plain:
        if not args.cert or not args.key:
            sys.exit("workspace: --cert and --key are required without --plain")
        ctx = tlsserver.tls_context(args)
    ws = state.Workspace(args.pending_seconds, args.terminating_seconds)
    server = WorkspaceServer((args.bind, args.port), Handler, ctx, ws, Tokens(tokens),
                             admin_key, args.org_id, args.verbose)
    tlsserver.serve(server, args.port_file)
    return 0


if __name__ == "__main__":
    sys.exit(main())
