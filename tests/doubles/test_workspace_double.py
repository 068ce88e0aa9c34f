#!/usr/bin/python3
"""Self-test of the Databricks workspace double (tests/doubles/workspace.py).

Makes throw-away TLS material with mkca.sh, starts the double as a
subprocess with a token file, and talks to it with urllib.request and an
ssl context trusting the test CA. Run: /usr/bin/python3 test_workspace_double.py
"""

import http.client
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

sys.dont_write_bytecode = True  # keep the source tree clean
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import workspace  # noqa: E402

TOKEN = "dapi" + secrets.token_hex(16)
TOKEN2 = "dapi" + secrets.token_hex(16) + "-2"
USER2 = "bob@example.com"
ID_RE = re.compile(r"^\d{4}-\d{6}-[a-z0-9]{8}$")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
PENDING = 0.3
TERMINATING = 0.2

TMP = WS = None


def setUpModule():
    global TMP, WS
    TMP = tempfile.mkdtemp(prefix="dbr-ws-")
    WS = workspace.start_workspace(TMP, [TOKEN, (TOKEN2, USER2)],
                                   pending_seconds=PENDING,
                                   terminating_seconds=TERMINATING)


def tearDownModule():
    if WS:
        WS.stop()
    shutil.rmtree(TMP, ignore_errors=True)


def seed_spec(**changes):
    """The project's default single-node payload, with changes (None drops)."""
    # the project's seed payload (the tests' own copy, not the CLI's template)
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                           "seed_cluster.json")) as f:
        spec = json.load(f)
    for k, v in changes.items():
        if v is None:
            spec.pop(k, None)
        else:
            spec[k] = v
    return spec


class Result:
    def __init__(self, status, headers, raw):
        self.status, self.headers, self.raw = status, headers, raw
        try:
            self.json = json.loads(raw) if raw else None
        except ValueError:
            self.json = None


class Base(unittest.TestCase):
    ws = None  # a server of the test's own, else the module's

    def setUp(self):
        self.srv = self.ws or WS
        self.srv.reset()

    def api(self, method, path, body=None, token=TOKEN, headers=None, raw=None,
            version="2.1"):
        """One call through urllib; HTTP errors are results, not exceptions."""
        if path.startswith("clusters/"):
            path = f"/api/{version}/{path}"
        data = raw if raw is not None else (
            json.dumps(body).encode() if body is not None else None)
        hdrs = dict(headers or {})
        if token is not None:
            hdrs["Authorization"] = f"Bearer {token}"
        if data is not None:
            hdrs.setdefault("Content-Type", "application/json")
        req = urllib.request.Request(self.srv.url + path, data=data, headers=hdrs,
                                     method=method)
        ctx = None if self.srv.plain else self.srv.ssl_context()
        try:
            with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
                return Result(r.status, r.headers, r.read())
        except urllib.error.HTTPError as e:
            with e:
                return Result(e.code, e.headers, e.read())

    def create(self, version="2.1", **changes):
        r = self.api("POST", "clusters/create", seed_spec(**changes), version=version)
        self.assertEqual(r.status, 200, r.raw)
        self.assertRegex(r.json["cluster_id"], ID_RE)
        return r.json["cluster_id"]

    def get(self, cid, version="2.1"):
        r = self.api("GET", f"clusters/get?cluster_id={cid}", version=version)
        self.assertEqual(r.status, 200, r.raw)
        return r.json

    def wait_state(self, cid, state, timeout=3.0):
        deadline = time.monotonic() + timeout
        while True:
            c = self.get(cid)
            if c["state"] == state or time.monotonic() > deadline:
                self.assertEqual(c["state"], state)
                return c
            time.sleep(0.03)

    def assert_error(self, r, status, code, message_part=None):
        self.assertEqual(r.status, status, r.raw)
        self.assertEqual(r.json["error_code"], code, r.raw)
        self.assertIsInstance(r.json["message"], str)
        if message_part is not None:
            self.assertIn(message_part, r.json["message"])

    def assert_invalid(self, spec, field):
        r = self.api("POST", "clusters/create", spec)
        self.assert_error(r, 400, "INVALID_PARAMETER_VALUE", field)

    def fast(self):
        self.srv.configure(pending_seconds=0.05, terminating_seconds=0.05)


# --- authentication ------------------------------------------------------------------

