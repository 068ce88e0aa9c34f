"""End-to-end tests of `dbroker jobs ...` against the local HTTPS workspace
double (tests/doubles/workspace.py + workspace_jobs.py): every command, exit
code and fault, exactly-once starts, waits, interrupts, paging, and no token
in any output. Run by ctest with DBROKER_BIN and DBR_SOURCE_DIR set."""
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.dont_write_bytecode = True
SRC = os.environ.get("DBR_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(SRC, "tests", "doubles"))
import workspace  # noqa: E402
from secret_forms import encodings  # noqa: E402

BIN = os.environ.get("DBROKER_BIN", "dbroker")
CLUSTER = "1234-567890-abcde123"
NEW_CLUSTER = {"spark_version": "15.4.x-scala2.12", "node_type_id": "Standard_DS3_v2",
               "num_workers": 2}


def task(key, path="/Shared/etl", deps=(), **extra):
    t = {"task_key": key, "notebook_task": {"notebook_path": path},
         "existing_cluster_id": CLUSTER}
    if deps:
        t["depends_on"] = [{"task_key": d} for d in deps]
    t.update(extra)
    return t


def run_body(*tasks, **extra):
    return dict({"run_name": "nightly", "tasks": list(tasks)}, **extra)


class JobsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="dbr-jobs-")
        cls.token = "dapi" + secrets.token_hex(16)
        cls.ws = workspace.start_workspace(cls.tmp, [(cls.token, "me@example.com")])

    @classmethod
    def tearDownClass(cls):
        cls.ws.stop()
        shutil.rmtree(cls.tmp)

    def setUp(self):
        self.ws.reset()
        self.ws.configure_jobs(pending_seconds=0.1, task_seconds=0.2)
        self.home = tempfile.mkdtemp(dir=self.tmp)

    def env(self, token=None):
        env = {"PATH": "/usr/bin:/bin", "HOME": self.home, "DBROKER_PLUGIN_DIR": self.home,
               "DATABRICKS_HOST": self.ws.url, "DATABRICKS_TOKEN": token or self.token}
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            if k in os.environ:
                env[k] = os.environ[k]
        return env

    def cmd(self, *args):
        return [BIN, "--chain", "env", "--ca-cert", self.ws.ca_file] + list(args)

    def run_dbr(self, *args, stdin=None, token=None, timeout=60):
        p = subprocess.run(self.cmd(*args), env=self.env(token), input=stdin,
                           capture_output=True, text=True, timeout=timeout)
        self.assert_no_secret(p.stdout, p.stderr)
        return p

    def assert_no_secret(self, *texts):
        for t in texts:
            for form in encodings(self.token):
                self.assertNotIn(form, t)

    def job(self, *tasks, **settings):
        return self.ws.create_job("etl", list(tasks) or [task("main")], **settings)

    def posts(self, suffix):
        return self.ws.requests(path=suffix)

    def start(self, *args, polls=1):
        """dbroker in the background, once it has polled runs/get (polls
        times: 2 means it has read the first answer, as it polls in turn)."""
        proc = subprocess.Popen(self.cmd(*args), env=self.env(), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 20
        while (len(self.ws.requests(path="runs/get")) < polls and
               time.monotonic() < deadline):
            time.sleep(0.05)
        return proc

    # --- run-now ---------------------------------------------------------------

    def test_run_now_waits_and_succeeds(self):
        jid = self.job(task("ingest"), task("train", deps=["ingest"]))
        p = self.run_dbr("jobs", "run-now", str(jid))
        self.assertEqual(p.returncode, 0, p.stderr)
        out = json.loads(p.stdout)
        self.assertEqual((out["job_id"], out["state"], out["result_state"]),
                         (jid, "TERMINATED", "SUCCESS"))
        self.assertEqual([t["task_key"] for t in out["tasks"]], ["ingest", "train"])
        self.assertTrue(all(t["result_state"] == "SUCCESS" for t in out["tasks"]))
        body = self.posts("jobs/run-now")[0]["json"]
        self.assertEqual(body["job_id"], jid)
        self.assertRegex(body["idempotency_token"], r"^[0-9a-f]{32}$")
        self.assertEqual(out["idempotency_token"], body["idempotency_token"])
        for r in self.ws.requests():
            self.assertTrue(r["path"].startswith("/api/2.2/jobs/"), r["path"])
        # the run page first, then plain progress lines off a terminal
        lines = p.stderr.splitlines()
        self.assertEqual(lines[0], "dbroker: run %d: %s" % (out["run_id"], out["run_page_url"]))
        self.assertIn("ingest", p.stderr)

    def test_job_parameters_from_file_stdin_and_inline(self):
        jid = self.job()
        path = os.path.join(self.home, "params.json")
        with open(path, "w") as f:
            json.dump({"job_parameters": {"env": "file"}}, f)
        for args, stdin in ((["--json", "@" + path], None),
                            (["--json", "-"], '{"env": "stdin"}'),
                            (["--json", '{"env": "inline", "day": "mon"}'], None)):
            p = self.run_dbr("jobs", "run-now", str(jid), "--no-wait", *args, stdin=stdin)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn("run_id", json.loads(p.stdout))
        params = [r["json"]["job_parameters"] for r in self.posts("jobs/run-now")]
        self.assertEqual(params, [{"env": "file"}, {"env": "stdin"},
                                  {"env": "inline", "day": "mon"}])

    def test_failed_run_exits_9_with_the_tasks_error(self):
        # the error carries a terminal escape and something shaped like a token
        fake = "dapi" + "7" * 32
        self.ws.configure_jobs(error="ValueError: \x1b]0;owned\x07bad row \x1b[31m42 " + fake)
        jid = self.job(task("ingest"), task("train", "/x double:fail", deps=["ingest"]),
                       task("report", deps=["train"]))
        p = self.run_dbr("jobs", "run-now", str(jid))
        self.assertEqual(p.returncode, 9, p.stderr)
        out = json.loads(p.stdout)
        self.assertEqual(out["result_state"], "FAILED")
        states = {t["task_key"]: t["result_state"] for t in out["tasks"]}
        self.assertEqual(states, {"ingest": "SUCCESS", "train": "FAILED",
                                  "report": "UPSTREAM_FAILED"})
        self.assertIn("run %d ended FAILED" % out["run_id"], p.stderr)
        self.assertIn("task 'train' (run %d) failed: ValueError:" % out["tasks"][1]["run_id"],
                      p.stderr)
        self.assertIn('raise ValueError("bad input row 42")', p.stderr)  # the trace
        self.assertNotIn("\x1b", p.stderr)
        self.assertNotIn("\x07", p.stderr)
        self.assertNotIn(fake, p.stderr)
        self.assertIn("bad row", p.stderr)

    def test_unknown_job(self):
        p = self.run_dbr("jobs", "run-now", "424242")
        self.assertEqual(p.returncode, 6)
        self.assertIn("Job 424242 does not exist.", p.stderr)
        for bad in ("0", "12x", "99999999999999999999", "9007199254740992"):
            p = self.run_dbr("jobs", "run-now", bad)
            self.assertEqual(p.returncode, 2, bad)
            self.assertIn("is not a job id", p.stderr)
        p = self.run_dbr("jobs", "run-now", "-1")
        self.assertEqual(p.returncode, 2)
        self.assertIn("unexpected argument '-1'", p.stderr)
        p = self.run_dbr("jobs", "get-run", "abc")
        self.assertEqual(p.returncode, 2)
        self.assertIn("'dbroker jobs list-runs' shows them", p.stderr)
        self.assertEqual(len(self.ws.requests()), 1)

    def test_parameters_checked_before_sending(self):
        jid = self.job()
        p = self.run_dbr("jobs", "run-now", str(jid), "--json", '{"job_parameters": {"n": 1}}')
        self.assertEqual(p.returncode, 2)
        self.assertIn('job_parameters["n"] must be a string', p.stderr)
        p = self.run_dbr("jobs", "run-now", str(jid), "--json", '{"job_id": 5}')
        self.assertEqual(p.returncode, 2)
        self.assertIn("names another job_id", p.stderr)
        self.assertEqual(self.ws.requests(), [])

    # --- submit ------------------------------------------------------------------

    def test_submit_one_time_run_with_new_cluster(self):
        body = run_body(task("a", existing_cluster_id=None),
                        task("b", deps=["a"]))
        del body["tasks"][0]["existing_cluster_id"]
        body["tasks"][0]["new_cluster"] = NEW_CLUSTER
        p = self.run_dbr("jobs", "submit", "--json", json.dumps(body))
        self.assertEqual(p.returncode, 0, p.stderr)
        out = json.loads(p.stdout)
        self.assertEqual(out["result_state"], "SUCCESS")
        self.assertNotIn("job_id", out)
        sent = self.posts("runs/submit")[0]["json"]
        self.assertEqual(sent["tasks"], body["tasks"])
        self.assertEqual(sent["idempotency_token"], out["idempotency_token"])

    def test_submit_refused_before_sending(self):
        cases = (
            ({"run_name": "x"}, "'tasks' is missing"),
            (run_body(task("a"), task("a")), "tasks[1].task_key 'a' is used twice"),
            (run_body(task("a", deps=["nope"])), "names 'nope', which is not a task_key"),
            (run_body(dict(task("a"), spark_jar_task={"main_class_name": "M"})),
             "tasks[0] has 2 task types"),
            (run_body({"task_key": "a", "spark_jar_task": {"main_class_name": "M"}}),
             "tasks[0] (spark_jar_task) names no cluster"),
            (run_body(dict(task("a"), new_cluster=NEW_CLUSTER)), "tasks[0] names 2 clusters"),
            (run_body({"task_key": "a", "notebook_task": {"notebook_path": "/n"},
                       "new_cluster": {"node_type_id": "n", "num_workers": 1}}),
             "tasks[0].new_cluster: 'spark_version' is missing"),
            (run_body(task("a", deps=["b"]), task("b", deps=["a"])), "form a cycle"),
        )
        for body, hint in cases:
            p = self.run_dbr("jobs", "submit", "--json", json.dumps(body))
            self.assertEqual(p.returncode, 2, (body, p.stderr))
            self.assertIn(hint, p.stderr)
        # a directory after '@': what to give instead, usage (before: exit 1,
        # "cannot read DIR: Is a directory")
        d = tempfile.mkdtemp()
        self.addCleanup(os.rmdir, d)
        for cmd in (["jobs", "submit", "--json", "@" + d], ["api", "POST", "/api/2.1/x",
                                                              "--json", "@" + d]):
            p = self.run_dbr(*cmd)
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn(f"'{d}' is a directory: give the path of the JSON file after '@'",
                          p.stderr)
        p = self.run_dbr("jobs", "submit", "--json", '{\n  "tasks": [\n    {"task_key": "a",}\n  ]\n}')
        self.assertEqual(p.returncode, 2)
        self.assertIn("--json:3:21: trailing ','", p.stderr)
        p = self.run_dbr("jobs", "submit")
        self.assertEqual(p.returncode, 2)
        self.assertIn("'jobs submit' needs the run", p.stderr)
        self.assertEqual(self.ws.requests(), [])

    def test_submit_dry_run_and_unknown_field(self):
        body = run_body(task("a"), colour="blue")
        p = self.run_dbr("jobs", "submit", "--dry-run", "--idempotency-token", "tok-1",
                         "--json", json.dumps(body))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout), dict(body, idempotency_token="tok-1"))
        self.assertIn("unknown field: colour", p.stderr)
        self.assertEqual(self.ws.requests(), [])

    # --- exactly once ----------------------------------------------------------------

    def test_reset_after_submit_starts_exactly_one_run(self):
        self.ws.add_fault("reset_after_create", "runs/submit", count=1)
        p = self.run_dbr("jobs", "submit", "--json", json.dumps(run_body(task("a"))))
        self.assertEqual(p.returncode, 0, p.stderr)
        posts = self.posts("runs/submit")
        self.assertEqual(len(posts), 2)
        self.assertEqual(posts[0]["json"]["idempotency_token"],
                         posts[1]["json"]["idempotency_token"])
        runs = self.ws.runs()
        self.assertEqual(len(runs), 1, runs)
        self.assertEqual(json.loads(p.stdout)["run_id"], runs[0]["run_id"])

    def test_429_and_503_retried_with_the_same_token(self):
        jid = self.job()
        self.ws.add_faults({"kind": "429", "path": "jobs/run-now", "retry_after": 1},
                           {"kind": "503", "path": "jobs/run-now"})
        p = self.run_dbr("jobs", "run-now", str(jid), "--no-wait")
        self.assertEqual(p.returncode, 0, p.stderr)
        tokens = {r["json"]["idempotency_token"] for r in self.posts("jobs/run-now")}
        self.assertEqual((len(self.posts("jobs/run-now")), len(tokens)), (3, 1))
        self.assertEqual(len(self.ws.runs()), 1)

    def test_unknown_outcome_prints_the_token_and_a_rerun_finds_the_run(self):
        # accepted, the answer lost, then Ctrl-C while waiting to retry
        self.ws.add_fault("reset_after_create", "runs/submit", count=-1)
        body = json.dumps(run_body(task("a")))
        proc = subprocess.Popen(self.cmd("jobs", "submit", "--json", body), env=self.env(),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 20
        while not self.posts("runs/submit") and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
        self.assert_no_secret(out, err)
        self.assertEqual(proc.returncode, 10, err)  # the outcome is unknown
        tok = json.loads(out)["idempotency_token"]
        self.assertEqual(json.loads(out)["outcome"], "unknown")
        self.assertIn("may have started the run: rerun with --idempotency-token %s" % tok, err)
        self.ws.clear_faults()
        p = self.run_dbr("jobs", "submit", "--json", body, "--idempotency-token", tok)
        self.assertEqual(p.returncode, 0, p.stderr)
        runs = self.ws.runs()
        self.assertEqual(len(runs), 1)
        self.assertEqual(json.loads(p.stdout)["run_id"], runs[0]["run_id"])

    def test_server_error_on_start_names_the_token(self):
        self.ws.add_fault("500", "runs/submit", count=1)
        p = self.run_dbr("jobs", "submit", "--idempotency-token", "t-500",
                         "--json", json.dumps(run_body(task("a"))))
        self.assertEqual(p.returncode, 10)
        self.assertIn("answered 500 INTERNAL_ERROR", p.stderr)
        self.assertIn("rerun with --idempotency-token t-500", p.stderr)
        self.assertEqual(json.loads(p.stdout)["idempotency_token"], "t-500")

    # --- waiting -----------------------------------------------------------------------

    def test_queued_run_then_skipped_when_the_queue_is_off(self):
        jid = self.job(task("main", double_seconds=0.6), max_concurrent_runs=1,
                       queue={"enabled": True}, queue_seconds=1.2)
        first = self.run_dbr("jobs", "run-now", str(jid), "--no-wait")
        self.assertEqual(first.returncode, 0, first.stderr)
        p = self.run_dbr("jobs", "run-now", str(jid))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(": QUEUED: Queued", p.stderr)
        jid = self.job(task("main", double_seconds=2), max_concurrent_runs=1,
                       queue={"enabled": False})
        self.run_dbr("jobs", "run-now", str(jid), "--no-wait")
        p = self.run_dbr("jobs", "run-now", str(jid))
        self.assertEqual(p.returncode, 9, p.stderr)
        out = json.loads(p.stdout)
        self.assertEqual(out["termination_details"]["code"], "MAX_CONCURRENT_RUNS_EXCEEDED")
        self.assertIn("maximum concurrent runs", p.stderr)

    def test_deprecated_state_and_status_alone(self):
        jid = self.job(task("a"), task("b", "/double:fail"))
        for fmt in ("state", "status"):
            self.ws.configure_jobs(state_format=fmt)
            p = self.run_dbr("jobs", "run-now", str(jid))
            self.assertEqual(p.returncode, 9, (fmt, p.stderr))
            self.assertEqual(json.loads(p.stdout)["result_state"], "FAILED", fmt)
            self.assertIn("task 'b'", p.stderr)
            p = self.run_dbr("jobs", "submit", "--json", json.dumps(run_body(task("a"))))
            self.assertEqual(p.returncode, 0, (fmt, p.stderr))
            self.assertEqual(json.loads(p.stdout)["result_state"], "SUCCESS")

    def test_timeout(self):
        jid = self.job(task("slow", double_seconds=30))
        p = self.run_dbr("jobs", "run-now", str(jid), "--timeout", "1500ms")
        self.assertEqual(p.returncode, 7)
        out = json.loads(p.stdout)
        self.assertEqual(out["state"], "RUNNING")
        self.assertIn("run %d is still RUNNING" % out["run_id"], p.stderr)
        self.assertIn("dbroker jobs cancel-run %d" % out["run_id"], p.stderr)
        p = self.run_dbr("jobs", "run-now", str(jid), "--timeout", "soon")
        self.assertEqual(p.returncode, 2)

    def test_timeout_bounds_retries(self):
        # 503 (Retry-After 2) on every poll after the first: --timeout stops
        # the retries as it stops the wait
        jid = self.job(task("slow", double_seconds=30))
        self.ws.add_faults({"kind": "pass", "path": "runs/get"},
                           {"kind": "503", "path": "runs/get", "retry_after": 2, "count": -1})
        t0 = time.monotonic()
        p = self.run_dbr("jobs", "run-now", str(jid), "--timeout", "4s", timeout=30)
        self.assertEqual(p.returncode, 7, p.stderr)
        self.assertLess(time.monotonic() - t0, 5.5)
        rid = json.loads(p.stdout)["run_id"]
        self.assertIn("the command's 4 s timeout", p.stderr)
        self.assertIn("stopped waiting for run %d" % rid, p.stderr)
        # submit, the same
        t0 = time.monotonic()
        p = self.run_dbr("jobs", "submit", "--json", json.dumps(run_body(task("a"))),
                         "--timeout", "3s", timeout=30)
        self.assertEqual(p.returncode, 7, p.stderr)
        self.assertLess(time.monotonic() - t0, 4.5)
        self.assertIn("the command's 3 s timeout", p.stderr)
        # cancel-run --wait
        t0 = time.monotonic()
        p = self.run_dbr("jobs", "cancel-run", str(rid), "--wait", "--timeout", "3s",
                         timeout=30)
        self.assertEqual(p.returncode, 7, p.stderr)
        self.assertLess(time.monotonic() - t0, 4.5)
        self.assertIn("the command's 3 s timeout", p.stderr)
        # the start itself, answered 429 over and over
        self.ws.clear_faults()
        self.ws.add_fault("429", "jobs/run-now", retry_after=2, count=-1)
        t0 = time.monotonic()
        p = self.run_dbr("jobs", "run-now", str(jid), "--timeout", "3s", timeout=30)
        self.assertEqual(p.returncode, 7, p.stderr)
        self.assertLess(time.monotonic() - t0, 4.5)
        self.assertIn("the command's 3 s timeout", p.stderr)

    def test_ctrl_c_names_the_run_and_leaves_it_running(self):
        jid = self.job(task("slow", double_seconds=30))
        proc = self.start("jobs", "run-now", str(jid))
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
        self.assert_no_secret(out, err)
        self.assertEqual(proc.returncode, 130, err)
        rid = json.loads(out)["run_id"]
        self.assertIn("stopped waiting for run %d" % rid, err)
        self.assertIn("it was not cancelled", err)
        self.assertEqual(self.posts("runs/cancel"), [])

    def test_sigterm_with_cancel_on_interrupt_cancels(self):
        jid = self.job(task("slow", double_seconds=30))
        proc = self.start("jobs", "run-now", str(jid), "--cancel-on-interrupt")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
        self.assertEqual(proc.returncode, 143, err)  # 128 + SIGTERM, as without the cancel
        rid = json.loads(out)["run_id"]
        self.assertIn("stopped waiting for run %d and cancelled it" % rid, err)
        self.assertEqual(self.posts("runs/cancel")[0]["json"], {"run_id": rid})
        time.sleep(0.4)
        self.assertEqual(self.ws.runs()[0]["state"]["result_state"], "CANCELED")

    def test_cancel_on_interrupt_that_fails_or_hangs_is_given_up(self):
        # Ctrl-C asks to stop: a cancel answered 503 over and over, or one
        # that gets no answer, is given up within seconds (not after the
        # 300 s retry window, nor killed by a second Ctrl-C with nothing on
        # stdout), and the run is named on stdout and in the message
        jid = self.job(task("slow", double_seconds=120), max_concurrent_runs=10)
        for fault in ({"kind": "503", "retry_after": 1, "count": -1},
                      {"kind": "slow", "seconds": 30, "count": -1}):
            self.ws.clear_faults()
            self.ws.clear_requests()
            self.ws.add_fault(path="runs/cancel", **fault)
            proc = self.start("jobs", "run-now", str(jid), "--cancel-on-interrupt")
            t0 = time.monotonic()
            proc.send_signal(signal.SIGINT)
            try:
                out, err = proc.communicate(timeout=40)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
                self.fail("%s: still trying to cancel 40 s after Ctrl-C" % fault["kind"])
            self.assert_no_secret(out, err)
            self.assertLess(time.monotonic() - t0, 15, fault["kind"])
            self.assertEqual(proc.returncode, 130, err)
            rid = json.loads(out)["run_id"]
            self.assertIn("cannot cancel run %d" % rid, err)
            self.assertIn("stopped waiting for run %d (" % rid, err)
            self.assertIn("it was not cancelled", err)
            self.assertIn("dbroker jobs cancel-run %d" % rid, err)
            self.assertTrue(self.posts("runs/cancel"))

    def test_token_expiring_mid_wait_is_reported(self):
        jid = self.job(task("slow", double_seconds=3))
        self.ws.add_faults({"kind": "pass", "path": "runs/get"},
                           {"kind": "error", "path": "runs/get", "status": 401,
                            "error_code": "UNAUTHENTICATED", "message": "Token is expired."})
        p = self.run_dbr("jobs", "run-now", str(jid))
        self.assertEqual(p.returncode, 5, p.stderr)
        rid = json.loads(p.stdout)["run_id"]
        self.assertIn("the token stopped working while waiting for run %d" % rid, p.stderr)
        self.assertIn("Token is expired.", p.stderr)

    def test_live_progress_line_on_a_terminal(self):
        jid = self.job(task("a", double_seconds=1.5), task("b", deps=["a"]))
        log = os.path.join(self.home, "tty.out")
        cmd = " ".join(self.cmd("jobs", "run-now", str(jid)))
        p = subprocess.run(["script", "-q", "-e", "-c", cmd, log], env=self.env(),
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        with open(log, errors="replace", newline="") as f:
            screen = f.read()
        self.assert_no_secret(screen)
        self.assertIn("\r\x1b[KRUNNING  a RUNNING, b BLOCKED  0:0", screen)
        self.assertNotIn("dbroker: run %s: RUNNING" % "", screen)

    # --- reading, cancelling, listing ---------------------------------------------------

    def test_get_run_reads_every_task_page(self):
        self.ws.configure_jobs(tasks_page_size=2)
        body = run_body(*[task("t%d" % i) for i in range(5)])
        rid = json.loads(self.run_dbr("jobs", "submit", "--json", json.dumps(body)).stdout)["run_id"]
        self.ws.clear_requests()
        p = self.run_dbr("jobs", "get-run", str(rid))
        self.assertEqual(p.returncode, 0, p.stderr)
        run = json.loads(p.stdout)
        self.assertEqual([t["task_key"] for t in run["tasks"]], ["t%d" % i for i in range(5)])
        self.assertNotIn("next_page_token", run)
        self.assertEqual(len(self.ws.requests(path="runs/get")), 3)

    def test_get_run_output_of_each_task(self):
        jid = self.job(task("ok"), task("bad", "/double:fail"))
        p = self.run_dbr("jobs", "run-now", str(jid))
        out = json.loads(p.stdout)
        p = self.run_dbr("jobs", "get-run-output", str(out["run_id"]))
        self.assertEqual(p.returncode, 0, p.stderr)
        o = json.loads(p.stdout)
        self.assertEqual(o["run_id"], out["run_id"])
        by = {t["task_key"]: t for t in o["tasks"]}
        self.assertEqual(by["ok"]["notebook_output"]["result"], "ok done")
        self.assertIn("bad input row 42", by["bad"]["error"])
        self.assertIn("Traceback", by["bad"]["error_trace"])
        # a task run's own id: its output as the workspace sends it
        p = self.run_dbr("jobs", "get-run-output", str(by["bad"]["run_id"]))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout)["metadata"]["task_key"], "bad")
        p = self.run_dbr("jobs", "get-run", "77")
        self.assertEqual(p.returncode, 6)
        self.assertIn("Run 77 does not exist.", p.stderr)

    def test_cancel_run(self):
        jid = self.job(task("slow", double_seconds=30))
        rid = json.loads(self.run_dbr("jobs", "run-now", str(jid), "--no-wait").stdout)["run_id"]
        p = self.run_dbr("jobs", "cancel-run", str(rid), "--wait")
        self.assertEqual(p.returncode, 0, p.stderr)
        out = json.loads(p.stdout)
        self.assertEqual((out["state"], out["result_state"]), ("TERMINATED", "CANCELED"))
        p = self.run_dbr("jobs", "cancel-run", str(rid))  # already ended: a no-op
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout), {"run_id": rid})

    def test_cancel_run_wait_cut_short_says_the_cancel_was_accepted(self):
        # the cancel went through; only the wait for its end was cut short
        # (--timeout, Ctrl-C): the message must not say it was not cancelled
        self.ws.configure_jobs(terminating_seconds=30)
        jid = self.job(task("slow", double_seconds=60))
        rid = json.loads(self.run_dbr("jobs", "run-now", str(jid), "--no-wait").stdout)["run_id"]
        p = self.run_dbr("jobs", "cancel-run", str(rid), "--wait", "--timeout", "2s")
        self.assertEqual(p.returncode, 7, p.stderr)
        self.assertEqual(json.loads(p.stdout)["state"], "TERMINATING")
        self.assertIn("run %d is still TERMINATING" % rid, p.stderr)
        self.assertIn("its cancel was accepted", p.stderr)
        self.assertNotIn("not cancelled", p.stderr)
        self.ws.clear_requests()  # self.start waits for runs/get polls of its own
        # the second poll: the first answer (TERMINATING) has been read
        proc = self.start("jobs", "cancel-run", str(rid), "--wait", polls=2)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
        self.assertEqual(proc.returncode, 130, err)
        self.assertIn("stopped waiting for run %d (TERMINATING); its cancel was accepted" % rid,
                      err)
        self.assertNotIn("not cancelled", err)

    def test_list_follows_every_page_and_limit_stops_early(self):
        for i in range(105):
            self.ws.create_job("job-%03d" % i, [task("main")])
        p = self.run_dbr("-o", "json", "jobs", "list")
        self.assertEqual(p.returncode, 0, p.stderr)
        out = json.loads(p.stdout)
        self.assertEqual(len(out["jobs"]), 105)
        self.assertFalse(out["has_more"])
        self.assertEqual(len(self.ws.requests(path="jobs/list")), 2)
        self.ws.clear_requests()
        p = self.run_dbr("-o", "json", "jobs", "list", "--limit", "3")
        out = json.loads(p.stdout)
        self.assertEqual((len(out["jobs"]), out["has_more"]), (3, True))
        self.assertEqual(self.ws.requests()[0]["query"]["limit"], "3")
        p = self.run_dbr("-o", "json", "jobs", "list", "--name", "JOB-007")
        self.assertEqual([j["settings"]["name"] for j in json.loads(p.stdout)["jobs"]],
                         ["job-007"])
        p = self.run_dbr("jobs", "list", "--limit", "0")
        self.assertEqual(p.returncode, 2)

    def test_list_runs_pages_filters_and_active_only(self):
        jid = self.job(task("main", double_seconds=30), max_concurrent_runs=100)
        other = self.job()
        for _ in range(27):
            self.run_dbr("jobs", "run-now", str(jid), "--no-wait")
        self.run_dbr("jobs", "run-now", str(other))
        self.ws.clear_requests()
        p = self.run_dbr("-o", "json", "jobs", "list-runs", "--job-id", str(jid))
        self.assertEqual(p.returncode, 0, p.stderr)
        runs = json.loads(p.stdout)["runs"]
        self.assertEqual(len(runs), 27)
        self.assertTrue(all(r["job_id"] == jid for r in runs))
        self.assertEqual(len(self.ws.requests(path="runs/list")), 2)
        p = self.run_dbr("-o", "json", "jobs", "list-runs", "--active-only")
        self.assertEqual(len(json.loads(p.stdout)["runs"]), 27)
        p = self.run_dbr("-o", "json", "jobs", "list-runs", "--limit", "30")
        self.assertEqual(len(json.loads(p.stdout)["runs"]), 28)
        self.assertFalse(json.loads(p.stdout)["has_more"])

    def test_faults_on_reads(self):
        self.ws.add_fault("html_502", "jobs/list", count=-1)
        p = self.run_dbr("--retry-window", "2s", "jobs", "list")
        self.assertEqual(p.returncode, 7)
        self.assertIn("502", p.stderr)
        self.ws.clear_faults()
        self.ws.add_fault("html_502", "jobs/list", count=1)  # a GET is retried past it
        p = self.run_dbr("jobs", "list")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.ws.add_fault("reset", "jobs/list", count=1)  # a GET is retried
        p = self.run_dbr("jobs", "list")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.ws.add_fault("huge", "runs/get", bytes=100, count=-1)
        p = self.run_dbr("jobs", "get-run", "5")
        self.assertEqual(p.returncode, 6)
        self.assertIn("without a usable run_id", p.stderr)
        p = self.run_dbr("jobs", "list", token="dapi" + "0" * 32)
        self.assertEqual(p.returncode, 5)
        self.assertIn("Invalid access token", p.stderr)

    def test_answer_about_another_run_is_refused(self):
        # runs/get?run_id=N answered with run M (a proxy's cache, a broken
        # workspace): M is not the run asked about, not to print, wait on
        # or cancel in its place
        jid = self.job(task("a"))
        rid = json.loads(self.run_dbr("jobs", "run-now", str(jid)).stdout)["run_id"]
        self.ws.add_fault("set_field", "runs/get", field="run_id", value=rid + 1, count=-1)
        p = self.run_dbr("jobs", "get-run", str(rid))
        self.assertEqual(p.returncode, 6, p.stderr)
        self.assertEqual(p.stdout, "")
        self.assertIn("answered runs/get for run %d with run %d" % (rid, rid + 1), p.stderr)
        p = self.run_dbr("jobs", "run-now", str(jid))
        self.assertEqual(p.returncode, 6, p.stderr)
        out = json.loads(p.stdout)
        self.assertNotEqual(out["run_id"], rid + 1)
        self.assertIn("stopped waiting for run %d" % out["run_id"], p.stderr)

    def test_usage(self):
        p = self.run_dbr("jobs")
        self.assertEqual(p.returncode, 2)
        p = self.run_dbr("jobs", "--help")
        self.assertEqual(p.returncode, 0)
        self.assertIn("run-now JOB_ID", p.stdout)
        p = self.run_dbr("jobs", "frob")
        self.assertEqual(p.returncode, 2)
        self.assertIn("unknown subcommand 'jobs frob'", p.stderr)
        p = self.run_dbr("jobs", "run-now", "1", "--no-wait", "--cancel-on-interrupt")
        self.assertEqual(p.returncode, 2)
        self.assertEqual(self.ws.requests(), [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
