"""Cross-check of the Vault double (tests/doubles/vault.py) with an
independent real client, Debian's python3-hvac 0.11.2: if hvac reads what
the double serves and raises the exceptions it raises against Vault, the
double speaks Vault's dialect. Also checks the raw envelope and headers.
Run with /usr/bin/python3."""
import json
import os
import shutil
import sys
import tempfile
import unittest
import warnings

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vault  # noqa: E402

try:
    import hvac
    import hvac.exceptions
except ImportError:  # pragma: no cover
    hvac = None

ROOT = "hvs.root" + "r" * 20
LIMITED = "hvs.limited" + "l" * 20
ROLE_ID = "role-1234"
SECRET_ID = "sid-" + "s" * 24
ENVELOPE_KEYS = ["request_id", "lease_id", "renewable", "lease_duration", "data",
                 "wrap_info", "warnings", "auth"]


@unittest.skipIf(hvac is None, "python3-hvac is not installed")
class VaultDoubleTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="dbr-vault-double-")
        cls.v = vault.start_vault(
            cls.tmp,
            tokens={ROOT: {}, LIMITED: {"allow": ["secret/data/app"], "policies": ["app"]}},
            secrets_={"secret/app": [{"token": "one"}, {"token": "two"}],
                      "secret/other": {"token": "x"},
                      "kv/app": {"token": "v1tok", "ttl": "60"},
                      "ns1/secret/app": {"token": "nstok"}},
            mounts={"secret/": {"version": 2}, "kv/": {"version": 1},
                    "ns1/secret/": {"version": 2}},
            approles={ROLE_ID: {"secret_id": SECRET_ID, "policies": ["app"],
                                "allow": ["secret/data/app"]}})

    @classmethod
    def tearDownClass(cls):
        cls.v.stop()
        shutil.rmtree(cls.tmp)

    def setUp(self):
        # hvac's requests sessions are never closed: not the double's concern
        warnings.simplefilter("ignore", ResourceWarning)
        self.v.reset()

    def client(self, token=ROOT, namespace=None):
        return hvac.Client(url=self.v.url, token=token, verify=self.v.ca_file,
                           namespace=namespace)

    def test_v2_latest_and_pinned(self):
        c = self.client()
        r = c.secrets.kv.v2.read_secret_version(path="app", mount_point="secret")
        self.assertEqual(r["data"]["data"], {"token": "two"})
        self.assertEqual(r["data"]["metadata"]["version"], 2)
        r = c.secrets.kv.v2.read_secret_version(path="app", mount_point="secret", version=1)
        self.assertEqual(r["data"]["data"], {"token": "one"})
        self.assertEqual(list(r.keys()), ENVELOPE_KEYS)

    def test_v1(self):
        r = self.client().secrets.kv.v1.read_secret(path="app", mount_point="kv")
        self.assertEqual(r["data"], {"token": "v1tok", "ttl": "60"})
        self.assertEqual(r["lease_duration"], 60)
        self.assertEqual(r["lease_id"], "")

    def test_missing_is_invalid_path(self):
        with self.assertRaises(hvac.exceptions.InvalidPath):
            self.client().secrets.kv.v2.read_secret_version(path="nope", mount_point="secret")
        with self.assertRaises(hvac.exceptions.InvalidPath):
            self.client().secrets.kv.v2.read_secret_version(path="app", mount_point="secret",
                                                             version=9)

    def test_deleted_and_destroyed(self):
        self.v.delete_versions("secret/app", [2])
        self.v.destroy_versions("secret/app", [1])
        for n, field in ((2, "deletion_time"), (1, "destroyed")):
            r = self.v.vcall("GET", f"secret/data/app?version={n}", ROOT)
            self.assertEqual(r.status, 404)
            self.assertEqual(list(r.json.keys()), ENVELOPE_KEYS)
            self.assertIsNone(r.json["data"]["data"])
            self.assertTrue(r.json["data"]["metadata"][field])
        with self.assertRaises(hvac.exceptions.InvalidPath):
            self.client().secrets.kv.v2.read_secret_version(path="app", mount_point="secret")

    def test_forbidden(self):
        with self.assertRaises(hvac.exceptions.Forbidden) as cm:
            self.client(LIMITED).secrets.kv.v2.read_secret_version(path="other",
                                                                    mount_point="secret")
        self.assertIn("permission denied", str(cm.exception))
        self.assertNotIn("invalid token", str(cm.exception))
        with self.assertRaises(hvac.exceptions.Forbidden) as cm:
            self.client("hvs.bogus" + "b" * 20).secrets.kv.v2.read_secret_version(
                path="app", mount_point="secret")
        self.assertIn("invalid token", str(cm.exception))
        r = self.client(LIMITED).secrets.kv.v2.read_secret_version(path="app",
                                                                    mount_point="secret")
        self.assertEqual(r["data"]["data"], {"token": "two"})

    def test_sealed_is_vault_down(self):
        self.v.add_fault("sealed", count=1)
        with self.assertRaises(hvac.exceptions.VaultDown):
            self.client().secrets.kv.v2.read_secret_version(path="app", mount_point="secret")

    def test_approle_login_lookup_and_revoke(self):
        c = hvac.Client(url=self.v.url, verify=self.v.ca_file)
        r = c.auth.approle.login(role_id=ROLE_ID, secret_id=SECRET_ID)
        tok = r["auth"]["client_token"]
        self.assertTrue(tok.startswith("hvs."))
        self.assertEqual(r["auth"]["policies"], ["app"])
        c.token = tok
        self.assertEqual(c.lookup_token()["data"]["id"], tok)
        with self.assertRaises(hvac.exceptions.InvalidRequest) as cm:
            c.auth.approle.login(role_id=ROLE_ID, secret_id="wrong")
        self.assertIn("invalid role or secret ID", str(cm.exception))
        r = self.v.vcall("POST", "auth/token/revoke-self", tok)
        self.assertEqual(r.status, 204)
        self.assertEqual(len(self.v.revoked()), 1)
        with self.assertRaises(hvac.exceptions.Forbidden):
            c.lookup_token()

    def test_namespace(self):
        r = self.client(namespace="ns1").secrets.kv.v2.read_secret_version(
            path="app", mount_point="secret")
        self.assertEqual(r["data"]["data"], {"token": "nstok"})
        hdrs = self.v.requests(path="secret/data/app")[-1]["headers"]
        self.assertIn(["X-Vault-Namespace", "ns1"], hdrs)

    def test_preflight_and_headers(self):
        r = self.v.vcall("GET", "sys/internal/ui/mounts/secret/app", ROOT)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json["data"]["options"], {"version": "2"})
        self.assertEqual(r.json["data"]["path"], "secret/")
        self.assertEqual(r.headers["Content-Type"], "application/json")
        self.assertEqual(r.headers["Cache-Control"], "no-store")
        self.assertTrue(r.body.endswith(b"\n"))
        r = self.v.vcall("GET", "sys/internal/ui/mounts/kv/app", ROOT)
        self.assertIsNone(r.json["data"]["options"])
        r = self.v.vcall("GET", "sys/internal/ui/mounts/kv/app", LIMITED)
        self.assertEqual(r.status, 403)
        r = self.v.vcall("GET", "secret/app", ROOT)  # v1 path on v2 mount
        self.assertEqual(r.status, 404)
        self.assertIn("Invalid path for a versioned K/V", r.json["warnings"][0])
        r = self.v.vcall("GET", "secret/data/nope", ROOT)
        self.assertEqual((r.status, r.json), (404, {"errors": []}))

    def test_huge(self):
        self.v.add_fault("huge", count=1)
        self.v.add_fault("huge", status=503, bytes=4096, chunked=True, count=1)
        r = self.v.vcall("GET", "secret/data/app", ROOT)
        self.assertEqual((r.status, len(r.body)), (200, vault.HUGE_BYTES))
        self.assertEqual(r.headers["Content-Length"], str(vault.HUGE_BYTES))
        r = self.v.vcall("GET", "secret/data/app", ROOT)
        self.assertEqual((r.status, len(r.body)), (503, 4096))
        self.assertEqual(r.headers["Transfer-Encoding"], "chunked")
        self.assertEqual(len(json.loads(r.body)["padding"]), 4096 - 15)
        self.assertEqual([q["status"] for q in self.v.requests()], [200, 503])

    def test_retry_faults(self):
        self.v.add_fault("429", retry_after=1, count=1)
        r = self.v.vcall("GET", "secret/data/app", ROOT)
        self.assertEqual(r.status, 429)
        self.assertEqual(r.headers["Retry-After"], "1")
        self.assertIn("errors", json.loads(r.body))
        r = self.v.vcall("GET", "secret/data/app", ROOT)
        self.assertEqual(r.status, 200)


if __name__ == "__main__":
    unittest.main()