class AuthTest(Base):
    def test_missing_authorization_is_401(self):
        r = self.api("GET", "clusters/list", token=None)
        self.assert_error(r, 401, "UNAUTHENTICATED")

    def test_malformed_authorization_is_401(self):
        for value in ("Basic dXNlcjpwYXNz", "Bearer", "Bearer ", f"Token {TOKEN}",
                      f"Bearer  {TOKEN}", TOKEN, f"Bearer {TOKEN} extra"):
            with self.subTest(value=value):
                r = self.api("GET", "clusters/list", token=None,
                             headers={"Authorization": value})
                self.assert_error(r, 401, "UNAUTHENTICATED")

    def test_two_authorization_headers_are_401(self):
        r = self.srv.raw_request("GET", "/api/2.1/clusters/list", headers=[
            ("Authorization", f"Bearer {TOKEN}"), ("Authorization", f"Bearer {TOKEN}")])
        self.assertEqual(r.status, 401)
        self.assertEqual(r.json["error_code"], "UNAUTHENTICATED")

    def test_wrong_token_is_403(self):
        r = self.api("GET", "clusters/list", token="dapi" + "0" * 32)
        self.assert_error(r, 403, "PERMISSION_DENIED")
        self.assertEqual(r.json["message"], "Invalid access token.")

    def test_auth_before_routing(self):
        self.assertEqual(self.api("GET", "/api/2.0/nope", token=None).status, 401)
        self.assertEqual(self.api("GET", "/api/2.0/nope", token="x").status, 403)

    def test_scim_me_names_the_tokens_user(self):
        for tok, user in ((TOKEN, "user@example.com"), (TOKEN2, USER2)):
            r = self.api("GET", "/api/2.0/preview/scim/v2/Me", token=tok)
            self.assertEqual(r.status, 200, r.raw)
            self.assertEqual(r.json["userName"], user)
            self.assertEqual(r.headers["Content-Type"], "application/json")

    def test_creator_is_the_tokens_user(self):
        r = self.api("POST", "clusters/create", seed_spec(), token=TOKEN2)
        self.assertEqual(self.get(r.json["cluster_id"])["creator_user_name"], USER2)

    def test_admin_needs_key_not_bearer(self):
        for hdrs in ([], [("X-Admin-Key", "wrong")],
                     [("Authorization", f"Bearer {TOKEN}")]):
            with self.subTest(headers=hdrs):
                r = self.srv.raw_request("GET", "/__admin/health", headers=hdrs)
                self.assertEqual(r.status, 403)
        r = self.srv.raw_request("GET", "/__admin/health",
                                 headers=[("X-Admin-Key", self.srv.admin_key)])
        self.assertEqual((r.status, r.json), (200, {"ok": True}))

    def test_tokens_replaced_at_run_time_and_restored_by_reset(self):
        new = "dapi" + secrets.token_hex(16)
        self.srv.configure(tokens=[[new, "carol@example.com"]])
        self.assertEqual(self.api("GET", "clusters/list").status, 403)
        r = self.api("GET", "/api/2.0/preview/scim/v2/Me", token=new)
        self.assertEqual(r.json["userName"], "carol@example.com")
        self.srv.reset()
        self.assertEqual(self.api("GET", "clusters/list").status, 200)
        self.assertEqual(self.api("GET", "clusters/list", token=new).status, 403)


# --- clusters ------------------------------------------------------------------------

