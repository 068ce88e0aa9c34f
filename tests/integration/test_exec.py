"""End-to-end tests of `dbroker exec` and `dbroker tokens` against the local
HTTPS workspace double, with real children (curl, python3-requests, shells)
as the proxy's clients: what the child's environment holds, attacks on the
proxy, signals, exit codes, output masking, and minted tokens that are gone
afterwards. Run by ctest with DBROKER_BIN and DBR_SOURCE_DIR set."""
import contextlib
import json
import os
import pty
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.dont_write_bytecode = True
SRC = os.environ.get("DBR_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(SRC, "tests", "doubles"))
from workspace_case import WorkspaceCase  # noqa: E402
from secret_forms import encodings  # noqa: E402
from pty_read import read_pty  # noqa: E402
from local_user import LocalUser  # noqa: E402

BIN = os.environ.get("DBROKER_BIN", "dbroker")
PLUGIN_DIR = os.path.join(os.environ.get("DBR_BINARY_DIR", os.path.dirname(os.path.dirname(
    os.path.abspath(BIN)))), "plugins")
CLIENTS = os.path.join(SRC, "tests", "integration", "exec_clients")
SEED = os.path.join(SRC, "tests", "doubles", "seed_cluster.json")
ME = "/api/2.0/preview/scim/v2/Me"
CURL_ME = 'curl -sS -H "Authorization: Bearer $DATABRICKS_TOKEN" "$DATABRICKS_HOST' + ME + '"'


# A client sending a chunked body that never ends, 1 KiB at a time, for up
# to 10 s; prints what it sent, the answer's status and body, and whether
# the proxy closed the connection.
ENDLESS_CHUNKS = r'''
import json, os, socket, time, urllib.parse
u = urllib.parse.urlsplit(os.environ["DATABRICKS_HOST"])
s = socket.create_connection((u.hostname, u.port), timeout=10)
s.sendall(("POST /api/2.1/clusters/create HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer "
           "%s\r\nTransfer-Encoding: chunked\r\n\r\n"
           % (u.netloc, os.environ["DATABRICKS_TOKEN"])).encode())
sent, got, end = 0, b"", time.monotonic() + 10
s.setblocking(False)
while time.monotonic() < end and b"}" not in got:
    try:
        sent += s.send(b"400\r\n" + b"a" * 1024 + b"\r\n") and 1024
    except (BlockingIOError, OSError):
        pass
    try:
        got += s.recv(65536)
    except BlockingIOError:
        time.sleep(0.01)
    except OSError:
        break
s.settimeout(5)
closed = False
try:
    while True:
        d = s.recv(65536)
        if not d:
            closed = True
            break
        got += d
except OSError as e:
    closed = not isinstance(e, socket.timeout)
head, _, body = got.decode(errors="replace").partition("\r\n\r\n")
print(json.dumps({"sent": sent, "status": head[9:12], "answer": body, "closed": closed}))
'''


class ExecBase(WorkspaceCase):
    PREFIX = "dbr-exec-"
    PENDING_SECONDS = 0.2
    TERMINATING_SECONDS = 0.2

    def cmd(self, *args, ca=True):
        return [BIN, "--chain", "env"] + (["--ca-cert", self.ws.ca_file] if ca else []) + \
            list(args)

    def run_dbr(self, *args, env=None, ca=True, timeout=60, check_secret=True, **kw):
        p = subprocess.run(self.cmd(*args, ca=ca), env=env or self.env(),
                           capture_output=True, timeout=timeout, **kw)
        p.out = p.stdout.decode("utf-8", "replace")
        p.err = p.stderr.decode("utf-8", "replace")
        if check_secret:
            self.assert_no_secret(p.out, p.err)
        return p


    def path(self, name):
        return os.path.join(self.home, name)

    def wait_file(self, path, timeout=20):
        deadline = time.monotonic() + timeout
        while not (os.path.exists(path) and os.path.getsize(path) > 0):
            self.assertLess(time.monotonic(), deadline, f"{path} never appeared")
            time.sleep(0.02)
        with open(path) as f:
            return f.read().strip()

    def wait_request(self, path, timeout=20):
        """Until the workspace has seen a request to path (its suffix)."""
        deadline = time.monotonic() + timeout
        while not self.ws.requests(path=path):
            self.assertLess(time.monotonic(), deadline, f"no request to {path}")
            time.sleep(0.02)

    def read(self, path):
        with open(path) as f:
            return f.read()

    def live_tokens(self):
        r = self.ws.call("GET", "/api/2.0/token/list", token=self.token)
        self.assertEqual(r.status, 200)
        return r.json["token_infos"]

    def bearers(self):
        """Every Authorization value the workspace received."""
        return [v for r in self.ws.requests() for k, v in r["headers"]
                if k.lower() == "authorization"]


class ProxyClientsTest(ExecBase):
    def test_official_js_sdk_client(self):
        # the official Databricks SDK for JavaScript, configured from the
        # environment dbroker gives it as it would be for a real workspace
        # (an http:// loopback host, DATABRICKS_AUTH_TYPE=pat): a cluster's
        # whole life, through the proxy
        modules = os.path.join(SRC, "tests", "js-sdk", "node_modules")
        self.assertTrue(os.path.isdir(os.path.join(modules, "@databricks", "sdk-experimental")),
                        "the SDK is not installed: run scripts/bootstrap")
        p = self.run_dbr("exec", "--", "node", os.path.join(CLIENTS, "js_sdk.js"), SEED,
                         env=self.env(NODE_PATH=modules))
        self.assertEqual(p.returncode, 0, p.err)
        out = json.loads(p.out)
        self.assertEqual(out["me"], "me@example.com")
        cid, state, saw_pending = out["create"]
        self.assertEqual((state, saw_pending), ("RUNNING", True))
        self.assertEqual(out["list"], [cid])
        self.assertEqual(out["missing"][0], 400)
        self.assertIn("Cluster 0000-000000-nothere0 does not exist", out["missing"][1])
        self.assertEqual(out["deleted"], "TERMINATED")
        # every request reached the workspace with the real token, and the
        # SDK saw nothing but the capability
        reqs = self.ws.requests()
        self.assertEqual([r["path"] for r in reqs][:2], [ME, "/api/2.1/clusters/create"])
        for r in reqs:
            self.assertEqual([v for k, v in r["headers"] if k.lower() == "authorization"],
                             ["Bearer " + self.token], r["path"])

    def test_python_requests_client(self):
        p = self.run_dbr("exec", "--", "python3", os.path.join(CLIENTS, "sdk_like.py"), SEED)
        self.assertEqual(p.returncode, 0, p.err)
        out = json.loads(p.out)
        self.assertEqual(out["auth_type"], "pat")
        self.assertEqual(out["well_known"][0], 200)
        self.assertIn("workspace_id", out["well_known"][1])
        self.assertEqual(out["create"][0], 200)
        cid = out["create"][1]["cluster_id"]
        self.assertEqual(out["get"][:2], [200, "PENDING"])
        self.assertRegex(out["get"][2], r"^[0-9a-f-]{36}$")  # upstream headers relayed
        self.assertEqual(out["list"], [200, [cid]])
        # an error answer arrives as the workspace sent it
        self.assertEqual(out["missing"], [400, "INVALID_PARAMETER_VALUE", "application/json"])
        self.assertEqual(out["me"], [200, "me@example.com"])
        # upstream: the real token on every call but the well-known one
        reqs = self.ws.requests()
        self.assertEqual(len(reqs), 6)
        for r in reqs:
            auth = [v for k, v in r["headers"] if k.lower() == "authorization"]
            if r["path"] == "/.well-known/databricks-config":
                self.assertEqual(auth, [])
            else:
                self.assertEqual(auth, ["Bearer " + self.token])
            self.assertNotIn("dbrcap_", json.dumps(r))

    def test_http_proxy_for_the_outside_is_not_used_for_the_local_proxy(self):
        # http_proxy, as set where the outside is reached through a proxy,
        # applies to http://127.0.0.1 too for requests (the Python SDK's
        # client) and curl: the child's calls went to that proxy, the
        # capability and the bodies in clear text (here: a dead port, so
        # they failed). 127.0.0.1 is added to NO_PROXY and no_proxy
        dead = "http://127.0.0.1:9"
        py = ("import os, requests\n"
              "r = requests.get(os.environ['DATABRICKS_HOST'] + %r, timeout=10,\n"
              "                 headers={'Authorization': 'Bearer ' + "
              "os.environ['DATABRICKS_TOKEN']})\n"
              "print(r.status_code)\n" % ME)
        curl = CURL_ME + ' -o /dev/null -w "%{http_code}\\n"'
        for extra in ({"http_proxy": dead}, {"HTTP_PROXY": dead, "NO_PROXY": "example.com"},
                      {"http_proxy": dead, "no_proxy": "example.com", "NO_PROXY": ""}):
            with self.subTest(env=extra):
                for child in (["python3", "-c", py], ["sh", "-c", curl]):
                    p = self.run_dbr("exec", "--", *child, env=self.env(**extra))
                    self.assertEqual((p.returncode, p.out), (0, "200\n"), p.err)
        p = self.run_dbr("exec", "--", "sh", "-c", 'echo "$NO_PROXY|$no_proxy"',
                         env=self.env(no_proxy="example.com"))
        self.assertEqual(p.out, "127.0.0.1|example.com,127.0.0.1\n")
        # the workspace itself (--mint, --pass-token) may well need the proxy
        for mode in ("--mint", "5m"), ("--pass-token",):
            p = self.run_dbr("exec", *mode, "--", "sh", "-c", 'echo "${NO_PROXY-unset}|$no_proxy"',
                             env=self.env(no_proxy="example.com"))
            self.assertEqual(p.out, "unset|example.com\n", p.err)

    def test_curl_client_create_list_and_bodies(self):
        script = ('set -e; c=\'-sS -H "Authorization: Bearer \'"$DATABRICKS_TOKEN"\'"\'; '
                  'eval curl $c -X POST --data-binary @' + SEED + ' "$DATABRICKS_HOST/api/2.1/'
                  'clusters/create"; echo; eval curl $c "$DATABRICKS_HOST/api/2.1/clusters/'
                  'list?page_size=5"; echo; eval curl $c -o /dev/null -w "%{http_code}" '
                  '-X PATCH "$DATABRICKS_HOST/api/2.1/clusters/edit"')
        p = self.run_dbr("exec", "--", "sh", "-c", script)
        self.assertEqual(p.returncode, 0, p.err)
        lines = [line for line in p.out.splitlines() if line]
        cid = json.loads(lines[0])["cluster_id"]
        self.assertEqual([c["cluster_id"] for c in json.loads(lines[1])["clusters"]], [cid])
        self.assertEqual(lines[2], "404")  # any method goes through
        create, lst, edit = self.ws.requests()
        with open(SEED) as f:
            self.assertEqual(create["json"], json.load(f))
        self.assertEqual(lst["target"], "/api/2.1/clusters/list?page_size=5")
        self.assertEqual(edit["method"], "PATCH")
        self.assertEqual(self.bearers(), ["Bearer " + self.token] * 3)
        # a body goes with the type its sender gave, and none is made up
        self.ws.clear_requests()
        blob = self.path("blob")
        with open(blob, "wb") as f:
            f.write(b"\0\1binary")
        put = ('curl -sS -o /dev/null -H "Authorization: Bearer $DATABRICKS_TOKEN" -T ' + blob +
               ' ')
        script = (put + '"$DATABRICKS_HOST/api/2.0/fs/files/a" && ' + put +
                  '-H "Content-Type: application/octet-stream" "$DATABRICKS_HOST/api/2.0/fs/files/b"')
        p = self.run_dbr("exec", "--", "sh", "-c", script)
        self.assertEqual(p.returncode, 0, p.err)
        types = [[v for k, v in r["headers"] if k.lower() == "content-type"]
                 for r in self.ws.requests()]
        self.assertEqual(types, [[], ["application/octet-stream"]])

    def test_streams_answers_over_the_response_cap(self):
        # 17 MiB, chunked: over the 16 MiB a dbroker command would collect.
        # On the kept connection a GET's body is streamed from the
        # connection's thread as it arrives: asked once. Through libcurl
        # (--debug traces every request there) it is collected until it
        # outgrows the ring (256 KiB), then asked again and streamed.
        curl = ('curl -sS -H "Authorization: Bearer $DATABRICKS_TOKEN" '
                '"$DATABRICKS_HOST/api/2.1/clusters/list" | wc -c')
        for debug, asked in (((), 1), (("--debug",), 2)):
            self.ws.reset()
            self.ws.add_fault("huge", path="clusters/list", chunked=True, count=asked)
            p = self.run_dbr(*debug, "exec", "--", "sh", "-c", curl)
            self.assertEqual(p.returncode, 0, p.err)
            self.assertEqual(int(p.out.strip()), 17 * 1024 * 1024)
            self.assertEqual([r["method"] for r in self.ws.requests()], ["GET"] * asked)

    def test_large_answers_streamed_small_ones_whole(self):
        # sized and over the ring: the GET is streamed from the kept
        # connection, asked once; a POST is never sent twice, its answer
        # streamed from the start; a small answer arrives whole, with its
        # length
        self.ws.add_faults({"kind": "huge", "path": "clusters/get", "bytes": 300 * 1024},
                           {"kind": "huge", "path": "clusters/events", "method": "POST",
                            "bytes": 300 * 1024})
        script = ('set -e; c=\'-sS -H "Authorization: Bearer \'"$DATABRICKS_TOKEN"\'"\'; '
                  'eval curl $c "$DATABRICKS_HOST/api/2.1/clusters/get?cluster_id=x" | wc -c; '
                  'eval curl $c -X POST -d "{}" "$DATABRICKS_HOST/api/2.1/clusters/events" '
                  '| wc -c; eval curl $c -D - -o /dev/null '
                  '"$DATABRICKS_HOST/api/2.0/preview/scim/v2/Me"')
        p = self.run_dbr("exec", "--", "sh", "-c", script)
        self.assertEqual(p.returncode, 0, p.err)
        lines = p.out.splitlines()
        self.assertEqual([int(x) for x in lines[:2]], [300 * 1024, 300 * 1024])
        self.assertIn("content-length:", "\n".join(lines[2:]).lower())
        self.assertEqual([(r["method"], r["path"]) for r in self.ws.requests()],
                         [("GET", "/api/2.1/clusters/get")] +
                         [("POST", "/api/2.1/clusters/events"),
                          ("GET", "/api/2.0/preview/scim/v2/Me")])

    def test_safe_methods_retried_others_not(self):
        self.ws.add_faults({"kind": "503", "path": "scim/v2/Me"},
                           {"kind": "503", "path": "clusters/create"})
        p = self.run_dbr("exec", "--", "sh", "-c", CURL_ME + ' -o /dev/null -w "%{http_code} "; '
                         'curl -sS -o /dev/null -w "%{http_code}" -X POST -H "Authorization: '
                         'Bearer $DATABRICKS_TOKEN" -d "{}" "$DATABRICKS_HOST/api/2.1/'
                         'clusters/create"')
        self.assertEqual(p.out, "200 503", p.err)
        self.assertEqual(len(self.ws.requests(path="scim/v2/Me")), 2)
        self.assertEqual(len(self.ws.requests(path="clusters/create")), 1)


class EnvironTest(ExecBase):
    """/proc/PID/environ of the running child, in every mode."""

    def child_environ(self, *mode, extra_env=None):
        pidfile = self.path("pid")
        # the profile dbroker is told to use exists; the child must not inherit the choice
        with open(self.path(".databrickscfg"), "w") as f:
            f.write(f"[prod]\nhost = {self.ws.url}\n")
        os.chmod(self.path(".databrickscfg"), 0o600)
        # a service principal's variables too (auth type pat: the token decides)
        env = self.env(DATABRICKS_CLIENT_SECRET="client-secret-canary-" + secrets.token_hex(8),
                       DATABRICKS_CLIENT_ID="sp-canary-id", DATABRICKS_AUTH_TYPE="pat",
                       DATABRICKS_CONFIG_PROFILE="prod", DATABRICKS_AZURE_CLIENT_SECRET="x" * 20,
                       DATABRICKS_PASSWORD="hunter2-hunter2", DATABRICKS_CLUSTER_ID="keep-me",
                       **(extra_env or {}))
        p = subprocess.Popen(self.cmd("exec", *mode, "--", "sh", "-c",
                                      'echo $$ > ' + pidfile + '; exec sleep 30'),
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            pid = int(self.wait_file(pidfile))
            # read it once the shell has become sleep: mid-exec the kernel
            # names the process sleep before it has set up the new
            # environment, which then reads empty
            deadline = time.monotonic() + 20
            while True:
                raw = b""
                if self.read(f"/proc/{pid}/comm").strip() == "sleep":
                    with open(f"/proc/{pid}/environ", "rb") as f:
                        raw = f.read()
                if raw:
                    break
                self.assertLess(time.monotonic(), deadline, "the child never ran sleep")
                time.sleep(0.01)
        finally:
            p.send_signal(signal.SIGTERM)
            out, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 128 + signal.SIGTERM, err)
        entries = dict(e.split(b"=", 1) for e in raw.split(b"\0") if b"=" in e)
        return {k.decode(): v.decode() for k, v in entries.items()}, raw, err.decode()

    def assert_common(self, env):
        self.assertEqual(env["DATABRICKS_AUTH_TYPE"], "pat")
        self.assertEqual(env["DATABRICKS_CLUSTER_ID"], "keep-me")
        for gone in ("DATABRICKS_CLIENT_SECRET", "DATABRICKS_CLIENT_ID",
                     "DATABRICKS_CONFIG_PROFILE",
                     "DATABRICKS_AZURE_CLIENT_SECRET", "DATABRICKS_PASSWORD"):
            self.assertNotIn(gone, env)

    def test_proxy_mode(self):
        env, raw, err = self.child_environ()
        self.assert_no_secret(raw.decode("latin-1"))
        self.assertRegex(env["DATABRICKS_TOKEN"], r"^dbrcap_[A-Za-z0-9_-]{43}$")
        self.assertRegex(env["DATABRICKS_HOST"], r"^http://127\.0\.0\.1:\d+$")
        self.assert_common(env)

    def test_mint_mode(self):
        env, raw, err = self.child_environ("--mint", "5m")
        self.assert_no_secret(raw.decode("latin-1"))
        self.assertRegex(env["DATABRICKS_TOKEN"], r"^dapi[0-9a-f]{32}$")
        self.assertNotEqual(env["DATABRICKS_TOKEN"], self.token)
        self.assertEqual(env["DATABRICKS_HOST"], self.ws.url)
        self.assert_common(env)
        self.assertEqual(self.live_tokens(), [])  # revoked after SIGTERM

    def test_pass_token_mode(self):
        env, raw, err = self.child_environ("--pass-token")
        self.assertEqual(env["DATABRICKS_TOKEN"], self.token)
        self.assertEqual(env["DATABRICKS_HOST"], self.ws.url)
        self.assert_common(env)
        self.assertIn("--pass-token", err)
        self.assertIn("real token", err)
        self.assert_no_secret(err)


class AttackTest(ExecBase):
    def test_raw_requests_refused(self):
        p = self.run_dbr("exec", "--", "python3", os.path.join(CLIENTS, "raw_attacks.py"))
        self.assertEqual(p.returncode, 0, p.err)
        out = json.loads(p.out)
        for name in ("absolute_uri", "absolute_uri_own_host", "connect", "foreign_host",
                     "asterisk"):
            self.assertEqual(out[name], [400, "BAD_REQUEST"], name)
        for name in ("no_capability", "wrong_capability", "capability_as_basic",
                     "well_known_prefix", "well_known_with_body", "well_known_chunked"):
            self.assertEqual(out[name], [401, "UNAUTHENTICATED"], name)
        self.assertEqual(out["well_known_post"], [401, "UNAUTHENTICATED"])
        self.assertEqual(out["trace"], [405, "BAD_REQUEST"])
        self.assertEqual(out["track"], [405, "BAD_REQUEST"])
        self.assertEqual(out["honest"], [200, None])
        # only the honest request reached the workspace
        self.assertEqual([r["path"] for r in self.ws.requests()], [ME])
        self.assertIn("refused GET /api/2.0/preview/scim/v2/Me: a wrong capability", p.err)
        self.assertIn("refused GET /api/2.0/preview/scim/v2/Me: no capability", p.err)
        self.assertNotIn("dbrcap_", p.err)  # no value is logged

    def test_malformed_http_gets_libmicrohttpds_own_pages(self):
        # refused by libmicrohttpd before the proxy sees them: its own HTML
        # page (0.9.75 cannot replace them), never forwarded, and the proxy
        # serves the next connection
        p = self.run_dbr("exec", "--", "python3", os.path.join(CLIENTS, "malformed_http.py"))
        self.assertEqual(p.returncode, 0, p.err)
        out = json.loads(p.out)
        expect = {"long_url": 414, "big_header": 431, "http2": 505, "h2_preface": 505,
                  "bad_chunk": 400, "negative_length": 400}
        for name, status in expect.items():
            self.assertEqual(out[name], [status, None, True], name)
        self.assertEqual(out["honest"], [200, "application/json", False])
        self.assertEqual([r["path"] for r in self.ws.requests()], [ME])

    def test_ambiguous_request_heads_refused(self):
        # libmicrohttpd 0.9.75 glues a folded line to the header's name
        # ("X-A: a\r\n\tmore" was forwarded as "X-Amore: a"; a folded
        # Content-Length vanished, and the body was read as the next
        # request) and cuts a value at a NUL: each such head, and one with
        # two Host headers or two framings, is refused with the proxy's JSON
        # 400 and the connection closed; nothing is forwarded
        p = self.run_dbr("exec", "--", "python3", os.path.join(CLIENTS, "ambiguous_heads.py"))
        self.assertEqual(p.returncode, 0, p.err)
        out = json.loads(p.out)
        for name, answer in out.items():
            if not name.startswith("fine_"):
                self.assertEqual(answer, [400, "BAD_REQUEST", True], name)
        self.assertEqual(sorted(r["target"].split("case=")[1] for r in self.ws.requests()),
                         sorted(n for n in out if n.startswith("fine_")))
        for r in self.ws.requests():
            self.assertEqual(r["body"], "{}")
        self.assertIn("refused POST /api/2.1/clusters/create: a folded header line", p.err)
        self.assertIn("refused POST /api/2.1/clusters/create: both Content-Length and "
                      "Transfer-Encoding", p.err)

    def test_hop_by_hop_headers_of_every_connection_header(self):
        # Connection is a list: the headers a second Connection line names
        # are hop-by-hop too, and stay behind like those of the first
        script = r"""
import os, sys
sys.path.insert(0, sys.argv[1])
from raw_http import URL as u, exchange
head, _ = exchange("GET /api/2.0/preview/scim/v2/Me HTTP/1.1\r\nHost: %s\r\n"
                   "Authorization: Bearer %s\r\nConnection: close, X-First\r\n"
                   "Connection: X-Second\r\nX-First: 1\r\nX-Second: 2\r\nX-Kept: 3\r\n\r\n"
                   % (u.netloc, os.environ["DATABRICKS_TOKEN"]))
print(head.split(b" ")[1].decode())
"""
        p = self.run_dbr("exec", "--", "python3", "-c", script, CLIENTS)
        self.assertEqual(p.out.strip(), "200", p.err)
        [r] = self.ws.requests()
        names = [k.lower() for k, _ in r["headers"]]
        self.assertIn("x-kept", names)
        self.assertNotIn("x-first", names)
        self.assertNotIn("x-second", names)
        self.assertEqual([v for _, v in r["headers"] if "X-First" in v or "X-Second" in v], [])

    @unittest.skipUnless(os.geteuid() == 0, "needs root to create another local user")
    def test_another_user_is_turned_away_and_cannot_starve_the_child(self):
        # another user on the machine finds the port (ss, /proc/net/tcp) and
        # opens more connections than the proxy takes, each trickling an
        # unfinished request: before, they held every slot for the idle
        # timeout (300 s) and the child got nothing; a whole request of
        # theirs got a 401 from the proxy itself
        user = LocalUser()
        self.addCleanup(user.remove)
        child = 'echo "$DATABRICKS_HOST"; read go; ' + CURL_ME + ' -o /dev/null -w "%{http_code}"'
        proc = subprocess.Popen(self.cmd("exec", "--max-connections", "4", "--", "sh", "-c",
                                         child), env=self.env(), stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(proc.kill)
        port = int(proc.stdout.readline().strip().rsplit(":", 1)[1])
        attacker = r"""
import socket, sys
port, socks, closed = int(sys.argv[1]), [], 0
head = b"GET /api/2.0/preview/scim/v2/Me HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n" % port
for i in range(8):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(head + (b"\r\n" if i == 0 else b"X-Slow: 1\r\n"))
    socks.append(s)
for s in socks:
    s.settimeout(2)
    try:
        closed += s.recv(100) == b""
    except ConnectionResetError:
        closed += 1
    except socket.timeout:
        pass
print(closed, flush=True)
sys.stdin.readline()  # held while the child is served
"""
        att = user.popen("/usr/bin/python3", "-c", attacker, str(port), stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(att.kill)
        closed = att.stdout.readline().strip()
        out, err = proc.communicate("go\n", timeout=60)
        att.communicate("", timeout=10)
        self.assert_no_secret(out, err)
        # every connection closed before a byte was read, the whole request
        # too (no 401 from the proxy: nothing of it was looked at)
        self.assertEqual(closed, "8", err)
        self.assertEqual(proc.returncode, 0, err)
        self.assertTrue(out.endswith("200"), out + err)
        self.assertEqual([r["path"] for r in self.ws.requests()], [ME])
        self.assertIn("exec proxy: turned away a connection from uid %d (another user: only "
                      "this user's processes are served; further ones are not logged)"
                      % user.uid, err)
        self.assertEqual(err.count("turned away"), 1, err)

    def test_capability_of_another_run(self):
        capfile = self.path("cap")
        p = self.run_dbr("exec", "--", "sh", "-c", 'printf %s "$DATABRICKS_TOKEN" > ' + capfile)
        self.assertEqual(p.returncode, 0, p.err)
        with open(capfile) as f:
            old = f.read()
        self.assertTrue(old.startswith("dbrcap_"))
        p = self.run_dbr("exec", "--", "sh", "-c", 'curl -sS -w " %{http_code}" -H '
                         '"Authorization: Bearer ' + old + '" "$DATABRICKS_HOST' + ME + '"')
        self.assertTrue(p.out.endswith(" 401"), p.out)
        self.assertIn('"error_code":"UNAUTHENTICATED"', p.out)
        # nor does the real token open the proxy
        p = self.run_dbr("exec", "--", "sh", "-c", 'curl -sS -o /dev/null -w "%{http_code}" -H '
                         '"Authorization: Bearer $REAL" "$DATABRICKS_HOST' + ME + '"',
                         env=self.env(REAL=self.token), check_secret=False)
        self.assertEqual(p.out, "401")
        self.assertEqual(self.ws.requests(), [])

    def test_oversized_body(self):
        big = self.path("big.json")
        with open(big, "w") as f:
            f.write('{"x": "' + "a" * 4000 + '"}')
        script = ('for te in "" "-H Transfer-Encoding:chunked"; do curl -sS -o /dev/null -w '
                  '"%{http_code} " $te -X POST -H "Authorization: Bearer $DATABRICKS_TOKEN" '
                  '--data-binary @' + big + ' "$DATABRICKS_HOST/api/2.1/clusters/create"; '
                  'done; ' + CURL_ME + ' -o /dev/null -w "%{http_code}"')
        p = self.run_dbr("exec", "--max-body", "1000", "--", "sh", "-c", script)
        self.assertEqual(p.out, "413 413 200", p.err)
        self.assertEqual([r["path"] for r in self.ws.requests()], [ME])
        self.assertIn("body over the cap", p.err)

    def test_body_in_another_transfer_coding_refused(self):
        # a body whose end is not known (a coding other than chunked last):
        # refused at once, not read to the connection's end while the
        # child waits for an answer
        script = r"""
import json, os, socket, sys
sys.path.insert(0, sys.argv[1])
from raw_http import URL as u, exchange
out = []
for te in ("gzip, chunked", "identity", "chunked, identity"):
    try:
        head, body = exchange("POST /api/2.1/clusters/create HTTP/1.1\r\nHost: %s\r\n"
                              "Authorization: Bearer %s\r\nTransfer-Encoding: %s\r\n\r\n"
                              "5\r\nhello\r\n0\r\n\r\n"
                              % (u.netloc, os.environ["DATABRICKS_TOKEN"], te), timeout=5)
        out.append([int(head.split(b" ")[1]), json.loads(body)["error_code"]])
    except socket.timeout:
        out.append("no answer")
print(json.dumps(out))
"""
        p = self.run_dbr("exec", "--", "python3", "-c", script, CLIENTS)
        self.assertEqual(json.loads(p.out), [[400, "BAD_REQUEST"]] * 3, p.err)
        self.assertIn("refused POST /api/2.1/clusters/create: a Transfer-Encoding other than "
                      "chunked", p.err)
        self.assertEqual(self.ws.requests(), [])

    def test_endless_chunked_body_refused_at_the_cap(self):
        # a chunked body that never ends: the 413 comes once the cap is
        # passed, not when the body ends, and the connection is closed
        p = self.run_dbr("exec", "--max-body", "100000", "--", "python3", "-c",
                         ENDLESS_CHUNKS)
        self.assertEqual(p.returncode, 0, p.err)
        out = json.loads(p.out)
        self.assertEqual(out["status"], "413", p.out)
        self.assertIn("RESOURCE_LIMIT_EXCEEDED", out["answer"])
        self.assertIn("over dbroker exec's cap of 100000 bytes", out["answer"])
        self.assertTrue(out["closed"], p.out)
        self.assertLess(out["sent"], 1 << 20)
        self.assertEqual(self.ws.requests(), [])

    def test_connection_limit(self):
        script = r"""
import os, socket, time, urllib.parse
u = urllib.parse.urlsplit(os.environ["DATABRICKS_HOST"])
req = ("GET /api/2.0/preview/scim/v2/Me HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s"
       "\r\nConnection: close\r\n\r\n" % (u.netloc, os.environ["DATABRICKS_TOKEN"]))
def ask():
    s = socket.create_connection((u.hostname, u.port), timeout=10)
    try:
        s.sendall(req.encode())
        d = s.recv(64)
    except OSError:
        d = b""
    s.close()
    return d[9:12].decode() or "closed"
idle = [socket.create_connection((u.hostname, u.port)) for _ in range(2)]
time.sleep(0.3)
over = ask()
for s in idle:
    s.close()
time.sleep(0.3)
print(over, ask())
"""
        p = self.run_dbr("exec", "--max-connections", "2", "--", "python3", "-c", script)
        self.assertEqual(p.out.split(), ["closed", "200"], p.err)
        self.assertEqual(len(self.ws.requests()), 1)

    def test_upstream_tls_failure_is_502_with_the_reason(self):
        # no --ca-cert: the system store does not trust the double's CA
        p = self.run_dbr("exec", "--", "sh", "-c", 'curl -sS -w "\\n%{http_code}" -H '
                         '"Authorization: Bearer $DATABRICKS_TOKEN" "$DATABRICKS_HOST' + ME + '"',
                         ca=False)
        self.assertEqual(p.returncode, 0, p.err)
        body, status = p.out.rsplit("\n", 1)
        self.assertEqual(status, "502")
        err = json.loads(body)
        self.assertEqual(err["error_code"], "BAD_GATEWAY")
        self.assertIn("not trusted", err["message"])
        self.assertIn("ca_cert", err["message"])
        self.assertIn("not trusted", p.err)
        self.assertEqual(self.ws.requests(), [])

    def test_port_that_cannot_be_bound(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        try:
            marker = self.path("ran")
            p = self.run_dbr("exec", "--port", str(port), "--", "touch", marker)
        finally:
            s.close()
        self.assertEqual(p.returncode, 1, p.err)
        self.assertIn(f"cannot listen on 127.0.0.1:{port}: the port is in use", p.err)
        self.assertFalse(os.path.exists(marker))
        p = self.run_dbr("exec", "--port", "1", "--", "true")
        if os.geteuid() != 0:
            self.assertEqual(p.returncode, 1, p.err)
            self.assertIn("above 1023", p.err)

    def test_bad_command_lines(self):
        for args, want in ((["exec", "--bogus", "--", "true"], "unknown option '--bogus'"),
                           (["exec", "-x", "true"], "unknown option '-x'"),
                           (["exec"], "no command to run"),
                           (["exec", "--"], "no command to run"),
                           (["exec", "--", ""], "no command to run"),
                           (["exec", "--mint", "10s", "--", "true"], "between 1m and 24h"),
                           (["exec", "--mint", "5m", "--pass-token", "--", "true"],
                            "exclude each other"),
                           (["exec", "--port", "70000", "--", "true"], "not a port"),
                           (["exec", "--mint", "5m", "--port", "8080", "--", "true"],
                            "--port is for the proxy, and --mint starts none: drop it, or "
                            "drop --mint"),
                           (["exec", "--max-connections", "4", "--pass-token", "--", "true"],
                            "--max-connections is for the proxy, and --pass-token starts "
                            "none"),
                           (["exec", "--mint", "5m", "--max-body", "10", "--", "true"],
                            "--max-body is for the proxy"),
                           (["exec", "--max-body", "-1", "--", "true"], "--max-body"),
                           (["exec", "--max-body", "3000000000", "--", "true"],
                            "not a number of bytes from 1 to 2147483647")):
            with self.subTest(args):
                p = self.run_dbr(*args)
                self.assertEqual(p.returncode, 2, p.err)
                self.assertIn(want, p.err)
        self.assertEqual(self.ws.requests(), [])

    def test_command_not_found_or_not_runnable(self):
        p = self.run_dbr("exec", "--", "no-such-command-here")
        self.assertEqual(p.returncode, 127)
        self.assertIn("'no-such-command-here' not found", p.err)
        plain = self.path("not-executable")
        with open(plain, "w") as f:
            f.write("#!/bin/sh\n")
        p = self.run_dbr("exec", "--", plain)
        self.assertEqual(p.returncode, 126)
        self.assertIn("cannot run", p.err)

    def script_in_path(self, name, text):
        """An executable script NAME in a directory of its own, and an
        environment with that directory first in PATH."""
        bindir = self.path(name + "-bin")
        os.mkdir(bindir)
        script = os.path.join(bindir, name)
        with open(script, "w") as f:
            f.write(text)
        os.chmod(script, 0o755)
        env = self.env()
        env["PATH"] = bindir + ":" + env.get("PATH", "/bin:/usr/bin")
        return script, env

    def test_script_with_a_missing_interpreter_cannot_be_run(self):
        # the kernel says ENOENT for the interpreter of the '#!' line: the
        # script is there, so 126 as from a shell (before: 127 and
        # "command not found: check the name and PATH"), by path or in PATH
        script, env = self.script_in_path("old-tool", "#!/no/such/interpreter\necho ran\n")
        for cmd in (script, "old-tool"):
            with self.subTest(cmd=cmd):
                p = self.run_dbr("exec", "--", cmd, env=env)
                self.assertEqual(p.returncode, 126, p.err)
                self.assertIn(f"cannot run '{cmd}': the interpreter it needs was not found",
                              p.err)
                self.assertEqual(p.out, "")
        p = self.run_dbr("exec", "--", "no-such-tool", env=env)
        self.assertEqual(p.returncode, 127, p.err)

    def test_script_without_interpreter_line_runs_with_sh(self):
        # the kernel refuses a script with no '#!' line (ENOEXEC); a shell
        # and execvp run it with /bin/sh, by path or in PATH (before: 126,
        # "cannot run")
        script, env = self.script_in_path(
            "plain-tool", 'printf "%s|" "$@"; printf "%s" "${DATABRICKS_HOST%%:*}"; exit 7\n')
        for cmd in (script, "plain-tool"):
            with self.subTest(cmd=cmd):
                p = self.run_dbr("exec", "--", cmd, "a b", "-c", env=env)
                self.assertEqual((p.returncode, p.out), (7, "a b|-c|http"), p.err)

    def test_child_arguments_are_its_own(self):
        # after the command, -p, -o and --debug belong to it, not to dbroker
        p = self.run_dbr("exec", "printf", "%s|", "-p", "-o", "--debug", "--")
        self.assertEqual((p.returncode, p.out), (0, "-p|-o|--debug|--|"), p.err)


class ProcessTest(ExecBase):
    def test_exit_status_and_signal_death(self):
        p = self.run_dbr("exec", "--", "sh", "-c", "exit 42")
        self.assertEqual(p.returncode, 42)
        p = self.run_dbr("exec", "--", "sh", "-c", "kill -KILL $$")
        self.assertEqual(p.returncode, 128 + signal.SIGKILL)

    def test_exit_status_when_started_with_sigchld_ignored(self):
        # SIGCHLD ignored stays ignored across exec (a supervisor that does
        # not want zombies, a wrapper that set it): the kernel would reap
        # the child by itself and its status be lost (before: every run
        # exited 1, 'exit 0' too, and nothing said why)
        def ignore_sigchld():
            signal.signal(signal.SIGCHLD, signal.SIG_IGN)

        for script, code in (("exit 0", 0), ("exit 42", 42),
                             ("kill -TERM $$", 128 + signal.SIGTERM)):
            with self.subTest(script=script):
                p = self.run_dbr("exec", "--", "sh", "-c", script, preexec_fn=ignore_sigchld)
                self.assertEqual(p.returncode, code, p.err)

    def test_signals_forwarded(self):
        log, ready = self.path("signals"), self.path("ready")
        p = subprocess.Popen(self.cmd("exec", "--", "python3", os.path.join(CLIENTS, "signals.py"),
                                      log, ready), env=self.env(),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.wait_file(ready)
        sent = [signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGWINCH]
        for s in sent:
            p.send_signal(s)
            deadline = time.monotonic() + 10
            while s.name not in self.read(log):
                self.assertLess(time.monotonic(), deadline, f"{s.name} not forwarded")
                time.sleep(0.02)
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 7, err)  # the child's own exit code
        self.assertEqual(self.read(log).split(), [s.name for s in sent] + ["SIGTERM"])

    def test_terminal_signal_not_sent_twice(self):
        # Ctrl-C on a terminal reaches dbroker and the child (one foreground
        # process group): dbroker must not send it again
        log, ready = self.path("signals"), self.path("ready")
        pid, fd = pty.fork()
        if pid == 0:
            os.execve(BIN, self.cmd("exec", "--", "python3",
                                    os.path.join(CLIENTS, "signals.py"), log, ready),
                      self.env())
        try:
            self.wait_file(ready)
            os.write(fd, b"\x03")  # the terminal's INTR character
            deadline = time.monotonic() + 10
            while "SIGINT" not in self.read(log):
                self.assertLess(time.monotonic(), deadline, "no SIGINT")
                time.sleep(0.02)
            time.sleep(0.5)
            os.kill(pid, signal.SIGTERM)  # from another process: forwarded
            while True:
                try:
                    if not os.read(fd, 4096):
                        break
                except OSError:
                    break
            _, st = os.waitpid(pid, 0)
        finally:
            os.close(fd)
        self.assertEqual(os.waitstatus_to_exitcode(st), 7)
        self.assertEqual(self.read(log).split(), ["SIGINT", "SIGTERM"])

    def test_child_starts_as_the_command_would_alone(self):
        # dbroker runs with umask 077, no core files and SIGPIPE/SIGXFSZ
        # ignored; the child gets what dbroker started with: the umask,
        # RLIMIT_CORE (soft and hard), the ignored signals (nohup, trap '')
        # and the signal mask
        import resource
        hard = resource.getrlimit(resource.RLIMIT_CORE)[1]
        soft = 1 << 20 if hard == resource.RLIM_INFINITY else min(1 << 20, hard)

        def setup():
            os.umask(0o022)
            resource.setrlimit(resource.RLIMIT_CORE, (soft, hard))
            for s in (signal.SIGINT, signal.SIGHUP, signal.SIGQUIT):
                signal.signal(s, signal.SIG_IGN)
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})

        # AddressSanitizer sets the soft core limit to 0 before dbroker runs
        env = self.env()
        env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") + ":disable_coredump=0").lstrip(":")

        def state(cmd):
            p = subprocess.run(cmd, env=env, capture_output=True, text=True,
                               preexec_fn=setup, timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr)
            got = []
            for line in p.stdout.splitlines():
                key, _, value = line.partition(":")
                if key == "SigIgn":
                    # glibc's posix_spawn leaves its two internal signals
                    # (32, 33) ignored; a new program's libc sets them anew
                    line = "SigIgn: %x" % (int(value, 16) & ~(3 << 31))
                if key in ("Umask", "SigIgn", "SigBlk") or key.startswith("Max core file size"):
                    got.append(line)
            return got

        probe = ["cat", "/proc/self/status", "/proc/self/limits"]
        alone = state(probe)
        self.assertEqual(len(alone), 4, alone)
        self.assertEqual(state(self.cmd("exec", "--", *probe)), alone)
        self.assertEqual(state(self.cmd("exec", "--no-mask", "--", *probe)), alone)
        # dbroker itself, while the child runs: no core, no way back to one.
        # The child looks once dbroker reads its output (200000 bytes do not
        # fit in the pipe), so after the limit is dropped behind the spawn.
        p = self.run_dbr("exec", "--", "sh", "-c", "head -c 200000 /dev/zero >&2; "
                         "grep '^Max core' /proc/$PPID/limits")
        self.assertRegex(p.out, r"^Max core file size\s+0\s+0\s")

    def test_signal_the_caller_ignored_is_not_passed_on(self):
        # nohup: a SIGHUP to dbroker neither reaches the child nor stops dbroker
        log, ready = self.path("signals"), self.path("ready")
        p = subprocess.Popen(self.cmd("exec", "--", "python3", os.path.join(CLIENTS, "signals.py"),
                                      log, ready), env=self.env(),
                             preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.wait_file(ready)
        p.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        self.assertIsNone(p.poll())
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 7, err)
        self.assertEqual(self.read(log).split(), ["SIGTERM"])

    def test_stdin_passed(self):
        p = self.run_dbr("exec", "--", "sh", "-c", "tr a-z A-Z", input=b"hello\n")
        self.assertEqual(p.out, "HELLO\n")

    def test_child_closes_its_output_early(self):
        t0 = time.monotonic()
        p = self.run_dbr("exec", "--", "sh", "-c", "echo one; exec >&- 2>&-; sleep 0.5; exit 3")
        self.assertEqual((p.returncode, p.out), (3, "one\n"))
        self.assertLess(time.monotonic() - t0, 20)

    def test_reader_closes_early(self):
        # like 'yes | head -1': the child learns through SIGPIPE
        p = subprocess.Popen(self.cmd("exec", "--", "yes"), env=self.env(),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.assertEqual(p.stdout.read(4), b"y\ny\n")
        p.stdout.close()
        p.wait(timeout=30)
        self.assertEqual(p.returncode, 128 + signal.SIGPIPE)
        self.assertNotIn(b"cannot write", p.stderr.read())

    def test_output_to_a_full_disk_is_an_error(self):
        # /dev/full: every write fails with ENOSPC, as on a full disk; the
        # child's output was cut, which must not look like success
        # 'exec yes' dies of the SIGPIPE the closed pipe gives it: that is
        # dbroker's failure, not the child's, so 1 and not 141
        for script, code in (("printf '%100000s' x", 1), ("exec yes", 1),
                             ("printf x; exit 3", 3)):
            with self.subTest(script=script):
                with open("/dev/full", "wb") as full:
                    p = subprocess.run(self.cmd("exec", "--", "sh", "-c", script),
                                       env=self.env(), stdout=full, stderr=subprocess.PIPE,
                                       timeout=60)
                err = p.stderr.decode()
                self.assertEqual(p.returncode, code, err)
                self.assertEqual(err.count("cannot write the command's output to stdout: "
                                           "No space left on device"), 1, err)

    def test_non_blocking_stdout_is_waited_for(self):
        # O_NONBLOCK belongs to the open pipe, so a process sharing
        # dbroker's stdout may have set it; a slow reader then makes a
        # write fail with EAGAIN. dbroker waits, as a blocking write does
        # (before: `cannot write the command's output to stdout: Resource
        # temporarily unavailable`, the rest lost, exit 1)
        import fcntl
        r, w = os.pipe()
        fcntl.fcntl(w, fcntl.F_SETFL, fcntl.fcntl(w, fcntl.F_GETFL) | os.O_NONBLOCK)
        try:
            p = subprocess.Popen(self.cmd("exec", "--", "head", "-c", "2000000", "/dev/zero"),
                                 env=self.env(), stdout=w, stderr=subprocess.PIPE)
        finally:
            os.close(w)
        got = 0
        with open(r, "rb", buffering=0) as reader:
            while True:
                time.sleep(0.005)  # slower than the child writes
                d = reader.read(65536)
                if not d:
                    break
                got += len(d)
        err = p.stderr.read().decode()
        p.wait(timeout=30)
        self.assertEqual((p.returncode, got, err), (0, 2000000, ""))

    def test_background_grandchild_keeps_pipe(self):
        # the child exits while a grandchild holds stdout: dbroker does not wait
        t0 = time.monotonic()
        p = self.run_dbr("exec", "--", "sh", "-c", "(sleep 20 &) ; echo done")
        self.assertEqual((p.returncode, p.out), (0, "done\n"))
        self.assertLess(time.monotonic() - t0, 10)


class MaskTest(ExecBase):
    def test_output_masked_binary_safe_and_prompt_flushed(self):
        tokfile = self.path("tok")
        with open(tokfile, "w") as f:
            f.write(self.token)
        blob = bytes(range(256)) * 512
        with open(self.path("blob"), "wb") as f:
            f.write(blob)
        p = self.run_dbr("exec", "--", "sh", "-c", 'echo "cap=$DATABRICKS_TOKEN"; echo '
                         '"real=$(cat ' + tokfile + ')" >&2; cat ' + self.path("blob"))
        self.assertEqual(p.returncode, 0)
        self.assertTrue(p.stdout.startswith(b"cap=***\n"), p.stdout[:40])
        self.assertEqual(p.stdout[len(b"cap=***\n"):], blob)
        self.assertIn("real=***", p.err)

    def test_secret_written_in_pieces_is_masked(self):
        """A secret the child writes in two pieces, with a pause longer than
        the flush timeout between them, is masked: its first 8 bytes or
        more at the pause, the rest when it goes on; a piece shorter than 8
        bytes is shown, and only that."""
        tokfile = self.path("tok")
        with open(tokfile, "w") as f:
            f.write(self.token)
        cut18, cut5 = "?" * 18, "?" * 5
        script = ('c=$DATABRICKS_TOKEN; t=$(cat ' + tokfile + '); '
                  'printf "cap=%.18s" "$c"; sleep 0.3; printf "%s\\n" "${c#' + cut18 + '}"; '
                  'printf "real=%.18s" "$t" >&2; sleep 0.3; printf "%s\\n" "${t#' + cut18 +
                  '}" >&2; '
                  'printf "short=%.5s" "$c"; sleep 0.3; printf "%s end\\n" "${c#' + cut5 + '}"')
        p = self.run_dbr("exec", "--", "sh", "-c", script)
        self.assertEqual(p.returncode, 0, p.err)
        self.assertEqual(p.out, "cap=***\nshort=dbrca*** end\n")
        self.assertIn("real=***\n", p.err)
        self.assertNotIn(self.token[4:12], p.err)

    def test_partial_line_shown_without_waiting(self):
        p = subprocess.Popen(self.cmd("exec", "--", "sh", "-c",
                                      "printf 'prompt> '; sleep 3; echo"),
                             env=self.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        t0 = time.monotonic()
        self.assertEqual(p.stdout.read(8), b"prompt> ")
        self.assertLess(time.monotonic() - t0, 2.5)
        p.communicate(timeout=30)

    def test_partial_line_shown_while_the_other_stream_streams(self):
        # each pipe has its own quiet time: a prompt on stdout is shown
        # while stderr gets a line every 10 ms for 3 s
        child = ("import sys, time\n"
                 "sys.stdout.write('PROMPT> '); sys.stdout.flush()\n"
                 "end = time.monotonic() + 3\n"
                 "while time.monotonic() < end:\n"
                 "    sys.stderr.write('busy\\n'); sys.stderr.flush(); time.sleep(0.01)\n")
        with open(self.path("err"), "wb") as err:  # captured, unlike /dev/null
            p = subprocess.Popen(self.cmd("exec", "--", "python3", "-c", child),
                                 env=self.env(), stdout=subprocess.PIPE, stderr=err)
        t0 = time.monotonic()
        self.assertEqual(p.stdout.read(8), b"PROMPT> ")
        self.assertLess(time.monotonic() - t0, 2)
        p.communicate(timeout=30)
        self.assertEqual(p.returncode, 0)
        self.assertIn("busy\n", self.read(self.path("err")))

    def test_discarded_stream_handed_over_the_other_masked(self):
        """A stream dbroker sends to /dev/null reaches the child as it is
        (nothing can read it); the other stream, and a regular file, still
        pass through the masker."""
        say = 'echo "1=$(readlink /proc/$$/fd/1) 2=$(readlink /proc/$$/fd/2) ' \
              'cap=$DATABRICKS_TOKEN" >&'
        for shown, to_null in ((2, 1), (1, 2)):
            with self.subTest(shown=shown):
                streams = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
                streams["stdout" if to_null == 1 else "stderr"] = subprocess.DEVNULL
                p = subprocess.Popen(self.cmd("exec", "--", "sh", "-c", say + str(shown)),
                                     env=self.env(), **streams)
                ours = p.stderr if shown == 2 else p.stdout
                ino = os.fstat(ours.fileno()).st_ino
                text = ours.read().decode()
                p.wait(timeout=30)
                self.assertEqual(p.returncode, 0)
                m = re.fullmatch(r"1=(\S+) 2=(\S+) cap=(\S+)\n", text)
                self.assertIsNotNone(m, text)
                self.assertEqual(m.group(to_null), "/dev/null")
                self.assertRegex(m.group(shown), r"^pipe:\[\d+\]$")
                self.assertNotEqual(m.group(shown), "pipe:[%d]" % ino)
                self.assertEqual(m.group(3), "***")
        out = self.path("out")
        with open(out, "wb") as f:
            p = subprocess.run(self.cmd("exec", "--", "sh", "-c", say + "1"), env=self.env(),
                               stdout=f, stderr=subprocess.DEVNULL, timeout=30)
        self.assertEqual(p.returncode, 0)
        text = self.read(out)
        self.assertRegex(text, r"^1=pipe:\[\d+\] 2=/dev/null cap=\*\*\*\n$")

    def test_stdout_and_stderr_into_one_file_keep_their_order(self):
        # 2>&1 (or a terminal): the child's writes to its stdout and its
        # stderr arrive in the order it made them, still masked (before:
        # two pipes read in turn, an error landed pages away from the
        # output it was about)
        child = ("import os\n"
                 "for i in range(2000):\n"
                 "    os.write(1, b'out%d\\n' % i)\n"
                 "    os.write(2, b'err%d %s\\n' % (i, os.environb[b'DATABRICKS_TOKEN']))\n")
        p = subprocess.run(self.cmd("exec", "--", "python3", "-c", child), env=self.env(),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        self.assertEqual(p.returncode, 0)
        self.assertEqual(p.stdout.decode().splitlines(),
                         [line for i in range(2000) for line in (f"out{i}", f"err{i} ***")])

    def test_no_mask_hands_over_the_terminal(self):
        p = self.run_dbr("exec", "--no-mask", "--", "sh", "-c",
                         'echo "$DATABRICKS_TOKEN"; test -t 0 || echo notty >&2')
        self.assertRegex(p.out, r"^dbrcap_[A-Za-z0-9_-]{43}\n$")


class MintTest(ExecBase):
    def mint_run(self, script, *extra, env=None, **kw):
        tokfile = self.path("minted")
        cmd = self.cmd("exec", "--mint", "10m", *extra, "--", "sh", "-c",
                       'printf %s "$DATABRICKS_TOKEN" > ' + tokfile + '; ' + script)
        return cmd, tokfile

    def assert_revoked(self, tokfile):
        with open(tokfile) as f:
            minted = f.read()
        self.assertRegex(minted, r"^dapi[0-9a-f]{32}$")
        self.assertEqual(self.live_tokens(), [])
        r = self.ws.call("GET", ME, token=minted)
        self.assertEqual(r.status, 403)
        return minted

    def test_token_works_then_is_gone(self):
        cmd, tokfile = self.mint_run('curl -sS --cacert ' + self.ws.ca_file + ' -H '
                                     '"Authorization: Bearer $DATABRICKS_TOKEN" '
                                     '"$DATABRICKS_HOST' + ME + '"; exit 5')
        p = subprocess.run(cmd, env=self.env(), capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 5, p.stderr)
        self.assertEqual(json.loads(p.stdout)["userName"], "me@example.com")
        minted = self.assert_revoked(tokfile)
        self.assert_no_secret(p.stdout.decode(), p.stderr.decode(), secret=minted)
        create = self.ws.requests(path="token/create")[0]
        self.assertEqual(create["json"]["lifetime_seconds"], 600)
        self.assertIn("dbroker exec: sh on " + self.ws.url, create["json"]["comment"])
        self.assertEqual(len(self.ws.requests(path="token/delete")), 1)

    def test_revoked_when_the_child_is_killed(self):
        cmd, tokfile = self.mint_run("exec sleep 30")
        p = subprocess.Popen(cmd, env=self.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.wait_file(tokfile)
        time.sleep(0.2)
        subprocess.run(["pkill", "-KILL", "-P", str(p.pid)], check=False)
        p.communicate(timeout=30)
        self.assertEqual(p.returncode, 128 + signal.SIGKILL)
        self.assert_revoked(tokfile)

    def test_revoked_when_dbroker_gets_sigterm(self):
        cmd, tokfile = self.mint_run("exec sleep 30")
        p = subprocess.Popen(cmd, env=self.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.wait_file(tokfile)
        p.send_signal(signal.SIGTERM)
        p.communicate(timeout=30)
        self.assertEqual(p.returncode, 128 + signal.SIGTERM)
        self.assert_revoked(tokfile)

    def test_writer_left_behind_does_not_delay_revocation(self):
        # the command exits, leaving a process that writes to its stdout
        # without end, into a reader slower than it: dbroker copies what
        # was in the pipe when the command exited, then revokes and exits
        # (before: it copied for as long as the writer lived, the token
        # alive all that time)
        pidfile = self.path("writer")
        cmd, tokfile = self.mint_run("yes & echo $! > " + pidfile + "; sleep 0.3")
        p = subprocess.Popen(cmd, env=self.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.addCleanup(lambda: subprocess.run(["pkill", "-F", pidfile], check=False))
        deadline = time.monotonic() + 15
        while p.poll() is None and time.monotonic() < deadline:
            p.stdout.read(65536)
            time.sleep(0.01)
        stopped = p.poll() is not None
        subprocess.run(["pkill", "-F", pidfile], check=False)
        out, err = p.communicate(timeout=30)
        self.assertTrue(stopped, "dbroker still copying 15 s after the command exited")
        self.assertEqual(p.returncode, 0, err)
        self.assert_revoked(tokfile)

    def test_signal_during_revocation_is_remembered(self):
        # the child has exited and been reaped: a SIGTERM while its token is
        # being revoked is sent to no process; the revocation ends, and
        # dbroker's status says it was stopped
        self.ws.add_fault("slow", path="token/delete", seconds=1)
        cmd, tokfile = self.mint_run("exit 0")
        p = subprocess.Popen(cmd, env=self.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.wait_request("token/delete")
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 128 + signal.SIGTERM, err)
        self.assert_revoked(tokfile)

    def test_signal_late_in_a_slow_revocation_still_gets_its_grace(self):
        # a token/delete that takes 5 s, and a SIGTERM 3.5 s into it: the
        # signal's 3 s run from the signal (before: from the start of the
        # revocation, already over, so the answer was cut off at once and
        # the token named as NOT revoked)
        self.ws.add_fault("slow", path="token/delete", seconds=5)
        cmd, tokfile = self.mint_run("exit 0")
        p = subprocess.Popen(cmd, env=self.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        self.wait_request("token/delete")
        time.sleep(3.5)
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 128 + signal.SIGTERM, err)
        self.assertNotIn("NOT revoked", err)
        self.assert_revoked(tokfile)

    def test_terminal_ctrl_c_the_command_survives_leaves_revocation_whole(self):
        # Ctrl-C on the terminal reaches the command itself, which ignores
        # it and goes on (an interactive shell would): when it ends, its
        # token is revoked as after any run, retries included (before: the
        # Ctrl-C counted as dbroker's own stop, and one 503 to token/delete
        # left the token alive)
        self.ws.add_fault("503", path="token/delete", count=1, retry_after=1)
        go = self.path("go")
        cmd, tokfile = self.mint_run("trap '' INT; echo READY; while [ ! -e " + go +
                                     " ]; do sleep 0.05; done")
        pid, fd = pty.fork()
        if pid == 0:
            os.execve(BIN, cmd, self.env())
        try:
            seen = read_pty(fd, b"READY", timeout=20)
            self.assertIn(b"READY", seen, seen.decode(errors="replace"))
            os.write(fd, b"\x03")  # the terminal's INTR character
            time.sleep(0.5)
            open(go, "w").close()
            out = read_pty(fd, b"\0", timeout=60)  # all of it, until the end
            _, st = os.waitpid(pid, 0)
        finally:
            os.close(fd)
        text = out.decode(errors="replace")
        self.assertEqual(os.waitstatus_to_exitcode(st), 0, text)
        self.assertNotIn("NOT revoked", text)
        self.assertEqual([r["status"] for r in self.ws.requests(path="token/delete")],
                         [503, 200])
        self.assert_revoked(tokfile)

    def test_signal_cuts_a_failing_revocation_short(self):
        # a workspace answering token/delete with 503s is retried for the
        # whole retry window (5 min): a supervisor's SIGTERM, whether it
        # came while the command ran (passed on) or while revoking, gives
        # the revocation a few seconds more, then the token id is named,
        # before the SIGKILL that follows would lose it
        for when in ("while revoking", "while the command runs"):
            with self.subTest(when=when):
                self.ws.clear_requests()
                self.ws.add_fault("503", path="token/delete", count=-1, retry_after=1)
                cmd, tokfile = self.mint_run("exit 0" if when == "while revoking" else
                                             "exec sleep 30")
                if os.path.exists(tokfile):
                    os.unlink(tokfile)
                p = subprocess.Popen(cmd, env=self.env(), stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
                if when == "while revoking":
                    self.wait_request("token/delete")
                else:
                    self.wait_file(tokfile)
                p.send_signal(signal.SIGTERM)
                try:
                    out, err = p.communicate(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.communicate()
                    self.ws.clear_faults()
                    self.fail("still revoking 10 s after SIGTERM")
                self.ws.clear_faults()
                self.assertEqual(p.returncode, 128 + signal.SIGTERM, err)
                (info,) = self.live_tokens()
                self.assertIn(f"the minted token '{info['token_id']}' was NOT revoked: dbroker "
                              "was stopped by a signal before the workspace confirmed the "
                              "revocation; revoke it with 'dbroker tokens revoke "
                              f"{info['token_id']}'", err)
                self.assert_no_secret(out, err)
                self.run_dbr("tokens", "revoke", info["token_id"])

    def test_token_already_gone_is_revoked(self):
        # token/delete answered 404: its retry after an answer lost on the
        # way back (the first one revoked it), or the command (or anyone)
        # revoked the token first. It is gone: not a failure, and no
        # advice to revoke it again
        go = self.path("go")
        for when in ("answer lost", "revoked meanwhile"):
            with self.subTest(when=when):
                self.ws.clear_requests()
                if when == "answer lost":
                    self.ws.add_fault("reset_after_create", path="token/delete")
                    script = "exit 0"
                else:
                    script = "while [ ! -e " + go + " ]; do sleep 0.05; done"
                cmd, tokfile = self.mint_run(script)
                if os.path.exists(tokfile):
                    os.unlink(tokfile)
                p = subprocess.Popen(cmd, env=self.env(), stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
                if when == "revoked meanwhile":
                    self.wait_file(tokfile)
                    (info,) = self.live_tokens()
                    r = self.ws.call("POST", "/api/2.0/token/delete", token=self.token,
                                     body=json.dumps({"token_id": info["token_id"]}))
                    self.assertEqual(r.status, 200)
                    open(go, "w").close()
                out, err = p.communicate(timeout=60)
                self.assertEqual(p.returncode, 0, err)
                self.assertNotIn("NOT revoked", err)
                self.assertEqual(self.ws.requests(path="token/delete")[-1]["status"], 404)
                self.assert_revoked(tokfile)

    def test_failed_revocation_names_the_token(self):
        self.ws.add_fault("500", path="token/delete", count=-1)
        cmd, tokfile = self.mint_run("true")
        p = subprocess.run(cmd, env=self.env(), capture_output=True, timeout=60, text=True)
        self.assertNotEqual(p.returncode, 0)
        self.ws.clear_faults()
        (info,) = self.live_tokens()
        self.assertIn("was NOT revoked", p.stderr)
        self.assertIn(f"dbroker tokens revoke {info['token_id']}", p.stderr)
        self.assert_no_secret(p.stdout, p.stderr)

    def test_revocation_refused_is_not_blamed_on_the_credential(self):
        self.ws.add_fault("error", path="token/delete", status=403,
                          error_code="PERMISSION_DENIED", message="not allowed", count=-1)
        cmd, tokfile = self.mint_run("true")
        p = subprocess.run(cmd, env=self.env(), capture_output=True, timeout=60, text=True)
        self.ws.clear_faults()
        self.assertEqual(p.returncode, 5, p.stderr)
        (info,) = self.live_tokens()
        self.assertIn("403 PERMISSION_DENIED: not allowed", p.stderr)
        self.assertIn("the credential that minted it was refused its revocation", p.stderr)
        self.assertNotIn("put a valid one in DATABRICKS_TOKEN", p.stderr)
        self.assertIn(f"revoke it with 'dbroker tokens revoke {info['token_id']}'", p.stderr)
        self.run_dbr("tokens", "revoke", info["token_id"])

    def test_help_says_when_the_token_is_revoked(self):
        p = self.run_dbr("exec", "--help")
        self.assertNotIn("when dbroker gets a signal", p.out)
        self.assertIn("revoked when\n                     COMMAND exits (a signal to dbroker "
                      "is passed on to it\n                     first)", p.out)

    def test_token_made_but_not_held_is_revoked(self):
        # a workspace that answers token/create with a value dbroker cannot
        # hold (over 8 KiB): the token it made is revoked at once, not left
        # alive and unknown, and the child is not started
        marker = self.path("ran")
        for delete_fails in (False, True):
            with self.subTest(delete_fails=delete_fails):
                self.ws.add_fault("pad_field", path="token/create", field="token_value",
                                  bytes=9000)
                if delete_fails:
                    self.ws.add_fault("500", path="token/delete", count=-1)
                p = self.run_dbr("exec", "--mint", "5m", "--", "touch", marker)
                self.ws.clear_faults()
                self.assertNotEqual(p.returncode, 0, p.err)
                self.assertFalse(os.path.exists(marker))
                self.assertIn("cannot hold the new token", p.err)
                self.assertNotRegex(p.out + p.err, r"dapi[0-9a-f]{32}|xxxxxxxx")
                (delete,) = self.ws.requests(path="token/delete")[-1:]
                token_id = delete["json"]["token_id"]
                if delete_fails:
                    (info,) = self.live_tokens()
                    self.assertEqual(info["token_id"], token_id)
                    self.assertIn("could not be revoked", p.err)
                    self.assertIn(f"revoke it with 'dbroker tokens revoke {token_id}'", p.err)
                    self.run_dbr("tokens", "revoke", token_id)
                else:
                    self.assertIn(f"the token the workspace made for it (id {token_id}) "
                                  "was revoked", p.err)
                self.assertEqual(self.live_tokens(), [])

    def test_lost_answer_token_found_and_revoked(self):
        # token/create reaches the workspace but its answer is lost: the
        # token made anyway is found by the run id in its comment and
        # revoked; when nothing was made, that is said too
        marker = self.path("ran")
        for fault, delete_fails in (("reset_after_create", False),
                                    ("reset_after_create", True), ("reset", False)):
            with self.subTest(fault=fault, delete_fails=delete_fails):
                self.ws.clear_requests()
                self.ws.add_fault(fault, path="token/create")
                if delete_fails:
                    self.ws.add_fault("500", path="token/delete", count=-1)
                p = self.run_dbr("exec", "--mint", "5m", "--", "touch", marker)
                self.ws.clear_faults()
                self.assertEqual(p.returncode, 8, p.err)
                self.assertFalse(os.path.exists(marker))
                self.assertIn("cannot mint a token for the command", p.err)
                (create,) = self.ws.requests(path="token/create")
                self.assertRegex(create["json"]["comment"],
                                 r"^dbroker exec: touch on \S+ \(run [0-9a-f]{8}\)$")
                if fault == "reset":
                    self.assertIn("no token was made (none has this run's comment)", p.err)
                    self.assertEqual(self.ws.requests(path="token/delete"), [])
                elif delete_fails:
                    (info,) = self.live_tokens()
                    self.assertEqual(info["comment"], create["json"]["comment"])
                    self.assertIn("made it anyway and it could NOT be revoked", p.err)
                    self.assertIn(f"'dbroker tokens revoke {info['token_id']}'", p.err)
                    self.run_dbr("tokens", "revoke", info["token_id"])
                else:
                    self.assertIn("the workspace made it anyway: it was found by this run's "
                                  "comment and revoked", p.err)
                self.assertEqual(self.live_tokens(), [])

    def test_answer_without_a_usable_id_token_found_and_revoked(self):
        # token/create made the token but named no id token/delete takes:
        # it is found by the run id in its comment and revoked, not left
        # alive unmentioned
        marker = self.path("ran")
        for info in (None, {"token_id": "odd/id"}, {"token_id": "a" * 200}):
            with self.subTest(info=info):
                self.ws.clear_requests()
                fault = {"field": "token_info"}
                if info is not None:
                    fault["value"] = info
                self.ws.add_fault("set_field", path="token/create", **fault)
                p = self.run_dbr("exec", "--mint", "5m", "--", "touch", marker)
                self.assertEqual(p.returncode, 10, p.err)
                self.assertFalse(os.path.exists(marker))
                self.assertIn("cannot mint a token for the command: the workspace answered "
                              "token/create without a usable token id", p.err)
                self.assertIn("the workspace made it anyway: it was found by this run's "
                              "comment and revoked", p.err)
                self.assertEqual(len(self.ws.requests(path="token/delete")), 1)
                self.assertEqual(self.live_tokens(), [])

    def test_comment_is_ascii_whatever_the_command_name(self):
        # a name that is not UTF-8, and one whose 80-byte cut splits a
        # character: the comment must still be valid JSON text
        bindir = os.path.join(os.fsencode(self.home), b"bin")
        os.mkdir(bindir)
        for name in (b"t\xe9st", b"a" * 79 + "\u00e9".encode()):
            with self.subTest(name=name):
                self.ws.clear_requests()
                path = os.path.join(bindir, name)
                with open(path, "w") as f:
                    f.write("#!/bin/sh\nexit 0\n")
                os.chmod(path, 0o755)
                env = self.env(PATH=self.home + "/bin:" + os.environ["PATH"])
                p = subprocess.run(self.cmd("exec", "--mint", "5m", "--") + [name], env=env,
                                   capture_output=True, timeout=60)
                self.assertEqual(p.returncode, 0, p.stderr)
                (create,) = self.ws.requests(path="token/create")
                self.assertRegex(create["json"]["comment"],
                                 r"^dbroker exec: [ -~]+ on \S+ \(run [0-9a-f]{8}\)$")
                self.assertEqual(self.live_tokens(), [])

    def test_mint_refused_child_not_started(self):
        self.ws.add_fault("error", path="token/create", status=403,
                          error_code="PERMISSION_DENIED", message="Token creation disabled")
        marker = self.path("ran")
        p = self.run_dbr("exec", "--mint", "5m", "--", "touch", marker)
        self.assertEqual(p.returncode, 5, p.err)
        self.assertIn("cannot mint a token", p.err)
        self.assertFalse(os.path.exists(marker))

    def test_ctrl_c_while_minting_stops_at_once(self):
        # the workspace takes 3 s to answer token/create: Ctrl-C (or a
        # supervisor's SIGTERM) before the command has started stops the
        # request, the command is not started, and the lost answer's token
        # is looked for (before: dbroker went on waiting for the answer,
        # up to the request timeout, deaf to every signal but SIGKILL)
        for sig in (signal.SIGINT, signal.SIGTERM):
            with self.subTest(sig=sig.name):
                self.ws.clear_requests()
                self.ws.add_fault("slow", path="token/create", seconds=3)
                marker = self.path("ran")
                p = subprocess.Popen(self.cmd("exec", "--mint", "5m", "--", "touch", marker),
                                     env=self.env(), stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
                self.wait_request("token/create")
                t0 = time.monotonic()
                p.send_signal(sig)
                try:
                    out, err = p.communicate(timeout=2)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.communicate()
                    self.fail(f"still minting 2 s after {sig.name}")
                self.assertLess(time.monotonic() - t0, 2)
                self.assertEqual(p.returncode, 128 + sig, err)
                self.assertIn("cannot mint a token for the command: request to '127.0.0.1' "
                              "interrupted", err)
                self.assertFalse(os.path.exists(marker))
                self.assert_no_secret(out, err)
                # the double makes the token once its 3 s are over, after
                # dbroker looked for it: a race no client can close
                time.sleep(3.2)
                for info in self.live_tokens():
                    self.run_dbr("tokens", "revoke", info["token_id"])


class TokensCommandTest(ExecBase):
    def test_create_print_list_revoke(self):
        p = self.run_dbr("tokens", "create", "--lifetime", "2d", "--comment", "ci job", "--print",
                         check_secret=False)
        self.assertEqual(p.returncode, 0, p.err)
        value = p.out.strip()
        self.assertRegex(value, r"^dapi[0-9a-f]{32}$")
        self.assertEqual(self.ws.call("GET", ME, token=value).status, 200)
        self.assertEqual(self.ws.requests(path="token/create")[0]["json"],
                         {"lifetime_seconds": 172800, "comment": "ci job"})
        p = self.run_dbr("-o", "json", "tokens", "list")
        (info,) = json.loads(p.out)["token_infos"]
        self.assertEqual(info["comment"], "ci job")
        self.assertNotIn(value, p.out)
        p = self.run_dbr("tokens", "list")
        self.assertIn(info["token_id"], p.out)
        p = self.run_dbr("tokens", "revoke", info["token_id"])
        self.assertEqual(p.returncode, 0, p.err)
        self.assertEqual(self.live_tokens(), [])
        p = self.run_dbr("tokens", "revoke", info["token_id"])
        self.assertEqual(p.returncode, 6)
        self.assertIn("RESOURCE_DOES_NOT_EXIST", p.err)

    def test_list_with_times_out_of_range(self):
        # times no clock holds (1e300 ms, or not finite for a 64-bit
        # integer) are shown as unknown, not as whatever a conversion that
        # overflows makes of them
        self.ws.add_fault("raw", path="token/list", content_type="application/json",
                          body=json.dumps({"token_infos": [
                              {"token_id": "abc123", "comment": "odd",
                               "creation_time": 1e300, "expiry_time": -1e300}]}))
        p = self.run_dbr("-o", "json", "tokens", "list")
        self.assertEqual(p.returncode, 0, p.err)
        (info,) = json.loads(p.out)["token_infos"]
        self.assertEqual((info["token_id"], info["creation_time"], info["expiry_time"]),
                         ("abc123", 0, -1))

    def test_create_with_a_lost_answer_names_the_token(self):
        # tokens create cannot tell its token from another run's with the
        # same comment: it names what it finds, and revokes nothing
        self.ws.add_fault("reset_after_create", path="token/create")
        p = self.run_dbr("tokens", "create", "--lifetime", "1d", "--comment", "ci job",
                         "--print")
        self.ws.clear_faults()
        self.assertEqual(p.returncode, 8, p.err)
        (info,) = self.live_tokens()
        self.assertIn("the workspace may have made it anyway: a token with this comment and "
                      f"lifetime was made since the call ({info['token_id']}): unless "
                      "another run made it, revoke it with 'dbroker tokens revoke ID'", p.err)
        self.assertEqual(p.out, "")
        self.run_dbr("tokens", "revoke", info["token_id"])
        # nothing made: said so
        self.ws.add_fault("reset", path="token/create")
        p = self.run_dbr("tokens", "create", "--lifetime", "1d", "--comment", "ci job",
                         "--print")
        self.ws.clear_faults()
        self.assertEqual(p.returncode, 8, p.err)
        self.assertIn("no token was made (none with this comment and lifetime since the call)",
                      p.err)
        self.assertEqual(self.live_tokens(), [])

    def test_create_answered_without_a_usable_id_names_the_token(self):
        self.ws.add_fault("set_field", path="token/create", field="token_info")
        p = self.run_dbr("tokens", "create", "--lifetime", "1d", "--comment", "ci job",
                         "--print")
        self.assertEqual(p.returncode, 10, p.err)
        self.assertEqual(p.out, "")
        (info,) = self.live_tokens()
        self.assertIn("the workspace answered token/create without a usable token id", p.err)
        self.assertIn("the workspace may have made it anyway: a token with this comment and "
                      f"lifetime was made since the call ({info['token_id']}): unless "
                      "another run made it, revoke it with 'dbroker tokens revoke ID'", p.err)

    def test_bad_input(self):
        for args, want in ((["tokens"], "usage"),
                           (["tokens", "create", "--comment", "x", "--lifetime", "5s"],
                            "--lifetime '5s' is shorter than 1m: give e.g. 90d"),
                           (["tokens", "create", "--comment", "x", "--lifetime",
                             "100000000000000d"], "--lifetime '100000000000000d' is not a "
                            "duration (or too long to count): give e.g. 90d, 12h or 30m"),
                           (["tokens", "create", "--lifetime", "1d"], "--comment"),
                           (["tokens", "create", "--lifetime", "1d", "--comment", ""],
                            "--comment"),
                           (["tokens", "create", "--comment", "x", "--store", "file"],
                            "only 'keyring'"),
                           (["tokens", "revoke"], "give the id"),
                           (["tokens", "revoke", "a/b"], "characters"),
                           (["tokens", "frobnicate"], "unknown tokens command")):
            with self.subTest(args):
                p = self.run_dbr(*args)
                self.assertIn(p.returncode, (2, 4), p.err)
                self.assertIn(want, p.err)
        self.assertEqual(self.ws.requests(path="token/create"), [])

    def test_print_to_nowhere_refused_before_minting(self):
        # a token written to /dev/null (or a closed stdout) would live 90 days
        # with nobody holding it
        for redirect in (">/dev/null", ">&-"):
            with self.subTest(redirect=redirect):
                cmd = " ".join("'%s'" % a for a in self.cmd("tokens", "create", "--comment",
                                                             "x", "--print"))
                p = subprocess.run(["sh", "-c", "exec " + cmd + " " + redirect],
                                   env=self.env(), capture_output=True, text=True, timeout=60)
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertIn("--print would write the token where nobody keeps it", p.stderr)
                self.assertIn("pipe stdout into the tool that keeps it", p.stderr)
        self.assertEqual(self.ws.requests(path="token/create"), [])
        self.assertEqual(self.live_tokens(), [])

    @contextlib.contextmanager
    def keyring_env(self):
        """A run's environment with a private desktop keyring and its plugin."""
        import keyring_session  # noqa: E402
        kr = tempfile.mkdtemp(dir=self.tmp)
        kr_env = {"PATH": "/usr/bin:/bin", "HOME": kr, "XDG_RUNTIME_DIR": kr,
                  "XDG_DATA_HOME": kr, "XDG_CONFIG_HOME": kr, "XDG_CACHE_HOME": kr}
        with keyring_session.KeyringSession(kr_env, kr) as ks:
            yield self.env(DBUS_SESSION_BUS_ADDRESS=ks.address, DBROKER_PLUGIN_DIR=PLUGIN_DIR)

    def test_store_in_keyring_never_shown(self):
        with self.keyring_env() as env:
            p = self.run_dbr("tokens", "create", "--lifetime", "1d", "--comment", "stored",
                             "--store", "keyring", env=env)
            self.assertEqual(p.returncode, 0, p.err)
            self.assertIn("stored a new token", p.out)
            # the keyring now answers with the new token, which the workspace accepts
            env.pop("DATABRICKS_TOKEN")
            p2 = subprocess.run([BIN, "--chain", "keyring", "--ca-cert", self.ws.ca_file,
                                 "api", "GET", ME], env=env, capture_output=True, text=True,
                                timeout=60)
            self.assertEqual(p2.returncode, 0, p2.stderr)
            self.assertEqual(json.loads(p2.stdout)["userName"], "me@example.com")
        minted = self.bearers()[-1][len("Bearer "):]
        self.assertNotEqual(minted, self.token)
        self.assert_no_secret(p.out, p.err, p2.stdout, p2.stderr, secret=minted)
        (info,) = self.live_tokens()
        self.assertEqual(info["comment"], "stored")

    def test_json_results_of_create_and_revoke(self):
        # with -o json both printed their sentence: a script reading JSON
        # got "stored a new token (...)" or "revoked token '...'"
        with self.keyring_env() as env:
            p = self.run_dbr("-o", "json", "tokens", "create", "--lifetime", "1d",
                             "--comment", "stored", env=env)
            self.assertEqual(p.returncode, 0, p.err)
        (info,) = self.live_tokens()
        out = json.loads(p.out)
        self.assertEqual(out["token_id"], info["token_id"])
        self.assertEqual((out["store"], out["profile"]), ("keyring", "DEFAULT"))
        self.assertRegex(out["expires"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        p = self.run_dbr("-o", "json", "tokens", "revoke", info["token_id"])
        self.assertEqual(p.returncode, 0, p.err)
        self.assertEqual(json.loads(p.out), {"token_id": info["token_id"], "revoked": True})
        self.assertEqual(self.live_tokens(), [])

    def test_store_without_keyring_revokes_again(self):
        # nothing may keep the new token, so it goes; the exit code is the
        # keyring's: 4 without its plugin, 3 with no Secret Service
        for plugins, code in ((None, 4), (PLUGIN_DIR, 3)):
            with self.subTest(plugins=plugins):
                env = self.env(DBUS_SESSION_BUS_ADDRESS="unix:path=/nonexistent")
                if plugins:
                    env["DBROKER_PLUGIN_DIR"] = plugins
                p = self.run_dbr("tokens", "create", "--comment", "x", "--store", "keyring",
                                 env=env)
                self.assertEqual(p.returncode, code, p.err)
                self.assertIn("was revoked again", p.err)
                self.assertEqual(self.live_tokens(), [])

    def test_revoked_again_when_the_delete_answer_is_lost(self):
        # nothing may keep the new token, and the answer to its token/delete
        # is lost: the retry answers 404 because the first one revoked it,
        # which token/list confirms (before: "could NOT be revoked")
        env = self.env(DBUS_SESSION_BUS_ADDRESS="unix:path=/nonexistent")
        self.ws.add_fault("reset_after_create", path="token/delete")
        p = self.run_dbr("tokens", "create", "--comment", "x", "--store", "keyring", env=env)
        self.assertEqual(p.returncode, 4, p.err)
        self.assertIn("was revoked again", p.err)
        self.assertNotIn("could NOT be revoked", p.err)
        self.assertEqual(self.ws.requests(path="token/delete")[-1]["status"], 404)
        self.assertEqual(self.live_tokens(), [])

    def test_results_that_cannot_be_written(self):
        p = self.run_dbr("tokens", "create", "--comment", "x", "--print", check_secret=False)
        self.assertEqual(p.returncode, 0, p.err)
        (info,) = self.live_tokens()
        with open("/dev/full", "wb") as full:
            p = subprocess.run(self.cmd("tokens", "list"), env=self.env(), stdout=full,
                               stderr=subprocess.PIPE, text=True, timeout=60)
        self.assertEqual(p.returncode, 1)
        self.assertIn("cannot write the token list to stdout (No space left on device)",
                      p.stderr)
        with open("/dev/full", "wb") as full:
            p = subprocess.run(self.cmd("tokens", "revoke", info["token_id"]), env=self.env(),
                               stdout=full, stderr=subprocess.PIPE, text=True, timeout=60)
        self.assertEqual(p.returncode, 1)
        self.assertIn(f"the token '{info['token_id']}' was revoked, but the confirmation "
                      "could not be written to stdout (No space left on device)", p.stderr)
        self.assertNotIn("run the command again", p.stderr)
        self.assertEqual(self.live_tokens(), [])

    def test_list_keeps_each_token_on_one_line(self):
        # a comment another tool set, with a line break and escapes: one
        # row per token, no forged row, no escape reaching the terminal
        fake = "0" * 64 + "  2030-01-01T00:00:00Z  2030-01-01T00:00:00Z  mine"
        r = self.ws.call("POST", "/api/2.0/token/create", token=self.token,
                         body=json.dumps({"lifetime_seconds": 600,
                                          "comment": "ci\n" + fake + "\r\x1b]0;t\x07"}))
        self.assertEqual(r.status, 200)
        p = self.run_dbr("tokens", "list")
        self.assertEqual(p.returncode, 0, p.err)
        head, *rows = p.out.splitlines()
        self.assertEqual(len(rows), 1, p.out)
        self.assertTrue(rows[0].startswith(r.json["token_info"]["token_id"]), p.out)
        self.assertNotIn("\x1b", p.out)
        self.assertNotIn("\r", p.out)

    def test_list_column_fits_the_ids(self):
        for comment in ("one", "two"):
            self.run_dbr("tokens", "create", "--comment", comment, "--print",
                         check_secret=False)
        p = self.run_dbr("tokens", "list")
        head, *rows = p.out.splitlines()
        self.assertEqual(len(rows), 2, p.out)
        for row in rows:
            token_id = row.split()[0]
            self.assertGreater(len(token_id), 40)
            self.assertEqual(row.index("  ", len(token_id)), head.index("CREATED") - 2, p.out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
