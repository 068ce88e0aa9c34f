"""End-to-end tests of `dbroker clusters ...` and `dbroker api` against the
local HTTPS workspace double (tests/doubles/workspace.py): the happy paths,
every fault, exactly-once creation, waits, TLS failures, and no token in any
output. Run by ctest with DBROKER_BIN and DBR_SOURCE_DIR set."""
import json
import os
import re
import subprocess
import sys
import time
import unittest

sys.dont_write_bytecode = True
SRC = os.environ.get("DBR_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(SRC, "tests", "doubles"))
import workspace  # noqa: E402
from workspace_case import WorkspaceCase  # noqa: E402
from secret_forms import encodings  # noqa: E402

BIN = os.environ.get("DBROKER_BIN", "dbroker")

# the project's seed payload (the tests' own copy, not the CLI's template)
with open(os.path.join(SRC, "tests", "doubles", "seed_cluster.json")) as _f:
    SEED = json.load(_f)


class ClustersTest(WorkspaceCase):
    PREFIX = "dbr-clusters-"
    PENDING_SECONDS = 0.3
    TERMINATING_SECONDS = 0.3

    def run_dbr(self, *args, env=None, stdin=None, ca=True, timeout=60):
        cmd = [BIN, "--chain", "env"]
        if ca:
            cmd += ["--ca-cert", self.ws.ca_file]
        p = subprocess.run(cmd + list(args), env=env or self.env(), input=stdin,
                           capture_output=True, text=True, timeout=timeout)
        self.assert_no_secret(p.stdout, p.stderr)
        return p


    def creates(self):
        return self.ws.requests(path="clusters/create")

    def bearer_once(self, req):
        auth = [v for k, v in req["headers"] if k.lower() == "authorization"]
        self.assertEqual(auth, ["Bearer " + self.token])

    # --- happy paths -----------------------------------------------------------

    def test_default_template_waits_until_running(self):
        p = self.run_dbr("clusters", "create")
        self.assertEqual(p.returncode, 0, p.stderr)
        out = json.loads(p.stdout)
        self.assertEqual(out["state"], "RUNNING")
        self.assertRegex(out["cluster_id"], r"^\d{4}-\d{6}-[a-z0-9]{8}$")
        reqs = self.creates()
        self.assertEqual(len(reqs), 1)
        body = dict(reqs[0]["json"])
        token = body.pop("idempotency_token")
        self.assertRegex(token, r"^[0-9a-f]{32}$")
        self.assertEqual(body, SEED)
        self.assertEqual(out["idempotency_token"], token)
        for r in self.ws.requests():
            self.bearer_once(r)
            self.assertTrue(r["path"].startswith("/api/2.1/clusters/"))
        # progress off a TTY: plain lines on stderr
        self.assertIn("PENDING", p.stderr)

    def create_under_fault(self, kind, path="", count=100):
        """A fresh workspace log, one fault, one 'clusters create' that must
        succeed with exactly one cluster; returns (process, requests)."""
        self.ws.reset()
        if kind:
            self.ws.add_fault(kind, path=path, count=count)
        p = self.run_dbr("clusters", "create")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(len(self.creates()), 1)
        return p, self.ws.requests()

    def test_create_and_wait_ride_one_connection(self):
        # one TLS handshake for the whole run: the create and every poll
        # share the kept-alive connection
        p, reqs = self.create_under_fault(None)
        self.assertGreaterEqual(len(reqs), 3)  # create + at least two polls
        self.assertEqual({r["conn"] for r in reqs}, {reqs[0]["conn"]})
        # a server that closes after each answer still works: one connection
        # per request, nothing resent
        p, reqs = self.create_under_fault("close_after")
        self.assertEqual(len({r["conn"] for r in reqs}), len(reqs))
        # a server that drops idle kept-alive connections quietly: each
        # request finds its connection gone and opens a new one, silently
        # (not a retry: nothing was sent on the dead one)
        p, reqs = self.create_under_fault("drop_after")
        self.assertEqual(len({r["conn"] for r in reqs}), len(reqs))
        self.assertNotIn("retrying", p.stderr)
        # a server that closes a kept-alive connection just as a poll
        # arrives on it (the race an idle timeout makes, forced here): the
        # GET goes again at once on a new connection, without a retry's
        # wait or warning
        p, reqs = self.create_under_fault("reset", path="clusters/get", count=1)
        self.assertEqual([r["reset"] for r in reqs[:3]], [False, True, False])
        self.assertEqual(reqs[1]["conn"], reqs[0]["conn"])
        self.assertNotEqual(reqs[2]["conn"], reqs[1]["conn"])
        self.assertNotIn("retrying", p.stderr)
        self.assertNotIn("warning", p.stderr)

    def test_seed_payload_from_file_stdin_and_inline(self):
        path = os.path.join(self.home, "cluster.json")
        with open(path, "w") as f:
            json.dump(dict(SEED, cluster_name="from-file"), f, indent=2)
        p = self.run_dbr("clusters", "create", "--no-wait", "--json", "@" + path)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout)["state"], "PENDING")
        p = self.run_dbr("clusters", "create", "--no-wait", "--json", "-",
                         stdin=json.dumps(dict(SEED, cluster_name="from-stdin")))
        self.assertEqual(p.returncode, 0, p.stderr)
        p = self.run_dbr("clusters", "create", "--no-wait", "--json",
                         json.dumps(dict(SEED, cluster_name="inline")))
        self.assertEqual(p.returncode, 0, p.stderr)
        names = [r["json"]["cluster_name"] for r in self.creates()]
        self.assertEqual(names, ["from-file", "from-stdin", "inline"])

    def test_flag_overrides(self):
        p = self.run_dbr("clusters", "create", "--no-wait", "--name", "etl",
                         "--autoscale", "2:8", "--spark-version", "13.3.x-scala2.12",
                         "--autotermination-minutes", "30",
                         "--json", json.dumps({"spark_version": "x", "node_type_id": "n1",
                                               "num_workers": 1}))
        self.assertEqual(p.returncode, 0, p.stderr)
        body = self.creates()[0]["json"]
        self.assertEqual(body["cluster_name"], "etl")
        self.assertEqual(body["autoscale"], {"min_workers": 2, "max_workers": 8})
        self.assertNotIn("num_workers", body)
        self.assertEqual(body["spark_version"], "13.3.x-scala2.12")
        self.assertEqual(body["autotermination_minutes"], 30)

    def test_dry_run_sends_nothing(self):
        p = self.run_dbr("clusters", "create", "--dry-run", "--idempotency-token", "run-42")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout), dict(SEED, idempotency_token="run-42"))
        self.assertEqual(self.ws.requests(), [])

    def test_get_list_delete(self):
        p = self.run_dbr("clusters", "create")
        cid = json.loads(p.stdout)["cluster_id"]
        p = self.run_dbr("-o", "json", "clusters", "get", cid)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout)["state"], "RUNNING")
        # a 64-bit number comes out with every digit, as the workspace sent it
        ctx = [c for c in self.ws.clusters() if c["cluster_id"] == cid][0]["spark_context_id"]
        self.assertGreater(ctx, 2**53)
        self.assertEqual(json.loads(p.stdout)["spark_context_id"], ctx)
        p = self.run_dbr("api", "GET", "/api/2.1/clusters/get?cluster_id=" + cid)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn('"spark_context_id":\t%d,' % ctx, p.stdout)
        p = self.run_dbr("-o", "json", "clusters", "list")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(cid, [c["cluster_id"] for c in json.loads(p.stdout)["clusters"]])
        p = self.run_dbr("clusters", "delete", cid, "--timeout", "30s")  # waits by default
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout)["state"], "TERMINATED")
        p = self.run_dbr("clusters", "delete", cid)  # already terminated: a no-op
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_unknown_cluster(self):
        p = self.run_dbr("clusters", "get", "0000-000000-nothere1")
        self.assertEqual(p.returncode, 6)
        self.assertIn("does not exist", p.stderr)
        self.assertIn("INVALID_PARAMETER_VALUE", p.stderr)
        self.ws.clear_requests()
        for bad in ("../../etc", "a b", ""):
            p = self.run_dbr("clusters", "get", bad)
            self.assertEqual(p.returncode, 2, bad)
            self.assertIn("'dbroker clusters list' shows them", p.stderr)
        p = self.run_dbr("clusters", "delete", "x/y")
        self.assertEqual(p.returncode, 2)
        self.assertEqual(self.ws.requests(), [])

    def test_api_command(self):
        p = self.run_dbr("api", "GET", "/api/2.0/preview/scim/v2/Me")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout)["userName"], "me@example.com")
        p = self.run_dbr("api", "get", "/api/2.1/clusters/list")
        self.assertEqual(p.returncode, 0, p.stderr)
        p = self.run_dbr("api", "GET", "clusters/list")
        self.assertEqual(p.returncode, 2)
        self.assertIn("the path must start with /api/, e.g. /api/2.1/clusters/list", p.stderr)

    def test_auth_describe_check(self):
        p = self.run_dbr("auth", "describe", "--check")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("user:       me@example.com", p.stdout)
        self.assertEqual(len(self.ws.requests()), 1)
        p = self.run_dbr("-o", "json", "auth", "describe", "--check")
        self.assertEqual(json.loads(p.stdout)["credential"]["user"], "me@example.com")
        p = self.run_dbr("auth", "describe", "--check", env=self.env(token="dapi" + "1" * 32))
        self.assertEqual(p.returncode, 5)
        self.assertIn("source:     env", p.stdout)  # the report still shows who said what
        self.assertIn("Invalid access token", p.stderr)

    def create_on_a_terminal(self, name, cols=None):
        """`clusters create` on a pseudo-terminal (script(1)), cols columns
        wide if given: what the terminal was sent, \r and escape sequences
        kept."""
        log = os.path.join(self.home, name)
        cmd = " ".join([BIN, "--chain", "env", "--ca-cert", self.ws.ca_file,
                        "clusters", "create"])
        if cols:
            cmd = "stty cols %d && %s" % (cols, cmd)
        p = subprocess.run(["script", "-q", "-e", "-c", cmd, log], env=self.env(),
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        with open(log, errors="replace", newline="") as f:  # keep the \r
            screen = f.read()
        self.assert_no_secret(screen)
        return screen

    def test_live_progress_line_on_a_terminal(self):
        # one line redrawn in place
        self.ws.configure(pending_seconds=2.5)
        screen = self.create_on_a_terminal("tty.out")
        self.assertIn("\r\x1b[KPENDING  Finding instances", screen)
        self.assertRegex(screen, r"\r\x1b\[KPENDING  .*  0:0[1-9]")  # elapsed time ticks
        self.assertNotIn("dbroker: cluster ", screen)  # no plain log lines on a TTY

    def test_live_progress_line_fits_a_narrow_terminal(self):
        # the line was up to 80 columns whatever the terminal: on a narrower
        # one it wrapped, and each redraw left a row behind
        self.ws.configure(pending_seconds=1.5)
        screen = self.create_on_a_terminal("tty-narrow.out", cols=40)
        drawn = [d.split("\r\n")[0] for d in screen.split("\r\x1b[K")[1:]]
        live = [d for d in drawn if d.startswith("PENDING")]
        self.assertTrue(live, repr(screen[:400]))
        for d in live:
            self.assertLessEqual(len(d), 39, repr(d))
        self.assertRegex(live[0], r"^PENDING  Finding instances.*\.\.\.  0:0\d$")

    def test_warning_during_a_wait_does_not_land_on_the_live_line(self):
        # a retried poll's warning clears the live line first; the next tick
        # draws it again below the warning
        self.ws.configure(pending_seconds=4)
        self.ws.add_faults(dict(kind="pass", path="clusters/get"),
                           dict(kind="503", path="clusters/get", count=2, retry_after=1))
        screen = self.create_on_a_terminal("tty-warn.out")
        self.assertIn("503", screen)
        warnings = [m.start() for m in re.finditer("dbroker: warning:", screen)]
        self.assertTrue(warnings, screen)
        for at in warnings:  # each at the start of a row, or of a cleared one
            self.assertTrue(at == 0 or screen[at - 1] == "\n" or
                            screen[at - 4:at] == "\r\x1b[K", repr(screen[at - 40:at + 20]))
        self.assertIn("\r\x1b[Kdbroker: warning:", screen)
        self.assertRegex(screen, r"503[^\n]*\n(.|\n)*\r\x1b\[KPENDING  ")  # drawn again

    # --- faults ----------------------------------------------------------------

    def test_429_with_retry_after_then_success(self):
        self.ws.add_fault("429", "clusters/create", retry_after=1, count=2)
        t0 = time.monotonic()
        p = self.run_dbr("clusters", "create", "--no-wait")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertGreaterEqual(time.monotonic() - t0, 2.0)  # honoured Retry-After
        reqs = self.creates()
        self.assertEqual(len(reqs), 3)
        tokens = {r["json"]["idempotency_token"] for r in reqs}
        self.assertEqual(len(tokens), 1)  # the same token on every retry
        self.assertIn("429", p.stderr)
        self.assertEqual(len(self.ws.clusters()), 1)

    def test_503_retried(self):
        self.ws.add_fault("503", "clusters/create", count=1)
        p = self.run_dbr("clusters", "create", "--no-wait")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(len(self.creates()), 2)

    def test_transient_message_retried(self):
        self.ws.add_fault("transient", "clusters/create", count=1)
        p = self.run_dbr("clusters", "create", "--no-wait")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(len(self.creates()), 2)

    def assert_unknown_outcome(self, p, *causes):
        """Exit 10, the token on stdout, the cause and the exact command that
        finishes the job on stderr; rerunning that command creates the
        cluster once (or finds it)."""
        self.assertEqual(p.returncode, 10, p.stderr)
        out = json.loads(p.stdout)
        self.assertIsNone(out["cluster_id"])
        self.assertEqual(out["outcome"], "unknown")
        token = out["idempotency_token"]
        self.assertEqual(self.creates()[-1]["json"]["idempotency_token"], token)
        self.assertIn("the workspace may have created the cluster (", p.stderr)
        for c in causes:
            self.assertIn(c, p.stderr)
        self.assertIn("to finish safely, run: dbroker ", p.stderr)
        line = p.stderr.split("to finish safely, run: ", 1)[1].splitlines()[0]
        self.assertTrue(line.endswith(" --idempotency-token " + token), line)
        return token

    def test_500_not_retried(self):
        self.ws.add_fault("500", "clusters/create", count=1)
        p = self.run_dbr("clusters", "create", "--no-wait")
        self.assertEqual(len(self.creates()), 1)
        token = self.assert_unknown_outcome(p, "answered 500 INTERNAL_ERROR")
        # the double created nothing on its 500; the rerun creates exactly one
        p = self.run_dbr("clusters", "create", "--no-wait", "--idempotency-token", token)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(len(self.ws.clusters()), 1)

    def test_html_error_page(self):
        self.ws.add_fault("html_502", "clusters/create", count=1)
        p = self.run_dbr("clusters", "create", "--no-wait")
        self.assert_unknown_outcome(p, "502")
        self.assertNotIn("<html", p.stderr.lower())
        # a read is retried past a gateway's page
        self.ws.add_fault("html_502", "clusters/list", count=1)
        p = self.run_dbr("clusters", "list")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("answered 502", p.stderr)
        self.assertIn("retrying in", p.stderr)
        self.assertEqual(len(self.ws.requests(path="clusters/list")), 2)
        # ... within the retry window
        self.ws.add_fault("html_502", "clusters/list", count=-1)
        p = self.run_dbr("--retry-window", "2s", "clusters", "list")
        self.assertEqual(p.returncode, 7, p.stderr)
        self.assertIn("answered 502: 502 Bad Gateway", p.stderr)
        self.assertIn("the 2 s retry window is used up", p.stderr)

    def test_answers_of_the_wrong_shape(self):
        # a small "huge" fault: JSON, but not what the call answers
        self.ws.add_fault("huge", "clusters/create", bytes=100, count=1)
        p = self.run_dbr("clusters", "create", "--no-wait", "--idempotency-token", "shape-1")
        self.assertEqual(self.assert_unknown_outcome(p, "sent no usable cluster_id"), "shape-1")
        self.ws.add_fault("huge", "clusters/get", bytes=100, count=-1)
        p = self.run_dbr("clusters", "create", timeout=30)  # no wait for a state
        self.assertEqual(p.returncode, 6)
        cid = json.loads(p.stdout)["cluster_id"]
        self.assertIn("described cluster '%s' without a state" % cid, p.stderr)
        self.assertIn("'dbroker clusters get %s' shows it" % cid, p.stderr)
        self.ws.add_fault("huge", "scim/v2/Me", bytes=100, count=1)
        p = self.run_dbr("auth", "describe", "--check")
        self.assertEqual(p.returncode, 6)
        self.assertIn("check that the host is a Databricks workspace URL", p.stderr)

    def test_create_answer_with_an_overlong_cluster_id(self):
        # an id longer than any cluster's is not cut to one that looks valid
        self.ws.add_fault("raw", "clusters/create", content_type="application/json",
                          body=json.dumps({"cluster_id": "y" * 5000}))
        p = self.run_dbr("clusters", "create", "--idempotency-token", "long-id-1")
        self.assertEqual(self.assert_unknown_outcome(p, "sent no usable cluster_id"),
                         "long-id-1")
        self.assertEqual(self.ws.requests(path="clusters/get"), [])

    def test_get_answer_with_an_overlong_cluster_id(self):
        # the wait's polls describe the cluster under an id longer than any
        # cluster's: it is not cut to one that looks valid and printed; the
        # result names the cluster that was created
        self.ws.add_fault("raw", "clusters/get", content_type="application/json", count=-1,
                          body=json.dumps({"cluster_id": "y" * 5000, "state": "RUNNING"}))
        p = self.run_dbr("clusters", "create", "--name", "long-get-id")
        self.assertEqual(p.returncode, 0, p.stderr)
        cid = json.loads(p.stdout)["cluster_id"]
        self.assertNotIn("yyyy", p.stdout + p.stderr)
        self.assertEqual([c["cluster_id"] for c in self.ws.clusters()
                          if c.get("cluster_name") == "long-get-id"], [cid])

    def test_answers_that_are_not_objects(self):
        # a list, null or an HTML page where an object belongs: the next step
        for body in ("[1, 2]", "null", "<html>sign in</html>"):
            for path, args in (("clusters/get", ("clusters", "get", "1234-567890-abcde123")),
                               ("runs/get", ("jobs", "get-run", "7"))):
                self.ws.reset()
                self.ws.add_fault("raw", path, body=body, content_type="application/json")
                p = self.run_dbr(*args)
                self.assertEqual(p.returncode, 6, p.stderr)
                self.assertIn("answered %s with something that is not a JSON object: check "
                              "that the host is a Databricks workspace URL" % path, p.stderr)
                self.assertEqual(p.stdout, "")

    def test_retry_after_past_the_window(self):
        # the server asks for a wait longer than the 300 s retry window
        self.ws.add_fault("503", "clusters/list", retry_after=400, count=1)
        p = self.run_dbr("clusters", "list")
        self.assertEqual(p.returncode, 7)
        self.assertIn("gave up after 1 attempt", p.stderr)
        self.assertIn("it asked to wait 400 s", p.stderr)
        self.assertIn("retry window: try again later", p.stderr)
        self.assertEqual(len(self.ws.requests()), 1)

    def test_oversized_responses(self):
        # every body is read up to 16 MiB (DBR_HTTP_DEFAULT_MAX_RESPONSE), with
        # or without Content-Length, error answers included; never retried
        cap = "exceeds %d bytes: ask for less" % (16 * 1024 * 1024)
        self.ws.add_fault("huge", "clusters/list", count=1)
        p = self.run_dbr("clusters", "list")
        self.assertEqual(p.returncode, 6)
        self.assertIn("'GET /api/2.1/clusters/list': response from '127.0.0.1' " + cap,
                      p.stderr)
        self.assertEqual(p.stdout, "")
        self.ws.add_fault("huge", "clusters/list", chunked=True, count=1)
        p = self.run_dbr("clusters", "list")
        self.assertEqual(p.returncode, 6)
        self.assertIn(cap, p.stderr)
        self.ws.add_fault("huge", "clusters/get", status=503, chunked=True, count=-1)
        p = self.run_dbr("clusters", "get", "1234-567890-abcde123")
        self.assertEqual(p.returncode, 6)
        self.assertIn("'GET /api/2.1/clusters/get?cluster_id=1234-567890-abcde123'", p.stderr)
        self.assertIn(cap, p.stderr)
        self.assertEqual(len(self.ws.requests(path="clusters/get")), 1)

    def test_oversized_and_malformed_heads(self):
        # a head over 64 KiB (as the kept connection reads them), one header
        # line over libcurl's 100 KiB, Content-Length headers that disagree:
        # each is refused for what it is, at once, never retried
        head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        cases = [
            (head + "".join("X-Pad-%d: %s\r\n" % (i, "a" * 1000) for i in range(400)) +
             "Content-Length: 2\r\n\r\n{}", "has more than 65536 bytes of headers"),
            (head + "X-Pad: " + "a" * 200000 + "\r\nContent-Length: 2\r\n\r\n{}",
             "has a header line longer than libcurl accepts"),
            (head + "Content-Length: 16\r\nContent-Length: 2\r\n\r\n" + '{"clusters": []}',
             "is malformed (Content-Length headers that differ)"),
        ]
        for data, needle in cases:
            self.ws.reset()
            self.ws.add_fault("wire", "clusters/list", data=data, count=-1)
            p = self.run_dbr("--retry-window", "10s", "clusters", "list")
            self.assertEqual(p.returncode, 6, p.stderr)
            self.assertIn("the answer from '127.0.0.1' " + needle, p.stderr)
            self.assertIn("check that the host is a Databricks workspace URL", p.stderr)
            self.assertNotIn("retrying", p.stderr)
            self.assertEqual(p.stdout, "")
            self.assertEqual(len(self.ws.requests(path="clusters/list")), 1)

    def test_reset_after_create_makes_exactly_one_cluster(self):
        self.ws.add_fault("reset_after_create", "clusters/create", count=1)
        p = self.run_dbr("clusters", "create")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(len(self.creates()), 2)
        clusters = self.ws.clusters()
        self.assertEqual(len(clusters), 1, clusters)
        self.assertEqual(json.loads(p.stdout)["cluster_id"], clusters[0]["cluster_id"])

    def test_slow_answer(self):
        self.ws.add_fault("slow", "clusters/create", seconds=1.5, count=1)
        p = self.run_dbr("clusters", "create", "--no-wait")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(len(self.ws.clusters()), 1)

    def test_wrong_token(self):
        p = self.run_dbr("clusters", "list", env=self.env(token="dapi" + "0" * 32))
        self.assertEqual(p.returncode, 5)
        self.assertIn("Invalid access token", p.stderr)
        self.assertIn("'env'", p.stderr)
        self.assertIn("DATABRICKS_TOKEN", p.stderr)  # what to do next
        self.assertEqual(len(self.ws.requests()), 1)  # never retried
        self.ws.add_fault("error", "clusters/list", status=401, error_code="UNAUTHENTICATED",
                          message="Token is expired.", count=1)
        p = self.run_dbr("clusters", "list")
        self.assertEqual(p.returncode, 5)
        self.assertIn("401 UNAUTHENTICATED: Token is expired.", p.stderr)
        self.assertIn("check that it has not expired or been revoked", p.stderr)
        self.assertIn("put a valid one in DATABRICKS_TOKEN", p.stderr)

    # --- waiting -----------------------------------------------------------------

    def test_timeout_while_pending(self):
        self.ws.configure(pending_seconds=60)
        p = self.run_dbr("clusters", "create", "--timeout", "2s")
        self.assertEqual(p.returncode, 7)
        out = json.loads(p.stdout)
        self.assertEqual(out["state"], "PENDING")
        self.assertIn("still PENDING", p.stderr)
        self.assertIn("dbroker clusters get " + out["cluster_id"], p.stderr)

    def test_error_outcome(self):
        self.ws.configure(next_outcome="ERROR")
        p = self.run_dbr("clusters", "create")
        self.assertEqual(p.returncode, 9)
        out = json.loads(p.stdout)
        self.assertEqual(out["state"], "ERROR")
        self.assertIn("is ERROR", p.stderr)
        self.assertIn("fix the cause it names, then create the cluster again", p.stderr)

    def test_terminated_outcome(self):
        self.ws.configure(next_outcome="TERMINATED",
                          termination_reason={"code": "CLOUD_PROVIDER_LAUNCH_FAILURE",
                                              "type": "CLOUD_FAILURE", "parameters": {}})
        p = self.run_dbr("clusters", "create")
        self.assertEqual(p.returncode, 9)
        out = json.loads(p.stdout)
        self.assertEqual(out["state"], "TERMINATED")
        self.assertEqual(out["termination_reason"]["code"], "CLOUD_PROVIDER_LAUNCH_FAILURE")
        self.assertIn("CLOUD_PROVIDER_LAUNCH_FAILURE", p.stderr)

    def test_ctrl_c_stops_waiting(self):
        self.ws.configure(pending_seconds=60)
        rc, out, err = self.signal_at_first_poll([BIN, "--chain", "env", "--ca-cert",
                                                  self.ws.ca_file, "clusters", "create"])
        self.assertEqual(rc, 130)
        cid = json.loads(out)["cluster_id"]
        self.assertIn("not deleted", err)
        self.assertEqual(self.ws.clusters()[0]["cluster_id"], cid)
        self.assertNotIn("TERMINAT", self.ws.clusters()[0]["state"])

    def test_delete_timeout_and_ctrl_c_say_the_termination_goes_on(self):
        cid = json.loads(self.run_dbr("clusters", "create").stdout)["cluster_id"]
        self.ws.configure(terminating_seconds=60)
        p = self.run_dbr("clusters", "delete", cid, "--timeout", "2s")
        self.assertEqual(p.returncode, 7, p.stderr)
        self.assertEqual(json.loads(p.stdout)["state"], "TERMINATING")
        self.assertIn("cluster '%s' is still TERMINATING after" % cid, p.stderr)
        self.assertIn("the delete was accepted and the cluster goes on terminating", p.stderr)
        self.assertIn("'dbroker clusters get %s'" % cid, p.stderr)
        self.assertNotIn("not deleted", p.stderr)
        self.assertNotIn("may still start", p.stderr)
        self.ws.clear_requests()
        rc, out, err = self.signal_at_first_poll([BIN, "--chain", "env", "--ca-cert",
                                                  self.ws.ca_file, "clusters", "delete", cid])
        self.assertEqual(rc, 130, err)
        self.assertEqual(json.loads(out)["cluster_id"], cid)
        self.assertIn("stopped waiting for cluster '%s' (TERMINATING)" % cid, err)
        self.assertIn("the delete was accepted and the cluster goes on terminating", err)
        self.assertNotIn("not deleted", err)
        # a poll that fails: the same
        self.ws.add_fault("error", "clusters/get", status=400, error_code="INVALID_STATE",
                          message="get is broken", count=-1)
        p = self.run_dbr("clusters", "delete", cid)
        self.assertEqual(p.returncode, 6, p.stderr)
        self.assertIn("waiting for cluster '%s' (last seen TERMINATING)" % cid, p.stderr)
        self.assertIn("the delete was accepted and the cluster goes on terminating", p.stderr)
        self.assertNotIn("not deleted", p.stderr)

    # --- bad specs: nothing is sent ---------------------------------------------

    def test_malformed_json_says_where(self):
        p = self.run_dbr("clusters", "create", "--json", '{\n  "num_workers": 0\n  "x": 1\n}')
        self.assertEqual(p.returncode, 2)
        # where the missing comma belongs: line 2, after the value
        self.assertIn("--json:2:19: missing ','", p.stderr)
        self.assertIn("after the value of 'num_workers'; add one", p.stderr)
        self.assertEqual(self.ws.requests(), [])

    def test_invalid_spec_not_sent(self):
        for spec, hint in (
                ({"node_type_id": "n", "num_workers": 1}, "'spark_version' is missing; add it"),
                ({"spark_version": "v", "node_type_id": "n"},
                 "neither 'num_workers' nor 'autoscale' is set; add one"),
                ({"spark_version": "v", "node_type_id": "n", "num_workers": "two"},
                 "must be a whole number, not a string; write it without quotes"),
                ({"spark_version": "v", "node_type_id": "n", "num_workers": 0},
                 "add \"spark.master\": \"local[*]\" to spark_conf"),
                ([1, 2], "the spec must be a JSON object")):
            p = self.run_dbr("clusters", "create", "--json", json.dumps(spec))
            self.assertEqual(p.returncode, 2, (spec, p.stderr))
            self.assertIn(hint, p.stderr)
        p = self.run_dbr("clusters", "create", "--num-workers", "3x")
        self.assertEqual(p.returncode, 2)
        self.assertIn("give a whole number such as 2", p.stderr)
        self.assertEqual(self.ws.requests(), [])

    def test_spec_file_missing_or_too_large(self):
        p = self.run_dbr("clusters", "create", "--json", "@" + os.path.join(self.home, "no.json"))
        self.assertEqual(p.returncode, 2)
        self.assertIn("No such file or directory: check the path after '@'", p.stderr)
        big = os.path.join(self.home, "big.json")
        with open(big, "w") as f:
            f.write(" " * (1024 * 1024 + 1))
        p = self.run_dbr("clusters", "create", "--json", "@" + big)
        self.assertEqual(p.returncode, 2)
        self.assertIn("is larger than 1048576 bytes", p.stderr)
        self.assertIn("check that it is the JSON you meant", p.stderr)
        self.assertEqual(self.ws.requests(), [])

    def test_unknown_field_warned_not_fatal(self):
        p = self.run_dbr("clusters", "create", "--no-wait",
                         "--json", json.dumps(dict(SEED, colour="blue")))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("unknown field: colour", p.stderr)

    # --- TLS and transport: fail closed -----------------------------------------

    def test_unknown_ca(self):
        p = self.run_dbr("clusters", "list", ca=False)
        self.assertEqual(p.returncode, 8)
        self.assertIn("is not trusted", p.stderr)
        self.assertIn("set ca_cert in the profile or --ca-cert to the CA", p.stderr)
        self.assertEqual(self.ws.requests(), [])

    def test_wrong_host_name(self):
        tls = self.ws.tls_dir
        with workspace.start_workspace(self.tmp, [self.token], extra_args=[
                "--cert", os.path.join(tls, "wrong.pem"),
                "--key", os.path.join(tls, "wrong.key")]) as bad:
            p = self.run_dbr("clusters", "list", env=self.env(host=bad.url))
            self.assertEqual(p.returncode, 8)
            self.assertIn("127.0.0.1", p.stderr)
            self.assertIn("use the host name the certificate was issued for", p.stderr)
            # the workspace has no setting for another name: none is named
            self.assertNotIn("tls_server_name", p.stderr)

    def test_plain_http(self):
        with workspace.start_workspace(self.tmp, [self.token], plain=True) as plain:
            p = self.run_dbr("clusters", "list", env=self.env(host=plain.url))
            self.assertEqual(p.returncode, 4)
            self.assertIn("only when asked for (--allow-http-loopback", p.stderr)
            self.assertEqual(plain.requests(), [])
            p = self.run_dbr("--allow-http-loopback", "clusters", "list",
                             env=self.env(host=plain.url))
            self.assertEqual(p.returncode, 0, p.stderr)
        p = self.run_dbr("--allow-http-loopback", "clusters", "list",
                         env=self.env(host="http://example.com"))
        self.assertEqual(p.returncode, 4)
        self.assertIn("never sends a token over plain HTTP; use its https:// URL", p.stderr)

    def test_debug_trace_never_shows_the_token(self):
        log = os.path.join(self.home, "debug.log")
        self.ws.add_fault("429", "clusters/create", retry_after=1, count=1)
        p = self.run_dbr("--debug", "--log-file", log, "clusters", "create")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("Authorization: ***", p.stderr)
        self.assertIn("POST /api/2.1/clusters/create", p.stderr)
        with open(log) as f:
            text = f.read()
        self.assertIn("clusters/create", text)
        self.assert_no_secret(text)


if __name__ == "__main__":
    unittest.main(verbosity=2)