class ClustersTest(Base):
    def test_create_pending_then_running_on_both_versions(self):
        t0 = time.monotonic()
        ids = {v: self.create(version=v) for v in ("2.0", "2.1")}
        for version, cid in ids.items():
            with self.subTest(version=version):
                c = self.get(cid, version=version)
                self.assertEqual(c["state"], "PENDING")
                self.assertIn("Finding instances for new nodes", c["state_message"])
        for version, cid in ids.items():
            with self.subTest(version=version):
                c = self.wait_state(cid, "RUNNING")
                self.assertGreaterEqual(time.monotonic() - t0, PENDING - 0.05)
                self.assertEqual(c["state_message"], "")

    def test_cluster_object(self):
        self.fast()
        before = int(time.time() * 1000)
        cid = self.create(cluster_name="fields")
        c = self.wait_state(cid, "RUNNING")
        spec = seed_spec()
        for k in ("spark_version", "node_type_id", "num_workers", "spark_conf",
                  "custom_tags", "spark_env_vars", "azure_attributes",
                  "autotermination_minutes", "enable_elastic_disk", "runtime_engine"):
            self.assertEqual(c[k], spec[k], k)
        self.assertEqual(c["cluster_id"], cid)
        self.assertEqual(c["cluster_name"], "fields")
        self.assertEqual(c["cluster_source"], "API")
        self.assertEqual(c["creator_user_name"], "user@example.com")
        self.assertEqual(c["default_tags"]["ClusterId"], cid)
        self.assertEqual(c["default_tags"]["Creator"], "user@example.com")
        self.assertIsInstance(c["start_time"], int)
        self.assertLessEqual(before - 1000, c["start_time"])
        self.assertLessEqual(c["start_time"], int(time.time() * 1000))
        self.assertNotIn("terminated_time", c)
        self.assertNotIn("termination_reason", c)
        self.assertNotIn("idempotency_token", c)
        self.assertNotIn("autoscale", c)

    def test_autoscale_echoed(self):
        cid = self.create(num_workers=None, autoscale={"min_workers": 1, "max_workers": 3})
        c = self.get(cid)
        self.assertEqual(c["autoscale"], {"min_workers": 1, "max_workers": 3})
        self.assertNotIn("num_workers", c)

    def test_ids_unique_and_versions_share_clusters(self):
        ids = {self.create(version=v) for v in ("2.0", "2.1") * 4}
        self.assertEqual(len(ids), 8)
        for cid in ids:
            self.assertEqual(self.get(cid, version="2.0")["cluster_id"], cid)
            self.assertEqual(self.get(cid, version="2.1")["cluster_id"], cid)

    def test_list(self):
        r = self.api("GET", "clusters/list")
        self.assertEqual((r.status, r.json), (200, {}))  # the service omits empty lists
        ids = [self.create(cluster_name=f"c{i}") for i in range(3)]
        for version in ("2.0", "2.1"):
            r = self.api("GET", "clusters/list", version=version)
            self.assertEqual(sorted(c["cluster_id"] for c in r.json["clusters"]), sorted(ids))
            self.assertNotIn("next_page_token", r.json)
        r = self.api("GET", "clusters/list?page_size=2")
        self.assertEqual(len(r.json["clusters"]), 2)
        r2 = self.api("GET", "clusters/list?page_size=2&page_token="
                      + r.json["next_page_token"])
        self.assertEqual(len(r2.json["clusters"]), 1)
        self.assertNotIn("next_page_token", r2.json)
        self.assertIn("prev_page_token", r2.json)
        seen = [c["cluster_id"] for c in r.json["clusters"] + r2.json["clusters"]]
        self.assertEqual(sorted(seen), sorted(ids))
        self.assert_error(self.api("GET", "clusters/list?page_token=garbage"),
                          400, "INVALID_PARAMETER_VALUE", "page_token")
        self.assert_error(self.api("GET", "clusters/list?page_size=x"),
                          400, "INVALID_PARAMETER_VALUE", "page_size")

    def test_delete_terminates(self):
        self.srv.configure(pending_seconds=0.05)
        cid = self.create()
        self.wait_state(cid, "RUNNING")
        r = self.api("POST", "clusters/delete", {"cluster_id": cid})
        self.assertEqual((r.status, r.json), (200, {}))
        self.assertEqual(self.get(cid)["state"], "TERMINATING")
        c = self.wait_state(cid, "TERMINATED")
        self.assertEqual(c["termination_reason"]["code"], "USER_REQUEST")
        self.assertEqual(c["termination_reason"]["type"], "SUCCESS")
        self.assertEqual(c["termination_reason"]["parameters"]["username"],
                         "user@example.com")
        self.assertIsInstance(c["terminated_time"], int)
        self.assertGreaterEqual(c["terminated_time"], c["start_time"])

    def test_delete_pending_and_no_op_when_terminating_or_terminated(self):
        cid = self.create()
        self.assertEqual(self.get(cid)["state"], "PENDING")
        self.api("POST", "clusters/delete", {"cluster_id": cid})
        self.assertEqual(self.get(cid)["state"], "TERMINATING")
        r = self.api("POST", "clusters/delete", {"cluster_id": cid}, version="2.0")
        self.assertEqual((r.status, r.json), (200, {}))
        ended = self.wait_state(cid, "TERMINATED")["terminated_time"]
        r = self.api("POST", "clusters/delete", {"cluster_id": cid})
        self.assertEqual((r.status, r.json), (200, {}))
        c = self.get(cid)
        self.assertEqual((c["state"], c["terminated_time"]), ("TERMINATED", ended))

    def test_terminated_clusters_listed_after_active_ones(self):
        self.fast()
        old = self.create()
        self.api("POST", "clusters/delete", {"cluster_id": old})
        self.wait_state(old, "TERMINATED")
        new = self.create()
        r = self.api("GET", "clusters/list")
        self.assertEqual([c["cluster_id"] for c in r.json["clusters"]], [new, old])

    def test_unknown_cluster_id_is_400(self):
        for method, path, body in (("GET", "clusters/get?cluster_id=0101-000000-nope0000",
                                    None),
                                   ("POST", "clusters/delete",
                                    {"cluster_id": "0101-000000-nope0000"})):
            with self.subTest(method=method):
                r = self.api(method, path, body)
                self.assert_error(r, 400, "INVALID_PARAMETER_VALUE",
                                  "Cluster 0101-000000-nope0000 does not exist")
        self.assert_error(self.api("GET", "clusters/get"), 400,
                          "INVALID_PARAMETER_VALUE", "cluster_id")
        self.assert_error(self.api("POST", "clusters/delete", {}), 400,
                          "INVALID_PARAMETER_VALUE", "cluster_id")
        self.assert_error(self.api("POST", "clusters/delete", {"cluster_id": 5}), 400,
                          "INVALID_PARAMETER_VALUE", "cluster_id")

    def test_unknown_endpoint_is_404(self):
        for path, shown in (("/api/2.1/clusters/frobnicate", "GET /clusters/frobnicate"),
                            ("/api/2.0/jobs/list", "GET /jobs/list"),
                            ("/api/3.0/clusters/list", "GET /api/3.0/clusters/list"),
                            ("/api/2.1/preview/scim/v2/Me", "GET /preview/scim/v2/Me")):
            with self.subTest(path=path):
                r = self.api("GET", path)
                self.assert_error(r, 404, "ENDPOINT_NOT_FOUND", f"No API found for '{shown}'")

    def test_wrong_method_is_404_like_the_service(self):
        for method, path in (("GET", "clusters/create"), ("POST", "clusters/get"),
                             ("DELETE", "clusters/list"), ("GET", "clusters/delete"),
                             ("POST", "/api/2.0/preview/scim/v2/Me")):
            with self.subTest(method=method, path=path):
                r = self.api(method, path, {} if method == "POST" else None)
                name = path.replace("/api/2.0", "") if path.startswith("/") else "/" + path
                self.assert_error(r, 404, "ENDPOINT_NOT_FOUND",
                                  f"No API found for '{method} {name}'")

    def test_response_headers(self):
        ok = self.api("GET", "clusters/list")
        bad = self.api("GET", "clusters/get?cluster_id=x")
        for r in (ok, bad):
            self.assertEqual(r.headers["Content-Type"], "application/json")
            self.assertRegex(r.headers["x-request-id"], UUID_RE)
            self.assertEqual(r.headers["x-databricks-org-id"], workspace.DEFAULT_ORG_ID)
        self.assertNotEqual(ok.headers["x-request-id"], bad.headers["x-request-id"])
        self.assertEqual(bad.json["details"][0]["request_id"], bad.headers["x-request-id"])

    def test_malformed_json_is_400(self):
        for raw in (b"{", b"{'a': 1}", b"[1, 2]", b"\"text\"", b"{\"a\": NaN}", b"\xff\xfe"):
            with self.subTest(raw=raw):
                r = self.api("POST", "clusters/create", raw=raw)
                self.assert_error(r, 400, "MALFORMED_REQUEST", "Invalid JSON")
        r = self.api("POST", "clusters/delete", raw=b"{nope")
        self.assert_error(r, 400, "MALFORMED_REQUEST")


