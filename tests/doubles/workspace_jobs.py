"""Jobs API 2.2 (and 2.1) for the Databricks workspace double (workspace.py):
jobs, runs with a lazy state machine, idempotency tokens, paging. No HTTP here.

API (under /api/2.{1,2}/jobs/):
  POST run-now {job_id, idempotency_token?, job_parameters?, ...}
       -> {run_id, number_in_job}
  POST runs/submit {run_name?, tasks[], idempotency_token?, ...} -> {run_id}
  GET  runs/get?run_id=N[&page_token=T]   the run; tasks paged by
       tasks_page_size (next_page_token), as 2.2 pages long task lists
  GET  runs/get-output?run_id=TASK_RUN_ID  {metadata, notebook_output|logs,
       error, error_trace}; a run with tasks is refused (400), as the service does
  POST runs/cancel {run_id} -> {}
  GET  list?limit=1..100&page_token=&name=      {jobs, has_more, next_page_token}
  GET  runs/list?job_id=&active_only=&limit=1..25&page_token=
                                                {runs, has_more, next_page_token}
  A token already used by a run gives that run's id again (run-now, submit).

Runs, computed from timestamps on every read:
  QUEUED (queue_seconds; the job's, only when its max_concurrent_runs is
  reached and its queue is enabled) -> PENDING (pending_seconds: the
  cluster starts) -> RUNNING: the tasks run in dependency order, each for
  task_seconds (a task's "double_seconds" field overrides it) -> TERMINATED.
  A task whose notebook_path / python_file / main_class_name contains
  "double:fail" FAILS with an error and an error trace; tasks depending on it
  end UPSTREAM_FAILED, and the run FAILED (RUN_EXECUTION_ERROR). A run of a
  job at max_concurrent_runs with the queue disabled is SKIPPED at once
  (MAX_CONCURRENT_RUNS_EXCEEDED). Cancel: TERMINATING for terminating_seconds,
  then TERMINATED, CANCELED (USER_CANCELED); tasks not ended are CANCELED.
  Each run has the status object and the deprecated state; config
  "state_format": "status" | "state" | "both" (default) chooses.

Admin (workspace.py routes /__admin/jobs* and /__admin/runs here):
  POST /__admin/jobs {name, tasks, max_concurrent_runs?, queue?: {enabled},
       queue_seconds?} -> {job_id};  GET /__admin/jobs -> {jobs}
  GET  /__admin/runs -> {runs: [... + idempotency_token]}
  GET|POST /__admin/jobs_config {pending_seconds, task_seconds,
       terminating_seconds, tasks_page_size, state_format, error (the failing
       task's error text)}
"""

import base64
import copy
import threading
import time

from workspace_state import ApiError, invalid

TASK_TYPES = ("notebook_task", "spark_python_task", "python_wheel_task", "spark_jar_task",
              "spark_submit_task", "sql_task", "dbt_task", "pipeline_task", "run_job_task",
              "condition_task", "for_each_task", "clean_rooms_notebook_task",
              "dashboard_task", "power_bi_task", "gen_ai_compute_task")
FAIL_MARKER = "double:fail"
ERROR_TRACE = (
    "---------------------------------------------------------------------------\n"
    "ValueError                                Traceback (most recent call last)\n"
    "File <command-1>, line 3\n"
    "      1 import pandas as pd\n"
    "----> 3 raise ValueError(\"bad input row 42\")")  # then the error itself
CONFIG_KEYS = {"pending_seconds": float, "task_seconds": float,
               "terminating_seconds": float, "tasks_page_size": int, "state_format": str,
               "error": str}
DEFAULTS = {"pending_seconds": 0.2, "task_seconds": 0.3, "terminating_seconds": 0.2,
            "tasks_page_size": 100, "state_format": "both", "error": "ValueError: bad input row 42"}


def _ms(t):
    return int(t * 1000)


def _token(kind, offset):
    return base64.urlsafe_b64encode(f"{kind}:{offset}".encode()).decode()


def _offset(kind, token, size):
    if not token:
        return 0
    try:
        text = base64.urlsafe_b64decode(token.encode()).decode()
        if not text.startswith(kind + ":"):
            raise ValueError
        n = int(text[len(kind) + 1:])
        if n < 0 or n > size:
            raise ValueError
        return n
    except ValueError:
        raise invalid("Invalid page_token") from None


def _int_arg(query, name, default, lo, hi):
    v = query.get(name, [None])[0]
    if v is None:
        return default
    if not v.isdigit() or not lo <= int(v) <= hi:
        raise invalid(f"Invalid value for field {name}: {v} (must be {lo}..{hi})")
    return int(v)


