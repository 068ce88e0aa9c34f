"""Clusters for the Databricks workspace double (workspace.py): create-body
validation, idempotency tokens and the lazy state machine. No HTTP here.

States are computed on every read from timestamps (no background threads):

  created ──pending_seconds──> RUNNING                      (outcome RUNNING)
                          └──> ERROR                        (outcome ERROR)
                          └──> TERMINATING ──terminating_seconds──> TERMINATED
                                                            (outcome TERMINATED)
  delete while PENDING/RUNNING/ERROR: TERMINATING now, TERMINATED after
  terminating_seconds (termination_reason USER_REQUEST / SUCCESS);
  delete while TERMINATING/TERMINATED: no-op.

The outcome of a new cluster is RUNNING unless the admin set next_outcome
(consumed by the next create that makes a cluster) or the cluster_name
contains a marker: "double:error" or "double:terminated" (any case).

An idempotency token belongs to its cluster until the cluster is TERMINATED
(the token is then cleared); create with a token held by a cluster that is
not TERMINATED returns that cluster's id.
"""

import base64
import copy
import math
import random
import string
import threading
import time

# --- errors -----------------------------------------------------------------


class ApiError(Exception):
    """An error answer: HTTP status, Databricks error_code and message."""

    def __init__(self, status, error_code, message):
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message


def invalid(message):
    return ApiError(400, "INVALID_PARAMETER_VALUE", message)


# --- the create body (field list of the reference) ---------------------------

STRING_FIELDS = (
    "spark_version", "cluster_name", "node_type_id", "driver_node_type_id",
    "instance_pool_id", "driver_instance_pool_id", "policy_id",
    "single_user_name", "idempotency_token",
)
INTEGER_FIELDS = (
    "num_workers", "autotermination_minutes", "remote_disk_throughput",
    "total_initial_remote_disk_size",
)
BOOLEAN_FIELDS = (
    "apply_policy_default_values", "enable_elastic_disk",
    "enable_local_disk_encryption", "is_single_node", "use_ml_runtime",
)
STRING_MAP_FIELDS = ("spark_conf", "spark_env_vars", "custom_tags")
OBJECT_FIELDS = (
    "autoscale", "aws_attributes", "azure_attributes", "gcp_attributes",
    "clone_from", "cluster_log_conf", "docker_image", "workload_type",
    "driver_node_type_flexibility", "worker_node_type_flexibility",
)
ENUM_FIELDS = {
    "runtime_engine": ("NULL", "STANDARD", "PHOTON"),
    "data_security_mode": (
        "NONE", "SINGLE_USER", "USER_ISOLATION", "LEGACY_TABLE_ACL",
        "LEGACY_PASSTHROUGH", "LEGACY_SINGLE_USER", "LEGACY_SINGLE_USER_STANDARD",
        "DATA_SECURITY_MODE_STANDARD", "DATA_SECURITY_MODE_DEDICATED",
        "DATA_SECURITY_MODE_AUTO",
    ),
    "kind": ("CLASSIC_PREVIEW",),
}
AZURE_AVAILABILITY = ("SPOT_AZURE", "ON_DEMAND_AZURE", "SPOT_WITH_FALLBACK_AZURE")
KNOWN_FIELDS = frozenset(STRING_FIELDS + INTEGER_FIELDS + BOOLEAN_FIELDS
                         + STRING_MAP_FIELDS + OBJECT_FIELDS + tuple(ENUM_FIELDS)
                         + ("ssh_public_keys", "init_scripts"))
MAX_CUSTOM_TAGS = 45
MAX_SSH_KEYS = 10
MAX_IDEMPOTENCY_TOKEN = 64

STATES = ("PENDING", "RUNNING", "RESTARTING", "RESIZING", "TERMINATING",
          "TERMINATED", "ERROR", "UNKNOWN")
TERMINATION_TYPES = ("SUCCESS", "CLIENT_ERROR", "SERVICE_FAULT", "CLOUD_FAILURE")
OUTCOMES = ("RUNNING", "ERROR", "TERMINATED")

PENDING_MESSAGE = "Finding instances for new nodes, acquiring more instances if necessary"
TERMINATING_MESSAGE = "Terminating the cluster"