# --- idempotency -----------------------------------------------------------------------

class IdempotencyTest(Base):
    def test_same_token_gives_one_cluster(self):
        a = self.create(idempotency_token="tok-1")
        b = self.create(idempotency_token="tok-1", version="2.0")
        c = self.create(idempotency_token="tok-2")
        self.assertEqual(a, b)
        self.assertNotEqual(a, c)
        clusters = {x["cluster_id"]: x for x in self.srv.clusters()}
        self.assertEqual(len(clusters), 2)
        self.assertEqual(clusters[a]["idempotency_token"], "tok-1")

    def test_no_token_means_new_clusters(self):
        self.assertNotEqual(self.create(), self.create())

    def test_token_held_while_terminating_cleared_when_terminated(self):
        a = self.create(idempotency_token="tok-t")
        self.api("POST", "clusters/delete", {"cluster_id": a})
        self.assertEqual(self.get(a)["state"], "TERMINATING")
        self.assertEqual(self.create(idempotency_token="tok-t"), a)
        self.wait_state(a, "TERMINATED")
        self.assertIsNone({x["cluster_id"]: x for x in self.srv.clusters()}[a]
                          ["idempotency_token"])
        b = self.create(idempotency_token="tok-t")
        self.assertNotEqual(a, b)
        self.assertEqual(self.create(idempotency_token="tok-t"), b)
        self.assertEqual(len(self.srv.clusters()), 2)


# --- validation ------------------------------------------------------------------------