def _id_arg(value, field="run_id"):
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if value is None or value == "":
        raise invalid(f"Missing required field: {field}")
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise invalid(f"Invalid value for field {field}")
    return value


def _fails(task):
    for t in TASK_TYPES:
        spec = task.get(t)
        if isinstance(spec, dict) and any(FAIL_MARKER in str(v) for v in spec.values()):
            return True
    return False


def _check_tasks(tasks):
    if not isinstance(tasks, list) or not tasks:
        raise invalid("Missing required field: tasks")
    keys = set()
    for t in tasks:
        if not isinstance(t, dict) or not isinstance(t.get("task_key"), str):
            raise invalid("Missing required field: task_key")
        if t["task_key"] in keys:
            raise invalid(f"Task key {t['task_key']} is not unique")
        keys.add(t["task_key"])
        if sum(1 for k in TASK_TYPES if k in t) != 1:
            raise invalid(f"Task {t['task_key']} must have exactly one task type")
    for t in tasks:
        for d in t.get("depends_on") or []:
            if not isinstance(d, dict) or d.get("task_key") not in keys:
                raise invalid(f"Task {t['task_key']} depends on a task that does not exist")


class Run:
    def __init__(self, jobs, run_id, job, tasks, name, user, token, params, now, queued_s,
                 skipped):
        self.id, self.job, self.name, self.user, self.token = run_id, job, name, user, token
        self.params = params
        self.created = now
        self.number = (len([r for r in jobs.runs.values() if r.job is job]) + 1) if job else None
        self.queued_s = queued_s
        self.skipped = skipped
        self.pending_s = jobs.conf["pending_seconds"]
        self.term_s = jobs.conf["terminating_seconds"]
        self.error = jobs.conf["error"]
        self.cancelled = None
        self.tasks = []
        for t in tasks:
            self.tasks.append({"spec": copy.deepcopy(t), "run_id": jobs.new_id(),
                               "seconds": float(t.get("double_seconds",
                                                      jobs.conf["task_seconds"]))})
        self._schedule()

    def _schedule(self):
        """Start and end of each task from the dependency order; failures
        propagate as UPSTREAM_FAILED (start None)."""
        begin = self.created + self.queued_s + self.pending_s
        done, plan = {}, {}
        pending = list(self.tasks)
        while pending:
            progressed = False
            for t in list(pending):
                deps = [d["task_key"] for d in t["spec"].get("depends_on") or []]
                if any(d not in done for d in deps):
                    continue
                if any(done[d][1] != "SUCCESS" for d in deps):
                    plan[t["spec"]["task_key"]] = (None, None, "UPSTREAM_FAILED")
                    done[t["spec"]["task_key"]] = (begin, "UPSTREAM_FAILED")
                else:
                    start = max([begin] + [done[d][0] for d in deps])
                    end = start + t["seconds"]
                    result = "FAILED" if _fails(t["spec"]) else "SUCCESS"
                    plan[t["spec"]["task_key"]] = (start, end, result)
                    done[t["spec"]["task_key"]] = (end, result)
                pending.remove(t)
                progressed = True
            if not progressed:  # a cycle: the service refuses these up front
                for t in pending:
                    plan[t["spec"]["task_key"]] = (None, None, "UPSTREAM_FAILED")
                break
        self.plan = plan
        self.ends = max([begin] + [e for _, e, _ in plan.values() if e is not None])

    def task_state(self, t, now):
        """(life_cycle, result or None, start, end)."""
        start, end, result = self.plan[t["spec"]["task_key"]]
        if self.skipped:
            return "SKIPPED", None, None, None
        if self.cancelled is not None and now >= self.cancelled and \
                (end is None or self.cancelled < end):
            if start is not None and start <= self.cancelled:
                return "TERMINATED", "CANCELED", start, self.cancelled
            return "SKIPPED", "CANCELED", None, None
        if start is None:
            if now >= self.ends:
                return "SKIPPED", "UPSTREAM_FAILED", None, None
            return "BLOCKED", None, None, None
        if now < start:
            return ("BLOCKED" if t["spec"].get("depends_on") else "PENDING"), None, None, None
        if now < end:
            return "RUNNING", None, start, None
        return "TERMINATED", result, start, end

    def state(self, now):
        """(life_cycle, result, message, termination (code, type) or None)."""
        if self.skipped:
            return ("SKIPPED", None, "Skipped: the job is at its maximum concurrent runs "
                    "and its queue is disabled", ("MAX_CONCURRENT_RUNS_EXCEEDED",
                                                  "CLIENT_ERROR"))
        if self.cancelled is not None and now >= self.cancelled and self.cancelled < self.ends:
            if now < self.cancelled + self.term_s:
                return "TERMINATING", None, "Run is being cancelled", None
            return ("TERMINATED", "CANCELED", "Run cancelled by a user.",
                    ("USER_CANCELED", "SUCCESS"))
        if now < self.created + self.queued_s:
            return "QUEUED", None, "Queued: the job is at its maximum concurrent runs", None
        if now < self.created + self.queued_s + self.pending_s:
            return "PENDING", None, "Waiting for cluster", None
        if now < self.ends:
            return "RUNNING", None, "In run", None
        failed = [t for t in self.tasks if self.plan[t["spec"]["task_key"]][2] != "SUCCESS"]
        if failed:
            return ("TERMINATED", "FAILED", f"Task {failed[0]['spec']['task_key']} failed "
                    "with message: Workload failed, see run output for details.",
                    ("RUN_EXECUTION_ERROR", "CLIENT_ERROR"))
        return "TERMINATED", "SUCCESS", "", ("SUCCESS", "SUCCESS")

    def _state_fields(self, obj, life, result, message, term, fmt):
        if fmt in ("both", "state"):
            st = {"life_cycle_state": life, "state_message": message,
                  "user_cancelled_or_timedout": result == "CANCELED"}
            if result:
                st["result_state"] = result
            obj["state"] = st
        if fmt in ("both", "status"):
            status = {"state": "TERMINATED" if life == "SKIPPED" else life}
            if life == "QUEUED":
                status["queue_details"] = {"code": "ACTIVE_RUNS_LIMIT_REACHED",
                                           "message": message}
            if term or (life == "SKIPPED" and result):
                code, typ = term or (result, "CLIENT_ERROR")
                status["termination_details"] = {"code": code, "type": typ,
                                                  "message": message}
            obj["status"] = status

    def to_json(self, now, base, fmt, offset=0, page=100):
        life, result, message, term = self.state(now)
        r = {"run_id": self.id, "run_name": self.name, "creator_user_name": self.user,
             "run_type": "JOB_RUN" if self.job else "SUBMIT_RUN",
             "start_time": _ms(self.created), "setup_duration": 0,
             "run_page_url": f"{base}/?o=1234567890123456#job/"
                             f"{self.job.id if self.job else 0}/run/{self.id}",
             "format": "MULTI_TASK"}
        if self.job:
            r["job_id"] = self.job.id
            r["number_in_job"] = self.number
            if self.params:
                r["job_parameters"] = [{"name": k, "value": v} for k, v in self.params.items()]
        if life in ("TERMINATED", "SKIPPED"):
            r["end_time"] = _ms(min(now, self.ends if self.cancelled is None
                                    else self.cancelled + self.term_s))
        self._state_fields(r, life, result, message, term, fmt)
        tasks = []
        for t in self.tasks[offset:offset + page]:
            tl, tr, start, _ = self.task_state(t, now)
            tj = {k: copy.deepcopy(v) for k, v in t["spec"].items() if k != "double_seconds"}
            tj.update(run_id=t["run_id"], attempt_number=0)
            if start:
                tj["start_time"] = _ms(start)
            tmsg = "" if tr in (None, "SUCCESS") else (
                "Workload failed, see run output for details" if tr == "FAILED"
                else f"Upstream task failed or was {tr.lower()}")
            tterm = None if tr is None else (
                ("SUCCESS", "SUCCESS") if tr == "SUCCESS" else
                ("USER_CANCELED", "SUCCESS") if tr == "CANCELED" else
                ("RUN_EXECUTION_ERROR", "CLIENT_ERROR") if tr == "FAILED" else
                ("UPSTREAM_FAILED", "CLIENT_ERROR"))
            self._state_fields(tj, "TERMINATED" if tl == "SKIPPED" and tr else tl, tr, tmsg,
                               tterm, fmt)
            tasks.append(tj)
        r["tasks"] = tasks
        if offset + page < len(self.tasks):
            r["next_page_token"] = _token("tasks", offset + page)
            r["has_more"] = True
        return r

    def output(self, task, now, base, fmt):
        tl, tr, start, end = self.task_state(task, now)
        meta = self.to_json(now, base, fmt)
        meta.pop("tasks", None)
        meta["run_id"] = task["run_id"]
        meta["task_key"] = task["spec"]["task_key"]
        self._state_fields(meta, tl, tr, "", None, fmt)
        out = {"metadata": meta}
        if tr == "FAILED":
            out["error"] = self.error
            out["error_trace"] = ERROR_TRACE + "\n" + self.error
        elif tr == "SUCCESS":
            if "notebook_task" in task["spec"]:
                out["notebook_output"] = {"result": f"{task['spec']['task_key']} done",
                                          "truncated": False}
            else:
                out["logs"] = f"{task['spec']['task_key']}: ok\n"
                out["logs_truncated"] = False
        return out