# Default reasons for the clusters made to fail on demand.
DEFAULT_REASONS = {
    "ERROR": (
        {"code": "SPARK_STARTUP_FAILURE", "type": "SERVICE_FAULT",
         "parameters": {"databricks_error_message":
                        "Spark failed to start: Driver failed to start in time"}},
        "Spark failed to start: Driver failed to start in time",
    ),
    "TERMINATED": (
        {"code": "CLOUD_PROVIDER_LAUNCH_FAILURE", "type": "CLOUD_FAILURE",
         "parameters": {"azure_error_code": "OperationNotAllowed",
                        "azure_error_message":
                        "Operation could not be completed as it results in "
                        "exceeding approved standardDSv2Family Cores quota."}},
        "Cloud provider launch failure: a cloud provider error was encountered "
        "while setting up the cluster (OperationNotAllowed: quota exceeded)",
    ),
}
NAME_MARKERS = {"double:error": "ERROR", "double:terminated": "TERMINATED"}


def _json_type(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


def _is_int(v):
    """JSON integer (an integral number such as 2.0 counts, like proto3 JSON)."""
    if isinstance(v, bool):
        return False
    if isinstance(v, int):
        return True
    return isinstance(v, float) and math.isfinite(v) and v.is_integer()


def _type_error(field, want, value):
    return invalid(f"Invalid value for field {field}: expected {want}, "
                   f"got {_json_type(value)}")


def _check_types(body):
    for f in STRING_FIELDS + tuple(ENUM_FIELDS):
        if f in body and not isinstance(body[f], str):
            raise _type_error(f, "a string", body[f])
    for f in INTEGER_FIELDS:
        if f in body and not _is_int(body[f]):
            raise _type_error(f, "an integer", body[f])
    for f in BOOLEAN_FIELDS:
        if f in body and not isinstance(body[f], bool):
            raise _type_error(f, "a boolean", body[f])
    for f in STRING_MAP_FIELDS:
        if f not in body:
            continue
        if not isinstance(body[f], dict):
            raise _type_error(f, "an object of strings", body[f])
        for k, v in body[f].items():
            if not isinstance(v, str):
                raise _type_error(f"{f}.{k}", "a string", v)
    for f in OBJECT_FIELDS:
        if f in body and not isinstance(body[f], dict):
            raise _type_error(f, "an object", body[f])
    if "ssh_public_keys" in body:
        keys = body["ssh_public_keys"]
        if not isinstance(keys, list):
            raise _type_error("ssh_public_keys", "an array of strings", keys)
        for i, k in enumerate(keys):
            if not isinstance(k, str):
                raise _type_error(f"ssh_public_keys[{i}]", "a string", k)
    if "init_scripts" in body:
        scripts = body["init_scripts"]
        if not isinstance(scripts, list):
            raise _type_error("init_scripts", "an array of objects", scripts)
        for i, s in enumerate(scripts):
            if not isinstance(s, dict):
                raise _type_error(f"init_scripts[{i}]", "an object", s)
    if "autoscale" in body:
        for k in ("min_workers", "max_workers"):
            a = body["autoscale"]
            if k in a and a[k] is not None and not _is_int(a[k]):
                raise _type_error(f"autoscale.{k}", "an integer", a[k])
    az = body.get("azure_attributes")
    if az and "availability" in az and not isinstance(az["availability"], str):
        raise _type_error("azure_attributes.availability", "a string",
                          az["availability"])


def _check_enum(field, value, allowed):
    if value not in allowed:
        raise invalid(f"Invalid value for field {field}: '{value}' is not one of "
                      + ", ".join(allowed))


def validate_create(body):
    """Raise ApiError(400, INVALID_PARAMETER_VALUE) for the first broken rule
    of the reference. Returns the spec to keep: null fields are unset,
    unknown fields dropped (the service ignores them)."""
    body = {k: v for k, v in body.items() if v is not None}
    _check_types(body)
    for f, allowed in ENUM_FIELDS.items():
        if f in body:
            _check_enum(f, body[f], allowed)
    az = body.get("azure_attributes") or {}
    if "availability" in az:
        _check_enum("azure_attributes.availability", az["availability"],
                    AZURE_AVAILABILITY)

    if not body.get("spark_version"):
        raise invalid("Missing required field: spark_version")
    if not (body.get("node_type_id") or body.get("instance_pool_id")
            or body.get("policy_id")):
        raise invalid("Missing required field: node_type_id "
                      "(needed unless instance_pool_id or policy_id is given)")

    has_n, has_a = "num_workers" in body, "autoscale" in body
    if has_n and has_a:
        raise invalid("Only one of num_workers or autoscale may be specified, not both")
    if not has_n and not has_a:
        raise invalid("Missing required field: num_workers or autoscale "
                      "(exactly one must be specified)")
    if has_n and body["num_workers"] < 0:
        raise invalid(f"Invalid value for field num_workers: {body['num_workers']}"
                      " (must be 0 or more)")
    if has_a:
        a = body["autoscale"]
        for k in ("min_workers", "max_workers"):
            if a.get(k) is None:
                raise invalid(f"Missing required field: autoscale.{k}")
        lo, hi = a["min_workers"], a["max_workers"]
        if lo < 0:
            raise invalid(f"Invalid value for field autoscale.min_workers: {lo} "
                          "(must be 0 or more)")
        if hi <= lo:
            raise invalid(f"Invalid value for field autoscale.max_workers: {hi} "
                          f"(must be greater than autoscale.min_workers {lo})")

    if "autotermination_minutes" in body:
        m = body["autotermination_minutes"]
        if m != 0 and not 10 <= m <= 10000:
            raise invalid(f"Invalid value for field autotermination_minutes: {m} "
                          "(must be 0 to disable, or between 10 and 10000 minutes)")
    tags = body.get("custom_tags") or {}
    if len(tags) > MAX_CUSTOM_TAGS:
        raise invalid(f"Invalid value for field custom_tags: {len(tags)} tags "
                      f"(at most {MAX_CUSTOM_TAGS} are allowed)")
    keys = body.get("ssh_public_keys") or []
    if len(keys) > MAX_SSH_KEYS:
        raise invalid(f"Invalid value for field ssh_public_keys: {len(keys)} keys "
                      f"(at most {MAX_SSH_KEYS} are allowed)")
    tok = body.get("idempotency_token")
    if tok is not None and len(tok) > MAX_IDEMPOTENCY_TOKEN:
        raise invalid(f"Invalid value for field idempotency_token: {len(tok)} "
                      f"characters (at most {MAX_IDEMPOTENCY_TOKEN} are allowed)")
    # what the service keeps: known fields only, integers as integers
    spec = {k: copy.deepcopy(v) for k, v in body.items() if k in KNOWN_FIELDS}
    for f in INTEGER_FIELDS:
        if f in spec:
            spec[f] = int(spec[f])
    if "autoscale" in spec:
        for k in ("min_workers", "max_workers"):
            spec["autoscale"][k] = int(spec["autoscale"][k])
    return spec


def check_reason(reason, where="termination_reason"):
    """Validate an admin-given termination_reason {code, type, parameters}."""
    if not isinstance(reason, dict) or not isinstance(reason.get("code"), str):
        raise invalid(f"{where}: an object with a string 'code' is required")
    if reason.get("type", "CLIENT_ERROR") not in TERMINATION_TYPES:
        raise invalid(f"{where}.type must be one of " + ", ".join(TERMINATION_TYPES))
    params = reason.get("parameters", {})
    if not isinstance(params, dict) or not all(
            isinstance(v, str) for v in params.values()):
        raise invalid(f"{where}.parameters must be an object of strings")
    return {"code": reason["code"], "type": reason.get("type", "CLIENT_ERROR"),
            "parameters": dict(params)}


# --- clusters ------------------------------------------------------------------

def _ms(t):
    return int(t * 1000)


class Cluster:
    def __init__(self, cluster_id, spec, user, now, pending_s, terminating_s,
                 outcome, reason, message):
        self.id = cluster_id
        self.spec = spec
        self.user = user
        self.created = now
        self.pending_s = pending_s
        self.terminating_s = terminating_s
        self.outcome = outcome
        self.outcome_reason = reason
        self.outcome_message = message
        self.token = spec.get("idempotency_token") or None
        self.deleted = None          # (time, terminating_s, user) of the delete
        self.context_id = random.randrange(10**18, 10**19)

    def status(self, now):
        """(state, state_message, termination_reason, terminated_at)."""
        if self.deleted is not None and now >= self.deleted[0]:
            t, term_s, user = self.deleted
            reason = {"code": "USER_REQUEST", "type": "SUCCESS",
                      "parameters": {"username": user}}
            if now < t + term_s:
                return "TERMINATING", TERMINATING_MESSAGE, reason, None
            return "TERMINATED", "", reason, t + term_s
        up = self.created + self.pending_s
        if now < up:
            return "PENDING", PENDING_MESSAGE, None, None
        if self.outcome == "RUNNING":
            return "RUNNING", "", None, None
        if self.outcome == "ERROR":
            return "ERROR", self.outcome_message, self.outcome_reason, None
        if now < up + self.terminating_s:
            return "TERMINATING", self.outcome_message, self.outcome_reason, None
        return ("TERMINATED", self.outcome_message, self.outcome_reason,
                up + self.terminating_s)

    def active_token(self, now):
        """The idempotency token, or None once TERMINATED (cleared)."""
        return None if self.status(now)[0] == "TERMINATED" else self.token

    def to_json(self, now):
        """The clusters/get object: the spec echoed plus the server's fields."""
        state, message, reason, ended = self.status(now)
        c = copy.deepcopy(self.spec)
        c.pop("idempotency_token", None)
        c.pop("apply_policy_default_values", None)
        name = c.setdefault("cluster_name", "")
        if "node_type_id" in c:
            c.setdefault("driver_node_type_id", c["node_type_id"])
        c.setdefault("spark_conf", {})
        c.setdefault("custom_tags", {})
        c.setdefault("autotermination_minutes", 0)
        c.setdefault("enable_elastic_disk", False)
        c.setdefault("data_security_mode", "NONE")
        c.setdefault("runtime_engine", "STANDARD")
        c.update({
            "cluster_id": self.id,
            "creator_user_name": self.user,
            "state": state,
            "state_message": message,
            "start_time": _ms(self.created),
            "last_state_loss_time": 0,
            "cluster_source": "API",
            "default_tags": {"Vendor": "Databricks", "Creator": self.user,
                             "ClusterName": name, "ClusterId": self.id},
            "spark_context_id": self.context_id,
            "jdbc_port": 10000,
        })
        if state == "RUNNING":
            n = c.get("num_workers", c.get("autoscale", {}).get("min_workers", 0))
            c["driver"] = {"node_id": f"{self.id[-8:]}-driver",
                           "private_ip": "10.139.64.4", "start_timestamp":
                           _ms(self.created + self.pending_s)}
            c["executors"] = [{"node_id": f"{self.id[-8:]}-w{i}",
                               "private_ip": f"10.139.64.{5 + i}"}
                              for i in range(n)]
        if reason is not None:
            c["termination_reason"] = copy.deepcopy(reason)
        if ended is not None:
            c["terminated_time"] = _ms(ended)
        return c


def _new_cluster_id(now, taken):
    """'MMDD-HHMMSS-abcde123', like the real ones; unique in taken."""
    stamp = time.strftime("%m%d-%H%M%S", time.gmtime(now))
    while True:
        tail = ("".join(random.choices(string.ascii_lowercase, k=5))
                + "".join(random.choices(string.digits, k=3)))
        cid = f"{stamp}-{tail}"
        if cid not in taken:
            return cid


class Workspace:
    """All clusters and the runtime configuration; thread-safe."""

    def __init__(self, pending_seconds=2.0, terminating_seconds=1.0):
        self.lock = threading.Lock()
        self.initial = (float(pending_seconds), float(terminating_seconds))
        self.reset()

    def reset(self):
        with self.lock:
            self.clusters = {}           # id -> Cluster, in creation order
            self.pending_s, self.terminating_s = self.initial
            self.next_outcome = None     # (outcome, reason, message) or None
            self.list_page_size = None   # clusters/list pages without page_size

    # --- configuration (POST /__admin/config) ---
    def config(self):
        with self.lock:
            nxt = None
            if self.next_outcome:
                o, r, m = self.next_outcome
                nxt = {"next_outcome": o, "termination_reason": r,
                       "state_message": m}
            out = {"pending_seconds": self.pending_s,
                   "terminating_seconds": self.terminating_s, "next": nxt}
            if self.list_page_size:
                out["list_page_size"] = self.list_page_size
            return out

    def configure(self, conf):
        """Apply pending_seconds, terminating_seconds, next_outcome (with an
        optional termination_reason and state_message), list_page_size (the
        service may page clusters/list unasked: pages of this many when the
        request names no page_size; 0 or null: one page). Raises ApiError."""
        if not isinstance(conf, dict):
            raise invalid("config: a JSON object is required")
        known = {"pending_seconds", "terminating_seconds", "next_outcome",
                 "termination_reason", "state_message", "list_page_size"}
        unknown = set(conf) - known
        if unknown:
            raise invalid("config: unknown keys " + ", ".join(sorted(unknown)))
        for k in ("pending_seconds", "terminating_seconds"):
            if k in conf and (not isinstance(conf[k], (int, float))
                              or isinstance(conf[k], bool) or conf[k] < 0):
                raise invalid(f"config: {k} must be a number >= 0")
        lps = conf.get("list_page_size")
        if lps is not None and (not isinstance(lps, int) or isinstance(lps, bool)
                                or not 0 <= lps <= 100):
            raise invalid("config: list_page_size must be a whole number 0..100")
        nxt = None
        if conf.get("next_outcome") is not None:
            o = conf["next_outcome"]
            if o not in OUTCOMES:
                raise invalid("config: next_outcome must be one of " + ", ".join(OUTCOMES))
            reason, message = DEFAULT_REASONS.get(o, (None, ""))
            if conf.get("termination_reason") is not None:
                reason = check_reason(conf["termination_reason"])
            if conf.get("state_message") is not None:
                if not isinstance(conf["state_message"], str):
                    raise invalid("config: state_message must be a string")
                message = conf["state_message"]
            nxt = (o, copy.deepcopy(reason) if o != "RUNNING" else None,
                   message if o != "RUNNING" else "")
        with self.lock:
            if "pending_seconds" in conf:
                self.pending_s = float(conf["pending_seconds"])
            if "terminating_seconds" in conf:
                self.terminating_s = float(conf["terminating_seconds"])
            if "next_outcome" in conf:
                self.next_outcome = nxt
            if "list_page_size" in conf:
                self.list_page_size = lps or None
        return self.config()

    # --- the Clusters API ---
    def create(self, body, user):
        """Validate and create; returns (cluster_id, created)."""
        spec = validate_create(body)
        now = time.time()
        with self.lock:
            tok = spec.get("idempotency_token") or None
            if tok is not None:
                for c in self.clusters.values():
                    if c.active_token(now) == tok:
                        return c.id, False
            outcome, reason, message = "RUNNING", None, ""
            name = spec.get("cluster_name", "").lower()
            for marker, o in NAME_MARKERS.items():
                if marker in name:
                    outcome = o
                    reason, message = copy.deepcopy(DEFAULT_REASONS[o])
            if self.next_outcome is not None:
                outcome, reason, message = self.next_outcome
                self.next_outcome = None
            cid = _new_cluster_id(now, self.clusters)
            self.clusters[cid] = Cluster(cid, spec, user, now, self.pending_s,
                                         self.terminating_s, outcome, reason, message)
            return cid, True

    def _find(self, cluster_id):
        if cluster_id is None or cluster_id == "":
            raise invalid("Missing required field: cluster_id")
        if not isinstance(cluster_id, str):
            raise _type_error("cluster_id", "a string", cluster_id)
        c = self.clusters.get(cluster_id)
        if c is None:
            raise invalid(f"Cluster {cluster_id} does not exist")
        return c

    def get(self, cluster_id):
        with self.lock:
            return self._find(cluster_id).to_json(time.time())

    def delete(self, cluster_id, user):
        """Terminate (async); a no-op when TERMINATING or TERMINATED."""
        now = time.time()
        with self.lock:
            c = self._find(cluster_id)
            if c.status(now)[0] not in ("TERMINATING", "TERMINATED"):
                c.deleted = (now, self.terminating_s, user)

    def _ordered(self, now):
        """Active clusters first, then terminated; newest first in each."""
        cs = sorted(self.clusters.values(), key=lambda c: -c.created)
        return ([c for c in cs if c.status(now)[0] != "TERMINATED"]
                + [c for c in cs if c.status(now)[0] == "TERMINATED"])

    def list(self, page_size=None, page_token=None):
        """{"clusters": [...]} ({} when there are none, like the service);
        with page_size, pages linked by next_page_token/prev_page_token."""
        now = time.time()
        with self.lock:
            items = [c.to_json(now) for c in self._ordered(now)]
        start = 0
        if page_token:
            try:
                text = base64.urlsafe_b64decode(page_token.encode()).decode()
                if not text.startswith("page:"):
                    raise ValueError
                start = int(text[5:])
                if start < 0 or start > len(items):
                    raise ValueError
            except ValueError:
                raise invalid("Invalid page_token") from None
        out = {}
        page_size = page_size or self.list_page_size
        if page_size:
            page = items[start:start + page_size]
            if start + page_size < len(items):
                out["next_page_token"] = _page_token(start + page_size)
            if start > 0:
                out["prev_page_token"] = _page_token(max(0, start - page_size))
        else:
            page = items[start:]
        if page:
            out["clusters"] = page
        return out

    def admin_view(self):
        """Every cluster with its (active) idempotency token and outcome."""
        now = time.time()
        with self.lock:
            out = []
            for c in self.clusters.values():
                j = c.to_json(now)
                j["idempotency_token"] = c.active_token(now)
                j["outcome"] = c.outcome
                out.append(j)
            return out


def _page_token(offset):
    return base64.urlsafe_b64encode(f"page:{offset}".encode()).decode()