class ValidationTest(Base):
    def tearDown(self):
        # nothing rejected may have made a cluster
        self.assertTrue(all(c["cluster_name"].startswith("ok")
                            for c in self.srv.clusters()))

    def test_spark_version_required(self):
        self.assert_invalid(seed_spec(spark_version=None), "spark_version")
        self.assert_invalid(seed_spec(spark_version=""), "spark_version")

    def test_node_type_unless_pool_or_policy(self):
        self.assert_invalid(seed_spec(node_type_id=None), "node_type_id")
        self.create(node_type_id=None, instance_pool_id="pool-1", cluster_name="ok1")
        self.create(node_type_id=None, policy_id="ABC123", cluster_name="ok2")

    def test_exactly_one_of_num_workers_and_autoscale(self):
        both = seed_spec(autoscale={"min_workers": 1, "max_workers": 2})
        r = self.api("POST", "clusters/create", both)
        self.assert_error(r, 400, "INVALID_PARAMETER_VALUE", "num_workers")
        self.assertIn("autoscale", r.json["message"])
        self.assert_invalid(seed_spec(num_workers=None), "num_workers")
        self.assert_invalid(seed_spec(num_workers=-1), "num_workers")
        for auto, field in (({"min_workers": 2, "max_workers": 2}, "autoscale.max_workers"),
                            ({"min_workers": 3, "max_workers": 2}, "autoscale.max_workers"),
                            ({"max_workers": 2}, "autoscale.min_workers"),
                            ({"min_workers": 1}, "autoscale.max_workers"),
                            ({"min_workers": -1, "max_workers": 2}, "autoscale.min_workers")):
            with self.subTest(autoscale=auto):
                self.assert_invalid(seed_spec(num_workers=None, autoscale=auto), field)
        self.create(num_workers=None, autoscale={"min_workers": 0, "max_workers": 1},
                    cluster_name="ok-auto")
        self.create(num_workers=4, cluster_name="ok-4")

    def test_json_types(self):
        cases = [
            ("cluster_name", 5), ("spark_version", ["10.4"]), ("node_type_id", True),
            ("num_workers", "2"), ("num_workers", True), ("num_workers", 1.5),
            ("autotermination_minutes", "10"), ("enable_elastic_disk", "true"),
            ("is_single_node", 1), ("spark_conf", ["a"]), ("custom_tags", "x"),
            ("spark_env_vars", {"A": 1}), ("ssh_public_keys", "ssh-ed25519 AAAA"),
            ("ssh_public_keys", [1]), ("init_scripts", {"dbfs": {}}), ("init_scripts", ["x"]),
            ("azure_attributes", "x"), ("docker_image", "img"), ("autoscale", [1, 2]),
            ("idempotency_token", 5), ("runtime_engine", 1), ("policy_id", {}),
            ("workload_type", []), ("total_initial_remote_disk_size", "1"),
        ]
        for field, value in cases:
            with self.subTest(field=field, value=value):
                self.assert_invalid(seed_spec(**{field: value}), field)
        r = self.api("POST", "clusters/create", seed_spec(spark_conf={"spark.x": 1}))
        self.assert_error(r, 400, "INVALID_PARAMETER_VALUE", "spark_conf.spark.x")
        cid = self.create(num_workers=2.0, autotermination_minutes=20.0,
                          cluster_name="ok-integral-number")
        c = self.get(cid)
        self.assertEqual(json.dumps([c["num_workers"], c["autotermination_minutes"]]),
                         "[2, 20]")

    def test_enums(self):
        for field, bad in (("runtime_engine", "TURBO"), ("data_security_mode", "OPEN"),
                           ("kind", "CLASSIC")):
            with self.subTest(field=field):
                self.assert_invalid(seed_spec(**{field: bad}), field)
        self.assert_invalid(seed_spec(azure_attributes={"availability": "SPOT"}),
                            "azure_attributes.availability")
        for field, values in (("runtime_engine", ("NULL", "STANDARD", "PHOTON")),
                              ("data_security_mode", ("NONE", "SINGLE_USER",
                                                      "DATA_SECURITY_MODE_AUTO")),
                              ("kind", ("CLASSIC_PREVIEW",))):
            for v in values:
                self.create(**{field: v, "cluster_name": f"ok-{v}"})
        for v in ("SPOT_AZURE", "ON_DEMAND_AZURE", "SPOT_WITH_FALLBACK_AZURE"):
            self.create(azure_attributes={"availability": v}, cluster_name=f"ok-{v}")

    def test_autotermination_minutes(self):
        for bad in (1, 9, 10001, -1):
            with self.subTest(minutes=bad):
                self.assert_invalid(seed_spec(autotermination_minutes=bad),
                                    "autotermination_minutes")
        for good in (0, 10, 120, 10000):
            self.create(autotermination_minutes=good, cluster_name=f"ok-{good}")

    def test_idempotency_token_length(self):
        self.assert_invalid(seed_spec(idempotency_token="x" * 65), "idempotency_token")
        self.create(idempotency_token="x" * 64, cluster_name="ok-64")

    def test_tag_and_key_limits(self):
        tags = {f"k{i}": "v" for i in range(46)}
        self.assert_invalid(seed_spec(custom_tags=tags), "custom_tags")
        self.assert_invalid(seed_spec(ssh_public_keys=["k"] * 11), "ssh_public_keys")
        tags.pop("k0")
        self.create(custom_tags=tags, ssh_public_keys=["k"] * 10, cluster_name="ok-limits")

    def test_unknown_fields_and_nulls_accepted(self):
        cid = self.create(frobnicate={"x": 1}, cluster_name="ok-unknown")
        self.assertNotIn("frobnicate", self.get(cid))
        spec = seed_spec(cluster_name="ok-null")
        spec["policy_id"] = None
        r = self.api("POST", "clusters/create", spec)
        self.assertEqual(r.status, 200, r.raw)

    def test_empty_body_names_spark_version(self):
        r = self.api("POST", "clusters/create", raw=b"")
        self.assert_error(r, 400, "INVALID_PARAMETER_VALUE", "spark_version")


# --- faults ----------------------------------------------------------------------------