class Job:
    def __init__(self, job_id, settings, user, now):
        self.id, self.settings, self.user, self.created = job_id, settings, user, now

    def to_json(self):
        return {"job_id": self.id, "creator_user_name": self.user,
                "created_time": _ms(self.created), "settings": copy.deepcopy(self.settings)}


class Jobs:
    """Every job and run; thread-safe."""

    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with self.lock:
            self.jobs, self.runs, self.by_task = {}, {}, {}
            self.conf = dict(DEFAULTS)
            self.next = 1000000000000  # 13-digit ids, like the service's

    def new_id(self):
        self.next += 7
        return self.next

    # --- admin ---
    def configure(self, conf):
        if not isinstance(conf, dict) or set(conf) - set(CONFIG_KEYS):
            raise invalid("jobs_config: known keys are " + ", ".join(sorted(CONFIG_KEYS)))
        for k, v in conf.items():
            if k == "state_format":
                if v not in ("both", "status", "state"):
                    raise invalid("jobs_config: state_format is both, status or state")
            elif k == "error":
                if not isinstance(v, str):
                    raise invalid("jobs_config: error must be a string")
            elif isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0 or \
                    (k == "tasks_page_size" and (not isinstance(v, int) or v < 1)):
                raise invalid(f"jobs_config: {k} must be a number >= 0 (page size >= 1)")
        with self.lock:
            self.conf.update(conf)
            return dict(self.conf)

    def create_job(self, body, user="admin@example.com"):
        if not isinstance(body, dict) or not isinstance(body.get("name"), str):
            raise invalid("a job needs a name")
        _check_tasks(body.get("tasks"))
        settings = copy.deepcopy(body)
        settings.setdefault("max_concurrent_runs", 1)
        settings.setdefault("queue", {"enabled": True})
        with self.lock:
            job = Job(self.new_id(), settings, user, time.time())
            self.jobs[job.id] = job
            return job.id

    # --- starting runs ---
    def _by_token(self, token):
        if token is None:
            return None
        if not isinstance(token, str) or len(token) > 64:
            raise invalid("Invalid value for field idempotency_token (at most 64 characters)")
        for r in self.runs.values():
            if r.token == token:
                return r
        return None

    def _start(self, job, tasks, name, user, token, params):
        now = time.time()
        queued, skipped = 0.0, False
        if job:
            active = [r for r in self.runs.values() if r.job is job and
                      r.state(now)[0] not in ("TERMINATED", "SKIPPED")]
            if len(active) >= job.settings["max_concurrent_runs"]:
                if (job.settings.get("queue") or {}).get("enabled"):
                    queued = float(job.settings.get("queue_seconds", 1.0))
                else:
                    skipped = True
        run = Run(self, self.new_id(), job, tasks, name, user, token, params, now, queued,
                  skipped)
        self.runs[run.id] = run
        for t in run.tasks:
            self.by_task[t["run_id"]] = (run, t)
        return run

    def run_now(self, body, user):
        job_id = _id_arg(body.get("job_id"), "job_id")
        params = body.get("job_parameters") or {}
        if not isinstance(params, dict) or not all(isinstance(v, str) for v in params.values()):
            raise invalid("Invalid value for field job_parameters: a map of strings")
        with self.lock:
            old = self._by_token(body.get("idempotency_token"))
            if old:
                return {"run_id": old.id, "number_in_job": old.number}
            job = self.jobs.get(job_id)
            if job is None:
                raise ApiError(400, "INVALID_PARAMETER_VALUE", f"Job {job_id} does not exist.")
            run = self._start(job, job.settings["tasks"], job.settings["name"], user,
                              body.get("idempotency_token"), params)
            return {"run_id": run.id, "number_in_job": run.number}

    def submit(self, body, user):
        _check_tasks(body.get("tasks"))
        with self.lock:
            old = self._by_token(body.get("idempotency_token"))
            if old:
                return {"run_id": old.id}
            run = self._start(None, body["tasks"], body.get("run_name", "Untitled"), user,
                              body.get("idempotency_token"), None)
            return {"run_id": run.id}

    # --- reading ---
    def _run(self, run_id):
        run = self.runs.get(_id_arg(run_id))
        if run is None:
            raise ApiError(400, "INVALID_PARAMETER_VALUE", f"Run {run_id} does not exist.")
        return run

    def get_run(self, query, base):
        rid = _id_arg(query.get("run_id", [None])[0])
        with self.lock:
            if rid in self.by_task:  # a task run: itself, without tasks
                run, task = self.by_task[rid]
                return run.output(task, time.time(), base, self.conf["state_format"])["metadata"]
            run = self._run(rid)
            page = self.conf["tasks_page_size"]
            off = _offset("tasks", query.get("page_token", [None])[0], len(run.tasks))
            return run.to_json(time.time(), base, self.conf["state_format"], off, page)

    def get_output(self, query, base):
        rid = _id_arg(query.get("run_id", [None])[0])
        with self.lock:
            if rid in self.runs:
                raise invalid("Retrieving the output of runs with multiple tasks is not "
                              "supported. Please retrieve the output of each individual "
                              "task run instead.")
            if rid not in self.by_task:
                raise ApiError(400, "INVALID_PARAMETER_VALUE", f"Run {rid} does not exist.")
            run, task = self.by_task[rid]
            return run.output(task, time.time(), base, self.conf["state_format"])

    def cancel(self, body):
        with self.lock:
            run = self._run(body.get("run_id"))
            now = time.time()
            if run.cancelled is None and run.state(now)[0] not in ("TERMINATED", "SKIPPED"):
                run.cancelled = now
            return {}

    def list_jobs(self, query):
        limit = _int_arg(query, "limit", 20, 1, 100)
        name = query.get("name", [None])[0]
        with self.lock:
            jobs = [j.to_json() for j in sorted(self.jobs.values(), key=lambda j: j.id)
                    if name is None or j.settings["name"].lower() == name.lower()]
        return self._page("jobs", jobs, limit, query)

    def list_runs(self, query, base):
        limit = _int_arg(query, "limit", 20, 1, 25)
        job_id = query.get("job_id", [None])[0]
        active = query.get("active_only", ["false"])[0] == "true"
        now = time.time()
        with self.lock:
            runs = sorted(self.runs.values(), key=lambda r: -r.id)
            if job_id is not None:
                jid = _id_arg(job_id, "job_id")
                runs = [r for r in runs if r.job and r.job.id == jid]
            if active:
                runs = [r for r in runs if r.state(now)[0] not in ("TERMINATED", "SKIPPED")]
            items = [r.to_json(now, base, self.conf["state_format"]) for r in runs]
        for r in items:
            r.pop("tasks", None)  # runs/list leaves tasks out unless expand_tasks
        return self._page("runs", items, limit, query)

    @staticmethod
    def _page(key, items, limit, query):
        off = _offset(key, query.get("page_token", [None])[0], len(items))
        out = {"has_more": off + limit < len(items)}
        if items[off:off + limit]:
            out[key] = items[off:off + limit]
        if out["has_more"]:
            out["next_page_token"] = _token(key, off + limit)
        if off:
            out["prev_page_token"] = _token(key, max(0, off - limit))
        return out

    def admin_runs(self):
        now = time.time()
        with self.lock:
            out = []
            for r in self.runs.values():
                j = r.to_json(now, "", "both", 0, len(r.tasks) or 1)
                j["idempotency_token"] = r.token
                out.append(j)
            return out


