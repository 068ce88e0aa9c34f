"""Failures that tell the truth: every cell of the fault matrix in
docs/bad-input.md ("Fault matrix") against the local HTTPS workspace double.
For each: what the user sees, the exit code, and how many clusters exist
afterwards (never two for one command). Run by ctest with DBROKER_BIN and
DBR_SOURCE_DIR set."""
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
import unittest

sys.dont_write_bytecode = True
SRC = os.environ.get("DBR_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(SRC, "tests", "doubles"))
from workspace_case import WorkspaceCase  # noqa: E402
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from buildtree import sanitized_build  # noqa: E402
from secret_forms import encodings  # noqa: E402

BIN = os.environ.get("DBROKER_BIN", "dbroker")


def refused_url():
    """https:// to a bound port nobody listens on (connections refused);
    returns the URL and the socket (keep it open while it is used)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    return "https://127.0.0.1:%d" % s.getsockname()[1], s


class FailureTest(WorkspaceCase):
    PREFIX = "dbr-failures-"
    PENDING_SECONDS = 0.3
    TERMINATING_SECONDS = 0.3

    def cmd(self, *args):
        return [BIN, "--chain", "env", "--ca-cert", self.ws.ca_file] + list(args)

    def run_dbr(self, *args, env=None, timeout=60, **kw):
        p = subprocess.run(self.cmd(*args), env=env or self.env(), capture_output=True,
                           timeout=timeout, **kw)
        out = p.stdout.decode("utf-8", "replace") if isinstance(p.stdout, bytes) else p.stdout
        err = p.stderr.decode("utf-8", "replace")
        self.assert_no_secret(out, err)
        return p.returncode, out, err


    def clusters(self):
        return self.ws.clusters()

    def assert_unknown(self, rc, out, err):
        self.assertEqual(rc, 10, err)
        doc = json.loads(out)
        self.assertEqual(doc["outcome"], "unknown")
        self.assertIsNone(doc["cluster_id"])
        self.assertIn("the workspace may have created the cluster", err)
        tok = doc["idempotency_token"]
        self.assertIn(" --idempotency-token " + tok, err)
        return tok

    def finish(self, tok):
        """The command the message names: returns the cluster, once."""
        rc, out, err = self.run_dbr("clusters", "create", "--no-wait",
                                    "--idempotency-token", tok)
        self.assertEqual(rc, 0, err)
        return json.loads(out)["cluster_id"]

    # --- the create's outcome is unknown: exit 10, never a second cluster -----

    def test_reset_after_create_on_every_attempt(self):
        # the create is processed, every answer is lost, the window runs out
        self.ws.add_fault("reset_after_create", "clusters/create", count=-1)
        rc, out, err = self.run_dbr("--retry-window", "3s", "clusters", "create", "--no-wait")
        tok = self.assert_unknown(rc, out, err)
        self.assertIn("gave up after", err)
        self.assertEqual(len(self.clusters()), 1)
        self.ws.clear_faults()
        cid = self.finish(tok)
        self.assertEqual([c["cluster_id"] for c in self.clusters()], [cid])

    def test_5xx_after_the_body_was_sent(self):
        for kind, needle in (("500", "answered 500"), ("html_502", "answered 502")):
            self.ws.reset()
            self.ws.add_fault(kind, "clusters/create", count=1)
            rc, out, err = self.run_dbr("clusters", "create", "--no-wait")
            tok = self.assert_unknown(rc, out, err)
            self.assertIn(needle, err)
            self.finish(tok)
            self.assertEqual(len(self.clusters()), 1)
        self.ws.reset()
        self.ws.add_fault("error", "clusters/create", status=504, error_code="GATEWAY_TIMEOUT",
                          message="upstream timed out", count=1)
        rc, out, err = self.run_dbr("clusters", "create", "--no-wait")
        self.assert_unknown(rc, out, err)

    def test_oversized_2xx_answer(self):
        self.ws.add_fault("huge", "clusters/create", count=1)
        rc, out, err = self.run_dbr("clusters", "create", "--no-wait")
        self.assert_unknown(rc, out, err)
        self.assertIn("exceeds", err)

    def test_endless_list_is_bounded(self):
        # a workspace that answers every list page with 8 MiB and a new
        # next_page_token: the pages kept for printing stop at 256 MiB, with
        # what to do, instead of growing until memory runs out
        for cmd, path, field in ((["clusters", "list"], "clusters/list", "clusters"),
                                 (["jobs", "list"], "jobs/list", "jobs"),
                                 (["jobs", "list-runs"], "runs/list", "runs")):
            with self.subTest(path):
                self.ws.clear_faults()
                self.ws.clear_requests()
                self.ws.add_fault("endless_pages", path, count=-1, field=field,
                                  bytes=8 << 20)
                rc, out, err = self.run_dbr(*cmd, timeout=300)
                self.assertEqual(rc, 6, err)
                self.assertEqual(out, "")
                self.assertIn(f"the list of {field} is over 256 MiB after 32 pages: give "
                              "--limit N to read part of it", err)
                self.assertEqual(len(self.ws.requests(path=path)), 32)
                # --limit reads only what it needs
                rc, out, err = self.run_dbr(*cmd, "--limit", "3", "-o", "json", timeout=60)
                self.assertEqual(rc, 0, err)
                self.assertEqual(len(json.loads(out)[field]), 3)
        # a run whose task list never ends (runs/get pages long task lists)
        self.ws.clear_faults()
        self.ws.clear_requests()
        self.ws.add_fault("endless_pages", "runs/get", count=-1, field="tasks", bytes=8 << 20)
        rc, out, err = self.run_dbr("jobs", "get-run", "5", timeout=300)
        self.assertEqual(rc, 6, err)
        self.assertIn("run 5 is over 256 MiB after 32 pages: too large to read", err)
        self.assertEqual(len(self.ws.requests(path="runs/get")), 32)
        self.ws.clear_faults()

    def test_api_call_that_may_have_taken_effect(self):
        # `api POST` lost after it was sent, or answered 500: exit 10 and a
        # warning not to send it again blindly (a second cluster)
        spec = json.dumps({"cluster_name": "raw", "spark_version": "13.3.x-scala2.12",
                           "node_type_id": "i3.xlarge", "num_workers": 1})
        for kind, made in (("reset_after_create", 1), ("500", 0)):
            self.ws.reset()
            self.ws.add_fault(kind, "clusters/create", count=-1)
            rc, out, err = self.run_dbr("api", "POST", "/api/2.1/clusters/create",
                                        "--json", spec)
            self.assertEqual(rc, 10, err)
            self.assertIn("the workspace may have acted on 'POST /api/2.1/clusters/create' (",
                          err)
            self.assertIn("check whether it did before sending it again", err)
            self.assertEqual(out, "")
            self.assertEqual(len(self.clusters()), made)
        # an answer that says nothing happened (400), or a GET: as before
        self.ws.reset()
        self.ws.add_fault("error", "clusters/create", status=400, error_code="INVALID")
        rc, out, err = self.run_dbr("api", "POST", "/api/2.1/clusters/create", "--json", spec)
        self.assertEqual(rc, 6, err)
        self.assertNotIn("may have acted", err)
        self.ws.add_fault("500", "clusters/list", count=-1)
        rc, out, err = self.run_dbr("--retry-window", "1s", "api", "GET",
                                    "/api/2.1/clusters/list")
        self.assertEqual(rc, 7, err)
        self.assertNotIn("may have acted", err)

    def test_signal_while_the_create_is_in_flight(self):
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            self.ws.reset()
            self.ws.add_fault("slow", "clusters/create", seconds=3, count=1)
            proc = subprocess.Popen(self.cmd("clusters", "create", "--no-wait"),
                                    env=self.env(), stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
            deadline = time.monotonic() + 10
            while not self.ws.requests(path="clusters/create") and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.3)
            proc.send_signal(sig)
            out, err = proc.communicate(timeout=20)
            self.assert_no_secret(out, err)
            tok = self.assert_unknown(proc.returncode, out, err)
            self.assertIn("interrupted", err)
            time.sleep(3)  # the slow create completes on the server
            self.assertLessEqual(len(self.clusters()), 1)
            self.finish(tok)
            self.assertEqual(len(self.clusters()), 1, sig)

    def test_stdin_spec_named_in_the_command(self):
        self.ws.add_fault("500", "clusters/create", count=1)
        spec = json.dumps({"cluster_name": "from stdin", "spark_version": "15.4.x-scala2.12",
                           "node_type_id": "i3.xlarge", "num_workers": 1})
        rc, out, err = self.run_dbr("clusters", "create", "--no-wait", "--json", "-",
                                    input=spec.encode())
        tok = self.assert_unknown(rc, out, err)
        self.assertIn("--json - --idempotency-token %s (with the same spec on stdin)" % tok, err)

    # --- signals while waiting: stop, name the cluster, 128 + signal ------------

    def test_signals_while_waiting(self):
        self.ws.configure(pending_seconds=60)
        for sig, code in ((signal.SIGTERM, 143), (signal.SIGHUP, 129), (signal.SIGINT, 130)):
            rc, out, err = self.signal_at_first_poll(self.cmd("clusters", "create"), sig)
            self.assertEqual(rc, code, err)
            cid = json.loads(out)["cluster_id"]
            self.assertTrue(cid)
            self.assertIn("stopped waiting for cluster '%s'" % cid, err)
            self.ws.clear_requests()

    def test_signal_while_a_poll_is_on_the_wire(self):
        # the same words when the signal lands during a poll (held 5 s by
        # the workspace) as between polls
        self.ws.configure(pending_seconds=60)
        self.ws.add_fault("slow", "clusters/get", seconds=5, count=1)
        rc, out, err = self.signal_at_first_poll(self.cmd("clusters", "create"))
        self.assertEqual(rc, 130, err)
        cid = json.loads(out)["cluster_id"]
        self.assertIn("stopped waiting for cluster '%s' (PENDING)" % cid, err)
        self.assertNotIn("interrupted", err)

    # --- never lose the id ----------------------------------------------------------

    def test_error_while_waiting_names_the_cluster(self):
        self.ws.configure(pending_seconds=60)
        self.ws.add_fault("error", "clusters/get", status=400, error_code="INVALID_STATE",
                          message="get is broken", count=-1)
        rc, out, err = self.run_dbr("clusters", "create")
        self.assertEqual(rc, 6, err)
        cid = json.loads(out)["cluster_id"]
        self.assertRegex(cid, r"^\d{4}-\d{6}-[a-z0-9]{8}$")
        self.assertIn("waiting for cluster '%s' (last seen PENDING)" % cid, err)
        self.assertIn("'dbroker clusters get %s'" % cid, err)

    def test_one_500_while_waiting_does_not_end_the_wait(self):
        self.ws.add_fault("500", "clusters/get", count=1)
        rc, out, err = self.run_dbr("clusters", "create")
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["state"], "RUNNING")
        self.assertIn("retrying in", err)

    def test_result_to_a_full_disk_closed_stdout_or_closed_pipe(self):
        # /dev/full: the write fails with ENOSPC
        with open("/dev/full", "w") as full:
            p = subprocess.run(self.cmd("clusters", "create", "--no-wait"), env=self.env(),
                               stdout=full, stderr=subprocess.PIPE, text=True, timeout=60)
        self.assertEqual(p.returncode, 1, p.stderr)
        cid = self.clusters()[-1]["cluster_id"]
        self.assertIn("cluster %s (PENDING): the result could not be written to stdout" % cid,
                      p.stderr)
        self.assertIn("No space left on device", p.stderr)
        # stdout closed before the start
        p = subprocess.run(self.cmd("clusters", "create", "--no-wait"), env=self.env(),
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                           timeout=60, pass_fds=(), preexec_fn=lambda: os.close(1))
        self.assertEqual(p.returncode, 1, p.stderr)
        cid = self.clusters()[-1]["cluster_id"]
        self.assertIn("cluster %s (PENDING): the result could not be written" % cid, p.stderr)
        # a reader that went away mid-wait (EPIPE): reported, not a silent death
        r, w = os.pipe()
        os.close(r)
        p = subprocess.run(self.cmd("clusters", "create"), env=self.env(), stdout=w,
                           stderr=subprocess.PIPE, text=True, timeout=60)
        os.close(w)
        self.assertEqual(p.returncode, 1, p.stderr)
        cid = self.clusters()[-1]["cluster_id"]
        self.assertIn("cluster %s (RUNNING): the result could not be written" % cid, p.stderr)
        self.assertIn("Broken pipe", p.stderr)
        # other commands: exit 1 with the reason
        with open("/dev/full", "w") as full:
            p = subprocess.run(self.cmd("clusters", "list"), env=self.env(), stdout=full,
                               stderr=subprocess.PIPE, text=True, timeout=60)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("cannot write the result to stdout (No space left on device)", p.stderr)

    def test_log_file_that_cannot_be_written_warns_once(self):
        log = os.path.join(self.home, "dbroker.log")

        def small_files():
            resource.setrlimit(resource.RLIMIT_FSIZE, (200, 200))

        p = subprocess.run(self.cmd("--log-file", log, "--log-level", "debug", "clusters",
                                    "create"), env=self.env(), capture_output=True, text=True,
                           timeout=60, preexec_fn=small_files)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr.count("cannot write to the log file '%s'" % log), 1,
                         p.stderr)
        self.assertIn("File too large", p.stderr)

    # --- retry policy ----------------------------------------------------------------

    def test_unreachable_exits_8_quickly(self):
        url, sock = refused_url()
        try:
            t0 = time.monotonic()
            rc, out, err = self.run_dbr("--retry-window", "3s", "clusters", "list",
                                        env=self.env(host=url))
            took = time.monotonic() - t0
        finally:
            sock.close()
        self.assertEqual(rc, 8, err)
        self.assertLess(took, 15)
        self.assertIn("cannot connect to '127.0.0.1'", err)
        self.assertIn("gave up after", err)
        # a write is retried too: nothing was sent
        url, sock = refused_url()
        try:
            rc, out, err = self.run_dbr("--retry-window", "2s", "clusters", "create",
                                        "--no-wait", env=self.env(host=url))
        finally:
            sock.close()
        self.assertEqual(rc, 8, err)
        self.assertNotIn("may have created", err)

    def test_name_that_does_not_exist_fails_at_once(self):
        t0 = time.monotonic()
        rc, out, err = self.run_dbr("clusters", "list",
                                    env=self.env(host="https://no-such-workspace.invalid"))
        self.assertEqual(rc, 8, err)
        self.assertLess(time.monotonic() - t0, 5)
        self.assertIn("the host name 'no-such-workspace.invalid' does not exist", err)
        self.assertNotIn("retrying", err)

    def test_retry_window_from_the_profile(self):
        with open(os.path.join(self.home, ".databrickscfg"), "w") as f:
            f.write("[DEFAULT]\nretry_window = 2s\n")
        os.chmod(os.path.join(self.home, ".databrickscfg"), 0o600)
        self.ws.add_fault("503", "clusters/list", count=-1)
        rc, out, err = self.run_dbr("clusters", "list")
        self.assertEqual(rc, 7, err)
        self.assertIn("2 s retry window", err)
        with open(os.path.join(self.home, ".databrickscfg"), "w") as f:
            f.write("[DEFAULT]\nretry_window = soon\n")
        rc, out, err = self.run_dbr("clusters", "list")
        self.assertEqual(rc, 4, err)
        self.assertIn("invalid retry_window in the profile 'soon'", err)
        rc, out, err = self.run_dbr("--retry-window", "0s", "clusters", "list")
        self.assertEqual(rc, 2, err)
        # over the 24 hours a call is retried at most (the agent refuses
        # more): refused here, with or without an agent, before any request
        self.ws.clear_requests()
        for window in ("25h", "24h1s", "90000"):
            rc, out, err = self.run_dbr("--retry-window", window, "clusters", "list")
            self.assertEqual(rc, 2, err)
            self.assertIn(f"invalid --retry-window '{window}': a call is retried for 24h at "
                          "most; give a shorter duration such as 1h", err)
        with open(os.path.join(self.home, ".databrickscfg"), "w") as f:
            f.write("[DEFAULT]\nretry_window = 2d\n")
        rc, out, err = self.run_dbr("clusters", "list")
        self.assertEqual(rc, 4, err)
        self.assertIn("invalid retry_window in the profile '2d': a call is retried for 24h",
                      err)
        self.assertEqual(self.ws.requests(), [])

    def test_timeout_bounds_the_whole_command(self):
        # a create that is retried forever: --timeout stops it, with the token
        self.ws.add_fault("503", "clusters/create", count=-1)
        t0 = time.monotonic()
        rc, out, err = self.run_dbr("clusters", "create", "--timeout", "3s")
        took = time.monotonic() - t0
        self.assertEqual(rc, 7, err)
        self.assertLess(took, 5)
        self.assertIn("timeout ran out", err)
        self.assertEqual(len(self.clusters()), 0)
        # the wait never overruns its deadline by more than a second
        self.ws.clear_faults()
        self.ws.configure(pending_seconds=60)
        t0 = time.monotonic()
        rc, out, err = self.run_dbr("clusters", "create", "--timeout", "4s")
        took = time.monotonic() - t0
        self.assertEqual(rc, 7, err)
        self.assertLess(took, 5.0)
        self.assertIn("is still PENDING after", err)
        self.assertTrue(json.loads(out)["cluster_id"])

    def test_timeout_bounds_clusters_delete(self):
        # polls answered 503 (Retry-After 2) while the cluster terminates:
        # --timeout stops the retries, as it does for a create
        rc, out, err = self.run_dbr("clusters", "create")
        cid = json.loads(out)["cluster_id"]
        self.ws.configure(terminating_seconds=60)
        self.ws.add_fault("503", "clusters/get", retry_after=2, count=-1)
        t0 = time.monotonic()
        rc, out, err = self.run_dbr("clusters", "delete", cid, "--timeout", "4s", timeout=30)
        took = time.monotonic() - t0
        self.assertEqual(rc, 7, err)
        self.assertLess(took, 5.5)
        self.assertIn("would pass the command's 4 s timeout", err)
        self.assertEqual(json.loads(out)["cluster_id"], cid)
        # the delete itself, retried: bounded the same way
        self.ws.add_fault("503", "clusters/delete", retry_after=2, count=-1)
        t0 = time.monotonic()
        rc, out, err = self.run_dbr("clusters", "delete", cid, "--timeout", "3s", timeout=30)
        self.assertEqual(rc, 7, err)
        self.assertLess(time.monotonic() - t0, 4.5)
        self.assertIn("the command's 3 s timeout", err)
        # no answer accepted it: stdout names the cluster, but claims no state
        self.assertEqual(json.loads(out), {"cluster_id": cid})
        self.assertIn("the delete of cluster '%s' was not confirmed (" % cid, err)
        self.assertIn("check with 'dbroker clusters get %s' whether it is terminating" % cid,
                      err)
        # a 502 to every attempt of the delete (it may have been acted on):
        # not confirmed either, no state claimed
        self.ws.clear_faults()
        self.ws.add_fault("html_502", "clusters/delete", count=-1)
        rc, out, err = self.run_dbr("--retry-window", "2s", "clusters", "delete", cid,
                                    timeout=30)
        self.assertEqual(rc, 6, err)
        self.assertEqual(json.loads(out), {"cluster_id": cid})
        self.assertIn("the delete of cluster '%s' was not confirmed (" % cid, err)
        self.assertIn("answered 502", err)
        self.assertIn("check with 'dbroker clusters get %s' whether it is terminating" % cid,
                      err)

    # --- messages that name the real cause ---------------------------------------------

    def test_out_of_file_descriptors(self):
        def few_fds():
            resource.setrlimit(resource.RLIMIT_NOFILE, (5, 5))

        rc, out, err = self.run_dbr("clusters", "list", preexec_fn=few_fds)
        self.assertNotEqual(rc, 0)
        self.assertNotIn("CA certificates", err)
        self.assertIn("ulimit -n", err)

    @unittest.skipIf(sanitized_build(),
                     "AddressSanitizer reserves terabytes of address space")
    def test_out_of_address_space_never_blames_the_url(self):
        # under a tight address-space limit whatever fails must say so, and
        # never call the (valid) URL invalid
        seen_oom = False
        for mib in (8, 10, 12, 14, 16, 20, 24, 32):
            def limit(mib=mib):
                resource.setrlimit(resource.RLIMIT_AS, (mib << 20, mib << 20))

            rc, out, err = self.run_dbr("clusters", "list", preexec_fn=limit)
            self.assertNotIn("is not a valid absolute URL", err)
            self.assertNotIn("URL is not valid", err)
            if rc != 0 and "memory" in err:
                seen_oom = True
                self.assertIn("ulimit -v", err)
        self.assertTrue(seen_oom)


if __name__ == "__main__":
    unittest.main(verbosity=2)