class FaultsTest(Base):
    def test_429_with_retry_after(self):
        self.srv.add_fault("429", "clusters/create", retry_after=3)
        r = self.api("POST", "clusters/create", seed_spec())
        self.assert_error(r, 429, "REQUEST_LIMIT_EXCEEDED")
        self.assertEqual(r.headers["Retry-After"], "3")
        self.assertEqual(self.srv.clusters(), [])
        self.create()  # the fault is used up
        self.assertEqual(len(self.srv.clusters()), 1)

    def test_429_default_retry_after_and_none(self):
        self.srv.add_faults({"kind": 429, "path": "clusters/list"},
                            {"kind": "429", "path": "clusters/list", "retry_after": None})
        r = self.api("GET", "clusters/list")
        self.assertEqual((r.status, r.headers["Retry-After"]), (429, "1"))
        r = self.api("GET", "clusters/list")
        self.assertEqual(r.status, 429)
        self.assertNotIn("Retry-After", r.headers)

    def test_503_with_and_without_retry_after(self):
        self.srv.add_fault("503", "clusters/get")
        self.srv.add_fault("503", "clusters/get", retry_after=2)
        r = self.api("GET", "clusters/get?cluster_id=x")
        self.assert_error(r, 503, "TEMPORARILY_UNAVAILABLE")
        self.assertNotIn("Retry-After", r.headers)
        r = self.api("GET", "clusters/get?cluster_id=x")
        self.assert_error(r, 503, "TEMPORARILY_UNAVAILABLE")
        self.assertEqual(r.headers["Retry-After"], "2")

    def test_500(self):
        self.srv.add_fault("500", "clusters/create")
        self.assert_error(self.api("POST", "clusters/create", seed_spec()),
                          500, "INTERNAL_ERROR")
        self.assertEqual(self.srv.clusters(), [])

    def test_transient(self):
        self.srv.add_fault("transient", "clusters/create")
        r = self.api("POST", "clusters/create", seed_spec())
        self.assert_error(r, 400, "INVALID_STATE", "worker environment")

    def test_html_502(self):
        self.srv.add_fault("html_502", "clusters/list")
        r = self.api("GET", "clusters/list")
        self.assertEqual(r.status, 502)
        self.assertEqual(r.headers["Content-Type"], "text/html")
        self.assertIn(b"502 Bad Gateway", r.raw)
        self.assertIsNone(r.json)

    def test_any_error_and_message_override(self):
        self.srv.add_fault("error", "clusters/list", status=504,
                           error_code="DEADLINE_EXCEEDED", message="too slow")
        self.srv.add_fault("500", "clusters/list", message="custom")
        self.assert_error(self.api("GET", "clusters/list"), 504, "DEADLINE_EXCEEDED",
                          "too slow")
        self.assert_error(self.api("GET", "clusters/list"), 500, "INTERNAL_ERROR", "custom")

    def test_huge(self):
        self.srv.add_faults({"kind": "huge", "path": "clusters/list"},
                            {"kind": "huge", "path": "clusters/list", "status": 500,
                             "bytes": 100000, "chunked": True})
        r = self.api("GET", "clusters/list")
        self.assertEqual(r.status, 200)
        self.assertEqual(int(r.headers["Content-Length"]), workspace.HUGE_BYTES)
        self.assertEqual(len(r.raw), workspace.HUGE_BYTES)
        self.assertEqual(len(r.json["padding"]), workspace.HUGE_BYTES - 15)
        r = self.api("GET", "clusters/list")
        self.assertEqual(r.status, 500)
        self.assertIsNone(r.headers["Content-Length"])
        self.assertEqual(r.headers["Transfer-Encoding"], "chunked")
        self.assertEqual(len(r.raw), 100000)
        self.assertEqual(self.srv.requests("clusters/list")[-1]["fault"], "huge")
        self.assertEqual(self.api("GET", "clusters/list").status, 200)

    def test_endless_pages(self):
        self.srv.add_fault("endless_pages", "jobs/list", count=3, field="jobs", bytes=1000)
        tokens = []
        for _ in range(3):
            r = self.api("GET", "/api/2.2/jobs/list")
            self.assertEqual(r.status, 200)
            self.assertEqual(r.json["jobs"], [{"padding": "x" * 1000}])
            tokens.append(r.json["next_page_token"])
        self.assertEqual(len(set(tokens)), 3)
        self.assertEqual(self.srv.faults(), [])
        self.assertNotIn("padding", self.api("GET", "/api/2.2/jobs/list").raw.decode())
        for bad in ({"field": "jobs"}, {"bytes": 10}, {"field": "", "bytes": 10},
                    {"field": "jobs", "bytes": 0}):
            with self.subTest(fault=bad):
                with self.assertRaises(workspace.AdminError):
                    self.srv.add_fault("endless_pages", "jobs/list", **bad)

    def test_slow(self):
        self.srv.add_fault("slow", "clusters/list", seconds=0.2)
        t0 = time.monotonic()
        r = self.api("GET", "clusters/list")
        self.assertEqual(r.status, 200)
        self.assertGreaterEqual(time.monotonic() - t0, 0.2)

    def test_reset_before_processing(self):
        self.srv.add_fault("reset", "clusters/create")
        with self.assertRaises((OSError, http.client.HTTPException)):
            self.api("POST", "clusters/create", seed_spec(idempotency_token="r1"))
        self.assertEqual(self.srv.clusters(), [])
        rec = self.srv.requests("clusters/create")[-1]
        self.assertEqual((rec["status"], rec["reset"], rec["fault"]), (None, True, "reset"))
        self.create(idempotency_token="r1")

    def test_reset_after_create(self):
        self.srv.add_fault("reset_after_create", "clusters/create")
        with self.assertRaises((OSError, http.client.HTTPException)):
            self.api("POST", "clusters/create", seed_spec(idempotency_token="r2"))
        clusters = self.srv.clusters()
        self.assertEqual(len(clusters), 1)
        self.assertEqual(clusters[0]["idempotency_token"], "r2")
        # the retry with the same token finds it: still exactly one cluster
        self.assertEqual(self.create(idempotency_token="r2"), clusters[0]["cluster_id"])
        self.assertEqual(len(self.srv.clusters()), 1)
        rec = self.srv.requests("clusters/create")[0]
        self.assertEqual((rec["status"], rec["reset"]), (None, True))

    def test_path_method_and_count_matching(self):
        self.srv.add_fault("500", "clusters/get", method="get", count=2)
        self.assertEqual(self.api("GET", "clusters/list").status, 200)
        self.assertEqual(self.api("POST", "clusters/get", {}).status, 404)
        self.assertEqual(self.api("GET", "clusters/get?cluster_id=x", version="2.0").status,
                         500)
        self.assertEqual(self.api("GET", "clusters/get?cluster_id=x").status, 500)
        self.assertEqual(self.api("GET", "clusters/get?cluster_id=x").status, 400)
        self.assertEqual(self.srv.faults(), [])

    def test_unlimited_until_cleared(self):
        self.srv.add_fault("503", "", count=-1)
        for path in ("clusters/list", "/api/2.0/preview/scim/v2/Me", "clusters/list"):
            self.assertEqual(self.api("GET", path).status, 503)
        self.assertEqual(len(self.srv.faults()), 1)
        self.srv.clear_faults()
        self.assertEqual(self.api("GET", "clusters/list").status, 200)

    def test_queue_order_and_pass(self):
        self.srv.add_faults({"kind": "pass", "path": "clusters/create"},
                            {"kind": "500", "path": "clusters/create"})
        self.create()
        self.assertEqual(self.api("POST", "clusters/create", seed_spec()).status, 500)
        self.create()

    def test_faults_come_before_auth_and_spare_admin(self):
        self.srv.add_fault("429", "", count=-1)
        self.assertEqual(self.api("GET", "clusters/list", token=None).status, 429)
        self.assertEqual(self.srv.admin("GET", "health"), {"ok": True})

    def test_bad_fault_rejected(self):
        for bad in ({"kind": "boom"}, {"kind": "429", "count": 0}, {"kind": "slow",
                    "seconds": "1"}, {"kind": "error"}, {"kind": "500", "pth": "x"},
                    {"kind": "huge", "bytes": 1}, {"kind": "huge", "status": 99}, [1]):
            with self.subTest(fault=bad):
                with self.assertRaises(workspace.AdminError):
                    self.srv.admin("POST", "faults", bad)
        self.assertEqual(self.srv.faults(), [])