def dispatch(jobs, method, op, query, body, user, base):
    """(status, object) for a Jobs call; op is the path after /jobs/.
    Returns None when op is not a Jobs call."""
    routes = {
        ("POST", "run-now"): lambda: jobs.run_now(body(), user),
        ("POST", "runs/submit"): lambda: jobs.submit(body(), user),
        ("GET", "runs/get"): lambda: jobs.get_run(query, base),
        ("GET", "runs/get-output"): lambda: jobs.get_output(query, base),
        ("POST", "runs/cancel"): lambda: jobs.cancel(body()),
        ("GET", "list"): lambda: jobs.list_jobs(query),
        ("GET", "runs/list"): lambda: jobs.list_runs(query, base),
    }
    fn = routes.get((method, op))
    return None if fn is None else (200, fn())


def admin(jobs, method, name, body):
    """(status, object) of a Jobs admin call, or None."""
    if (method, name) == ("POST", "jobs"):
        return 200, {"job_id": jobs.create_job(body())}
    if (method, name) == ("GET", "jobs"):
        with jobs.lock:
            return 200, {"jobs": [j.to_json() for j in jobs.jobs.values()]}
    if (method, name) == ("GET", "runs"):
        return 200, {"runs": jobs.admin_runs()}
    if name == "jobs_config" and method in ("GET", "POST"):
        if method == "POST":
            return 200, jobs.configure(body())
        with jobs.lock:
            return 200, dict(jobs.conf)
    return None
