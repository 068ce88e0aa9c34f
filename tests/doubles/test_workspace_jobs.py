#!/usr/bin/python3
"""Self-test of the Jobs API of the workspace double (workspace_jobs.py,
served by workspace.py): routes, the run state machine, idempotency, paging,
output, cancel, faults. Run: /usr/bin/python3 test_workspace_jobs.py
"""

import json
import os
import secrets
import shutil
import sys
import tempfile
import time
import unittest

sys.dont_write_bytecode = True  # keep the source tree clean
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import workspace  # noqa: E402

TOKEN = "dapi" + secrets.token_hex(16)
API = "/api/2.2/jobs/"
TMP = WS = None


def setUpModule():
    global TMP, WS
    TMP = tempfile.mkdtemp(prefix="dbr-ws-jobs-")
    WS = workspace.start_workspace(TMP, [TOKEN])


def tearDownModule():
    if WS:
        WS.stop()
    shutil.rmtree(TMP, ignore_errors=True)


def task(key, path="/n", deps=(), **extra):
    t = {"task_key": key, "notebook_task": {"notebook_path": path},
         "existing_cluster_id": "1234-567890-abcde123"}
    if deps:
        t["depends_on"] = [{"task_key": d} for d in deps]
    return dict(t, **extra)


class JobsDoubleTest(unittest.TestCase):
    def setUp(self):
        WS.reset()
        WS.configure_jobs(pending_seconds=0.1, task_seconds=0.2, terminating_seconds=0.1)

    def call(self, method, op, body=None, status=200, version="2.2"):
        r = WS.call(method, f"/api/{version}/jobs/{op}", body, token=TOKEN)
        self.assertEqual(r.status, status, r.body)
        return r.json

    def get(self, run_id, extra=""):
        return self.call("GET", f"runs/get?run_id={run_id}{extra}")

    def wait_end(self, run_id, limit=10):
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            run = self.get(run_id)
            if run["status"]["state"] == "TERMINATED":
                return run
            time.sleep(0.05)
        self.fail("run did not end")

    def test_states_in_order_with_status_and_state(self):
        WS.configure_jobs(pending_seconds=0.3)
        rid = self.call("POST", "runs/submit", {"tasks": [task("a"), task("b", deps=["a"])]})["run_id"]
        run = self.get(rid)
        self.assertEqual(run["status"]["state"], "PENDING")
        self.assertEqual(run["state"]["life_cycle_state"], "PENDING")
        self.assertEqual([t["status"]["state"] for t in run["tasks"]], ["PENDING", "BLOCKED"])
        seen = []
        while run["status"]["state"] != "TERMINATED":
            seen.append(run["status"]["state"])
            time.sleep(0.05)
            run = self.get(rid)
        self.assertEqual(sorted(set(seen)), ["PENDING", "RUNNING"])
        self.assertEqual(run["state"]["result_state"], "SUCCESS")
        self.assertEqual(run["status"]["termination_details"]["code"], "SUCCESS")
        self.assertLess(run["tasks"][0]["start_time"], run["tasks"][1]["start_time"])
        self.assertIn(f"/run/{rid}", run["run_page_url"])
        self.assertEqual(self.get(rid)["run_id"], self.call(
            "GET", f"runs/get?run_id={rid}", version="2.1")["run_id"])

    def test_failing_task_and_upstream(self):
        rid = self.call("POST", "runs/submit", {"tasks": [
            task("a", "/double:fail"), task("b", deps=["a"])]})["run_id"]
        run = self.wait_end(rid)
        self.assertEqual(run["state"]["result_state"], "FAILED")
        self.assertEqual([t["state"].get("result_state") for t in run["tasks"]],
                         ["FAILED", "UPSTREAM_FAILED"])
        out = self.call("GET", f"runs/get-output?run_id={run['tasks'][0]['run_id']}")
        self.assertIn("Traceback", out["error_trace"])
        self.assertEqual(out["error"], "ValueError: bad input row 42")
        self.assertEqual(out["metadata"]["task_key"], "a")
        # a run with tasks has no output of its own
        r = self.call("GET", f"runs/get-output?run_id={rid}", status=400)
        self.assertIn("each individual task run", r["message"])

    def test_run_now_idempotency_and_parameters(self):
        jid = WS.create_job("etl", [task("main")], max_concurrent_runs=5)
        body = {"job_id": jid, "idempotency_token": "t1", "job_parameters": {"env": "x"}}
        a = self.call("POST", "run-now", body)
        b = self.call("POST", "run-now", body)
        self.assertEqual(a, b)
        self.assertEqual(a["number_in_job"], 1)
        self.assertEqual(len(WS.runs()), 1)
        self.assertEqual(self.get(a["run_id"])["job_parameters"], [{"name": "env", "value": "x"}])
        self.call("POST", "run-now", {"job_id": 1}, status=400)
        self.call("POST", "run-now", {"job_id": jid, "idempotency_token": "x" * 65}, status=400)

    def test_queue_and_skip(self):
        jid = WS.create_job("q", [task("main", double_seconds=2)], queue_seconds=0.5)
        self.call("POST", "run-now", {"job_id": jid})
        second = self.call("POST", "run-now", {"job_id": jid})["run_id"]
        run = self.get(second)
        self.assertEqual(run["status"]["state"], "QUEUED")
        self.assertIn("message", run["status"]["queue_details"])
        jid = WS.create_job("s", [task("main", double_seconds=2)], queue={"enabled": False})
        self.call("POST", "run-now", {"job_id": jid})
        run = self.get(self.call("POST", "run-now", {"job_id": jid})["run_id"])
        self.assertEqual(run["state"]["life_cycle_state"], "SKIPPED")
        self.assertEqual(run["status"]["termination_details"]["code"],
                         "MAX_CONCURRENT_RUNS_EXCEEDED")

    def test_cancel(self):
        rid = self.call("POST", "runs/submit", {"tasks": [task("a", double_seconds=5)]})["run_id"]
        time.sleep(0.2)
        self.assertEqual(self.call("POST", "runs/cancel", {"run_id": rid}), {})
        self.assertEqual(self.get(rid)["status"]["state"], "TERMINATING")
        run = self.wait_end(rid)
        self.assertEqual(run["state"]["result_state"], "CANCELED")
        self.assertEqual(run["status"]["termination_details"]["code"], "USER_CANCELED")
        self.call("POST", "runs/cancel", {"run_id": rid})  # a no-op now
        self.call("POST", "runs/cancel", {"run_id": 5}, status=400)

    def test_paging(self):
        WS.configure_jobs(tasks_page_size=2)
        rid = self.call("POST", "runs/submit",
                        {"tasks": [task(f"t{i}") for i in range(5)]})["run_id"]
        keys, extra = [], ""
        while True:
            page = self.get(rid, extra)
            keys += [t["task_key"] for t in page["tasks"]]
            if "next_page_token" not in page:
                break
            extra = "&page_token=" + page["next_page_token"]
        self.assertEqual(keys, [f"t{i}" for i in range(5)])
        for i in range(3):
            WS.create_job(f"j{i}", [task("m")])
        page = self.call("GET", "list?limit=2")
        self.assertTrue(page["has_more"])
        rest = self.call("GET", "list?limit=2&page_token=" + page["next_page_token"])
        self.assertEqual(len(page["jobs"]) + len(rest["jobs"]), 3)
        self.assertFalse(rest["has_more"])
        self.call("GET", "list?limit=101", status=400)
        self.call("GET", "runs/list?limit=26", status=400)
        self.call("GET", "list?page_token=bogus", status=400)
        self.assertEqual(len(self.call("GET", "runs/list?active_only=true&limit=25")
                             .get("runs", [])), 1)

    def test_state_format_and_bad_requests(self):
        WS.configure_jobs(state_format="state")
        rid = self.call("POST", "runs/submit", {"tasks": [task("a")]})["run_id"]
        run = self.get(rid)
        self.assertNotIn("status", run)
        self.assertIn("life_cycle_state", run["state"])
        WS.configure_jobs(state_format="status")
        self.assertNotIn("state", self.get(rid))
        self.call("POST", "runs/submit", {"tasks": []}, status=400)
        self.call("POST", "runs/submit", {"tasks": [task("a"), task("a")]}, status=400)
        self.call("POST", "runs/submit", {"tasks": [task("a", deps=["x"])]}, status=400)
        self.call("GET", "runs/get?run_id=abc", status=400)
        self.call("GET", "runs/frobnicate", status=404)
        with self.assertRaises(workspace.AdminError):
            WS.configure_jobs(state_format="xml")

    def test_reset_after_submit_keeps_the_run(self):
        WS.add_fault("reset_after_create", "runs/submit", count=1)
        with self.assertRaises(OSError):
            WS.call("POST", API + "runs/submit", {"tasks": [task("a")]}, token=TOKEN)
        self.assertEqual(len(WS.runs()), 1)
        r = WS.call("GET", API + "list", token="dapi" + "0" * 32)
        self.assertEqual(r.status, 403)


if __name__ == "__main__":
    unittest.main(verbosity=2)