# --- outcomes --------------------------------------------------------------------------

class OutcomeTest(Base):
    def test_name_marker_error(self):
        self.srv.configure(pending_seconds=0.15)
        cid = self.create(cluster_name="x double:error", idempotency_token="e1")
        self.assertEqual(self.get(cid)["state"], "PENDING")
        c = self.wait_state(cid, "ERROR")
        self.assertEqual(c["termination_reason"]["type"], "SERVICE_FAULT")
        self.assertTrue(c["termination_reason"]["code"])
        self.assertIsInstance(c["termination_reason"]["parameters"], dict)
        self.assertTrue(c["state_message"])
        self.assertEqual(self.create(idempotency_token="e1"), cid)  # not TERMINATED

    def test_name_marker_terminated(self):
        self.srv.configure(pending_seconds=0.05)
        cid = self.create(cluster_name="Double:Terminated", idempotency_token="t1")
        c = self.wait_state(cid, "TERMINATING")
        self.assertEqual(c["termination_reason"]["type"], "CLOUD_FAILURE")
        c = self.wait_state(cid, "TERMINATED")
        self.assertEqual(c["termination_reason"]["type"], "CLOUD_FAILURE")
        self.assertTrue(c["state_message"])
        self.assertIn("terminated_time", c)
        self.assertNotEqual(self.create(idempotency_token="t1"), cid)

    def test_next_outcome_from_admin(self):
        reason = {"code": "INSTANCE_UNREACHABLE", "type": "CLIENT_ERROR",
                  "parameters": {"instance_id": "i-1"}}
        self.srv.configure(next_outcome="TERMINATED", termination_reason=reason,
                           state_message="boom", pending_seconds=0.05,
                           terminating_seconds=0.05)
        self.assertEqual(self.srv.admin("GET", "config")["next"]["next_outcome"],
                         "TERMINATED")
        failed = self.create()
        fine = self.create()  # the override is used up
        c = self.wait_state(failed, "TERMINATED")
        self.assertEqual((c["termination_reason"], c["state_message"]), (reason, "boom"))
        self.assertEqual(self.wait_state(fine, "RUNNING")["state_message"], "")

    def test_next_outcome_error_default_reason(self):
        self.srv.configure(next_outcome="ERROR", pending_seconds=0)
        c = self.get(self.create())
        self.assertEqual(c["state"], "ERROR")
        self.assertIn(c["termination_reason"]["type"],
                      ("CLIENT_ERROR", "SERVICE_FAULT", "CLOUD_FAILURE"))

    def test_pending_seconds_applies_to_new_clusters(self):
        slow = self.create()
        self.srv.configure(pending_seconds=0)
        self.assertEqual(self.get(self.create())["state"], "RUNNING")
        self.assertEqual(self.get(slow)["state"], "PENDING")

    def test_bad_config_rejected(self):
        for conf in ({"next_outcome": "EXPLODED"}, {"pending_seconds": -1},
                     {"next_outcome": "ERROR", "termination_reason": {"code": "X",
                                                                      "type": "BAD"}},
                     {"frob": 1}, {"tokens": "x"}):
            with self.subTest(conf=conf):
                with self.assertRaises(workspace.AdminError):
                    self.srv.admin("POST", "config", conf)


# --- request recording -----------------------------------------------------------------

class RecordingTest(Base):
    def test_requests_recorded(self):
        spec = seed_spec(idempotency_token="rec")
        r = self.api("POST", "clusters/create", spec)
        cid = r.json["cluster_id"]
        g = self.api("GET", f"clusters/get?cluster_id={cid}", version="2.0")
        self.api("GET", "clusters/list", token="dapi-wrong")
        self.srv.clusters()  # admin calls are not recorded
        recs = self.srv.requests()
        self.assertEqual([x["seq"] for x in recs], sorted(x["seq"] for x in recs))
        self.assertEqual([(x["method"], x["path"], x["status"]) for x in recs], [
            ("POST", "/api/2.1/clusters/create", 200),
            ("GET", "/api/2.0/clusters/get", 200),
            ("GET", "/api/2.1/clusters/list", 403)])
        create, get, bad = recs
        self.assertEqual(create["json"], spec)
        self.assertEqual(json.loads(create["body"]), spec)
        self.assertEqual(create["request_id"], r.headers["x-request-id"])
        self.assertEqual(get["query"], {"cluster_id": cid})
        self.assertEqual(get["target"], f"/api/2.0/clusters/get?cluster_id={cid}")
        self.assertIsNone(get["json"])
        for rec, tok in ((create, TOKEN), (get, TOKEN), (bad, "dapi-wrong")):
            auth = [v for k, v in rec["headers"] if k.lower() == "authorization"]
            self.assertEqual(auth, [f"Bearer {tok}"])
        self.assertEqual(get["request_id"], g.headers["x-request-id"])
        self.assertLessEqual(create["time"], time.time())
        self.assertEqual(self.srv.requests(path="clusters/get"), [get])
        self.assertEqual(self.srv.requests(since=get["seq"]), [bad])
        self.srv.clear_requests()
        self.assertEqual(self.srv.requests(), [])

    def test_fault_and_unauthenticated_recorded(self):
        self.srv.add_fault("429", "clusters/list")
        self.api("GET", "clusters/list")
        self.api("GET", "clusters/list", token=None)
        a, b = self.srv.requests()
        self.assertEqual((a["status"], a["fault"]), (429, "429"))
        self.assertEqual((b["status"], b["fault"]), (401, None))
        self.assertEqual([k for k, _ in b["headers"] if k.lower() == "authorization"], [])


# --- the process -----------------------------------------------------------------------

class ProcessTest(unittest.TestCase):
    def test_verbose_log_never_shows_a_token_and_sigterm_exits_0(self):
        srv = workspace.start_workspace(TMP, [TOKEN, (TOKEN2, USER2)], verbose=True)
        try:
            with open(f"/proc/{srv.proc.pid}/cmdline", "rb") as f:
                cmdline = f.read()
            self.assertNotIn(TOKEN.encode(), cmdline)
            self.assertNotIn(TOKEN2.encode(), cmdline)
            srv.call("GET", "/api/2.1/clusters/list", token=TOKEN)
            srv.call("GET", "/api/2.1/clusters/list", token=TOKEN2 + "x")
            srv.call("GET", f"/api/2.0/{TOKEN}", token=TOKEN)
            srv.call("GET", f"/api/2.1/clusters/get?cluster_id={TOKEN}", token=TOKEN)
            srv.call("POST", "/api/2.1/clusters/create", seed_spec(cluster_name=TOKEN),
                     token=TOKEN)
        finally:
            self.assertEqual(srv.stop(), 0)
        err = srv.stderr_text()
        self.assertIn("GET /api/2.1/clusters/list 200", err)
        self.assertIn("GET /api/2.1/clusters/list 403", err)
        for tok in (TOKEN, TOKEN2, TOKEN[4:], TOKEN2[4:]):
            self.assertNotIn(tok, err)

    def test_quiet_by_default(self):
        WS.call("GET", "/api/2.1/clusters/list", token=TOKEN)
        WS.call("GET", "/api/2.1/clusters/list", token="dapi-wrong")
        self.assertEqual(WS.stderr_text(), "")

    def test_plain_mode_token_from_environment_open_admin(self):
        srv = workspace.start_workspace(TMP, [TOKEN, (TOKEN2, USER2)], plain=True,
                                        token_via="env", admin_key=None)
        try:
            self.assertTrue(srv.url.startswith("http://"))
            self.assertFalse(os.path.exists(os.path.join(srv.dir, "tokens")))
            r = srv.call("GET", "/api/2.0/preview/scim/v2/Me", token=TOKEN2)
            self.assertEqual((r.status, r.json["userName"]), (200, USER2))
            self.assertEqual(srv.call("GET", "/api/2.0/clusters/list", token=TOKEN).status,
                             200)
            self.assertEqual(srv.admin("GET", "health"), {"ok": True})
            # a TCP reset, seen as such without TLS in between
            srv.add_fault("reset", "clusters/list")
            with self.assertRaises(ConnectionResetError):
                srv.call("GET", "/api/2.1/clusters/list", token=TOKEN)
            self.assertEqual(srv.call("GET", "/api/2.1/clusters/list", token=TOKEN).status,
                             200)
        finally:
            self.assertEqual(srv.stop(), 0)

    def test_refusals(self):
        tok_file = os.path.join(TMP, "refusal-tokens")
        with open(tok_file, "w") as f:
            f.write(TOKEN + "\n")
        cases = (["--plain", "--bind", "0.0.0.0", "--token-file", tok_file],
                 ["--plain", "--log", os.path.join(TMP, "log"), "--token-file", tok_file],
                 ["--plain"])  # no token
        procs = [subprocess.Popen([sys.executable, os.path.join(HERE, "workspace.py"),
                                   *args], env={"PATH": "/usr/bin:/bin"}, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
                 for args in cases]  # in parallel: each costs a Python start
        for args, p in zip(cases, procs):
            with self.subTest(args=args):
                out = p.communicate(timeout=10)[0]
                self.assertNotEqual(p.returncode, 0)
                self.assertRegex(out, r"^(workspace|tlsserver): ")
                self.assertNotIn(TOKEN, out)
        self.assertFalse(os.path.exists(os.path.join(TMP, "log")))


if __name__ == "__main__":
    unittest.main(verbosity=2)
