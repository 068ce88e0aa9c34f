"""End-to-end tests of OAuth machine-to-machine sign-in (auth type
oauth-m2m, a service principal's client id and secret) against the local
HTTPS workspace double (tests/doubles/workspace_oauth.py) and the Vault
double: every source (environment, profile, Vault), choosing the auth type,
the discovery and token exchange on the wire, refresh during a wait longer
than the token's lifetime, one refresh after a 401, wrong secrets, hostile
or broken answers, and no client secret or access token in any output.
Run by ctest with DBROKER_BIN, DBR_SOURCE_DIR and DBR_BINARY_DIR set."""
import base64
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

sys.dont_write_bytecode = True
SRC = os.environ.get("DBR_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(SRC, "tests", "doubles"))
import vault  # noqa: E402
import workspace  # noqa: E402
from secret_forms import encodings  # noqa: E402

BIN = os.environ.get("DBROKER_BIN", "dbroker")
PLUGIN_DIR = os.path.join(os.environ.get("DBR_BINARY_DIR", os.path.dirname(os.path.dirname(
    os.path.abspath(BIN)))), "plugins")

PAT = "dapi" + secrets.token_hex(16)
CID = "3f0c1a2b-" + secrets.token_hex(2) + "-4000-8000-" + secrets.token_hex(6)
SECRET = "dose" + secrets.token_hex(16)
# an opaque secret of no known shape: only registration can mask it
OTHER_SECRET = "sp-secret-" + secrets.token_hex(12)
VAULT_ROOT = "hvs." + secrets.token_urlsafe(24)
SP_USER = "automation-sp"
DISCOVERY = "/oidc/.well-known/oauth-authorization-server"


def basic(cid, secret):
    return "Basic " + base64.b64encode(f"{cid}:{secret}".encode()).decode()


class OAuthTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="dbr-oauth-")
        cls.ws = workspace.start_workspace(cls.tmp, [(PAT, "me@example.com")],
                                           pending_seconds=0.3, terminating_seconds=0.3)
        cls.v = None

    @classmethod
    def tearDownClass(cls):
        cls.ws.stop()
        if cls.v:
            cls.v.stop()
        shutil.rmtree(cls.tmp)

    def setUp(self):
        self.ws.reset()
        self.oauth(clients=[{"client_id": CID, "client_secret": SECRET, "user": SP_USER},
                            {"client_id": "other-sp", "client_secret": OTHER_SECRET}])
        self.home = tempfile.mkdtemp(dir=self.tmp)

    def oauth(self, **conf):
        return self.ws.admin("POST", "oauth", conf)

    def minted(self):
        return self.ws.admin("GET", "oauth")

    def env(self, **extra):
        env = {"PATH": "/usr/bin:/bin", "HOME": self.home, "DBROKER_PLUGIN_DIR": self.home,
               "DATABRICKS_HOST": self.ws.url, "DATABRICKS_CLIENT_ID": CID,
               "DATABRICKS_CLIENT_SECRET": SECRET}
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            if k in os.environ:
                env[k] = os.environ[k]
        env.update(extra)
        return {k: v for k, v in env.items() if v is not None}

    def profile(self, keys, name="DEFAULT", mode=0o600):
        path = os.path.join(self.home, ".databrickscfg")
        with open(path, "a") as f:
            f.write(f"[{name}]\n" + "".join(f"{k} = {v}\n" for k, v in keys.items()))
        os.chmod(path, mode)
        return path

    def run_dbr(self, *args, env=None, chain="env", debug=True, timeout=120):
        cmd = [BIN, "--ca-cert", self.ws.ca_file] + (["--debug"] if debug else []) + \
            (["--chain", chain] if chain else []) + list(args)
        p = subprocess.run(cmd, env=env or self.env(), capture_output=True, text=True,
                           input="", timeout=timeout)
        self.assert_no_secret(p.stdout, p.stderr)
        return p

    def assert_no_secret(self, *texts):
        view = self.minted()
        for t in texts:
            for s in [PAT, SECRET, OTHER_SECRET, VAULT_ROOT] + view["access_tokens"]:
                for form in encodings(s):
                    self.assertNotIn(form, t)

    def describe(self, *extra, env=None, chain="env"):
        p = self.run_dbr("auth", "describe", "-o", "json", *extra, env=env, chain=chain)
        return p, json.loads(p.stdout) if p.stdout.strip() else None

    def api_requests(self):
        return [r for r in self.ws.requests() if r["path"].startswith("/api/")]

    # --- sources -------------------------------------------------------------------

    def test_env_describe_and_check(self):
        p, out = self.describe()
        self.assertEqual(p.returncode, 0, p.stderr)
        c = out["credential"]
        self.assertEqual((c["auth_type"], c["auth_type_origin"], c["source"]),
                         ("oauth-m2m", "env", "env"))
        self.assertEqual(c["client_id"], CID)
        self.assertRegex(c["client_secret_fingerprint"], r"^sha256:[0-9a-f]{8}$")
        self.assertNotIn("token_hint", c)
        self.assertEqual(self.ws.requests(), [])  # describe alone contacts nobody
        p, out = self.describe("--check")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(out["credential"]["user"], SP_USER)
        self.assertRegex(out["credential"]["access_token_expires"],
                         r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        # on the wire: discovery, then the exchange with Basic auth, then Bearer
        reqs = self.ws.requests()
        self.assertEqual([r["path"] for r in reqs],
                         [DISCOVERY, "/oidc/v1/token", "/api/2.0/preview/scim/v2/Me"])
        self.assertEqual(reqs[0]["method"], "GET")
        self.assertFalse([v for k, v in reqs[0]["headers"] if k.lower() == "authorization"])
        tok = reqs[1]
        self.assertEqual(tok["method"], "POST")
        self.assertEqual([v for k, v in tok["headers"] if k.lower() == "authorization"],
                         [basic(CID, SECRET)])
        self.assertEqual(dict(urllib.parse.parse_qsl(tok["body"])),
                         {"grant_type": "client_credentials", "scope": "all-apis"})
        self.assertIn(("Content-Type", "application/x-www-form-urlencoded"),
                      [tuple(h) for h in tok["headers"]])
        minted = self.minted()["access_tokens"]
        self.assertEqual(len(minted), 1)
        self.assertEqual([v for k, v in reqs[2]["headers"] if k.lower() == "authorization"],
                         ["Bearer " + minted[0]])

    def test_text_describe_never_advises_deleting_the_secret(self):
        path = self.profile({"host": self.ws.url, "client_id": CID, "client_secret": SECRET})
        p = self.run_dbr("auth", "describe", env=self.env(DATABRICKS_CLIENT_ID=None,
                                                          DATABRICKS_CLIENT_SECRET=None,
                                                          DATABRICKS_HOST=None),
                         chain="env,profile")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("auth type:  oauth-m2m (inferred: what provider 'profile' holds)",
                      p.stdout)
        self.assertIn(f"client id:  {CID} (from profile)", p.stdout)
        self.assertIn(f"plaintext client secret in '{path}' [DEFAULT]", p.stdout)
        self.assertNotIn("(good)", p.stdout)
        self.assertNotIn("does not use", p.stderr)
        self.assertIn("holds a plaintext OAuth client secret on disk", p.stderr)
        self.assertIn(f"login --oauth-m2m --client-id {CID} --remove-plaintext", p.stderr)

    def test_profile_source_lists_clusters(self):
        self.profile({"host": self.ws.url, "client_id": CID, "client_secret": SECRET})
        p = self.run_dbr("clusters", "list", env=self.env(DATABRICKS_CLIENT_ID=None,
                                                           DATABRICKS_CLIENT_SECRET=None),
                         chain="env,profile")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(len(self.minted()["minted"]), 1)

    def test_client_secret_stored_with_a_host_goes_only_there(self):
        # DATABRICKS_HOST naming another host is refused, and the message
        # speaks of the client secret and how to store one, not of a token
        other = "https://other.example.com"
        self.profile({"host": self.ws.url, "client_id": CID, "client_secret": SECRET})
        p = self.run_dbr("clusters", "list", env=self.env(
            DATABRICKS_CLIENT_ID=None, DATABRICKS_CLIENT_SECRET=None, DATABRICKS_HOST=other),
            chain="profile")
        self.assertEqual(p.returncode, 4, p.stderr)
        self.assertIn(f"DATABRICKS_HOST names '{other}', but the client secret from provider "
                      f"'profile' is stored for '{self.ws.url}' and goes to no other host",
                      p.stderr)
        self.assertIn(f"dbroker login --oauth-m2m --client-id {CID} --host {other}", p.stderr)
        self.assertNotIn("the token from provider", p.stderr)
        self.assertEqual(self.ws.requests(), [])

    def test_workspace_errors_are_shown(self):
        # the workspace's message is shown, masked with the access token
        # and the client secret, as it is for a personal access token
        p = self.run_dbr("clusters", "get", "1234-567890-nothere1")
        self.assertEqual(p.returncode, 6, p.stderr)
        self.assertIn("INVALID_PARAMETER_VALUE: Cluster 1234-567890-nothere1 does not exist",
                      p.stderr)
        self.assertNotIn("could not be masked", p.stderr)

    def test_profile_readable_by_others_refused(self):
        self.profile({"host": self.ws.url, "client_id": CID, "client_secret": SECRET},
                     mode=0o644)
        p = self.run_dbr("auth", "describe", env=self.env(DATABRICKS_CLIENT_ID=None,
                                                          DATABRICKS_CLIENT_SECRET=None),
                         chain="profile")
        self.assertEqual(p.returncode, 4, p.stderr)
        self.assertIn("plaintext client secret and is readable by group/others", p.stderr)
        self.assertIn("then move it to the keyring with 'dbroker login -p DEFAULT --oauth-m2m "
                      f"--client-id {CID}'", p.stderr)

    def test_vault_source_creates_cluster(self):
        cls = type(self)
        if cls.v is None:
            cls.v = vault.start_vault(cls.tmp, tokens={VAULT_ROOT: {}},
                                      secrets_={"secret/sp": {"client_id": CID,
                                                              "client_secret": SECRET,
                                                              "host": self.ws.url}},
                                      mounts={"secret/": {"version": 2}})
        env = self.env(DATABRICKS_CLIENT_ID=None, DATABRICKS_CLIENT_SECRET=None,
                       DATABRICKS_HOST=None, DBROKER_PLUGIN_DIR=PLUGIN_DIR,
                       VAULT_ADDR=self.v.url, VAULT_CACERT=self.v.ca_file,
                       VAULT_TOKEN=VAULT_ROOT)
        self.profile({"vault_path": "secret/sp"})
        p, out = self.describe(env=env, chain="vault")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual((out["credential"]["auth_type"], out["credential"]["client_id"]),
                         ("oauth-m2m", CID))
        self.assertIn("fields 'client_id' and 'client_secret'", out["providers"][0]["reason"])
        p = self.run_dbr("clusters", "create", "--no-wait", env=env, chain="vault")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(len(self.ws.requests(path="clusters/create")), 1)
        # field names are configurable like the token's
        self.v.put("secret/sp2", {"app": "other-sp", "pw": OTHER_SECRET})
        self.profile({"vault_path": "secret/sp2", "vault_client_id_field": "app",
                      "vault_client_secret_field": "pw", "host": self.ws.url}, "alt")
        p, out = self.describe(env=dict(env, DATABRICKS_CONFIG_PROFILE="alt"), chain="vault")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(out["credential"]["client_id"], "other-sp")

    # --- choosing the auth type ----------------------------------------------------

    def test_both_in_one_source_needs_an_auth_type(self):
        p = self.run_dbr("auth", "describe", env=self.env(DATABRICKS_TOKEN=PAT))
        self.assertEqual(p.returncode, 4, p.stderr)
        self.assertIn("has both a token and an OAuth client id and secret", p.stderr)
        self.assertIn("auth_type = oauth-m2m", p.stderr)
        p, out = self.describe("--check", env=self.env(DATABRICKS_TOKEN=PAT,
                                                       DATABRICKS_AUTH_TYPE="oauth-m2m"))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(out["credential"]["auth_type_origin"], "DATABRICKS_AUTH_TYPE")
        self.assertEqual(out["credential"]["user"], SP_USER)
        p = self.run_dbr("--auth-type", "pat", "auth", "describe", "--check", "-o", "json",
                         env=self.env(DATABRICKS_TOKEN=PAT))
        self.assertEqual(p.returncode, 0, p.stderr)
        out = json.loads(p.stdout)["credential"]
        self.assertEqual((out["auth_type"], out["user"]), ("pat", "me@example.com"))
        p = self.run_dbr("--auth-type", "m2m", "auth", "describe")
        self.assertEqual(p.returncode, 2)
        self.assertIn("unknown auth type 'm2m' (from --auth-type)", p.stderr)

    def test_auth_type_skips_a_source_of_the_other_kind(self):
        self.profile({"host": self.ws.url, "client_id": CID, "client_secret": SECRET,
                      "auth_type": "oauth-m2m"})
        p, out = self.describe(env=self.env(DATABRICKS_CLIENT_ID=None,
                                            DATABRICKS_CLIENT_SECRET=None,
                                            DATABRICKS_TOKEN=PAT), chain="env,profile")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(out["credential"]["source"], "profile")
        self.assertEqual(out["providers"][0]["answer"], "not here")
        self.assertIn("has a token, not a client id and secret", out["providers"][0]["reason"])

    def test_secret_scrubbed_from_the_environment(self):
        # the child of `dbroker api` cannot be asked, but describe's own
        # /proc/self/environ is covered by the leak audit; here: a secret
        # without an id is an error, not silently ignored
        p = self.run_dbr("auth", "describe", env=self.env(DATABRICKS_CLIENT_ID=None))
        self.assertEqual(p.returncode, 4, p.stderr)
        self.assertIn("DATABRICKS_CLIENT_SECRET is set without DATABRICKS_CLIENT_ID", p.stderr)

    # --- refresh -------------------------------------------------------------------

    def test_refresh_during_a_long_cluster_start(self):
        ws = workspace.start_workspace(self.tmp, [PAT], pending_seconds=5,
                                       terminating_seconds=0.3, tls_dir=self.ws.tls_dir)
        try:
            ws.admin("POST", "oauth", {"clients": [{"client_id": CID, "client_secret": SECRET}],
                                       "lifetime": 2})
            env = self.env(DATABRICKS_HOST=ws.url)
            cmd = [BIN, "--ca-cert", ws.ca_file, "--debug", "--chain", "env", "clusters",
                   "create"]
            p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
            view = ws.admin("GET", "oauth")
            for t in (p.stdout, p.stderr):
                for s in [SECRET] + view["access_tokens"]:
                    for form in encodings(s):
                        self.assertNotIn(form, t)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(json.loads(p.stdout)["state"], "RUNNING")
            # the wait outlived several tokens; each was renewed before expiry
            self.assertGreaterEqual(len(view["minted"]), 3, p.stderr)
            self.assertEqual(view["discovery_requests"], 1)
            api = [r for r in ws.requests() if r["path"].startswith("/api/")]
            self.assertEqual([r["status"] for r in api if r["status"] != 200], [])
            self.assertEqual(len([r for r in api if r["path"].endswith("create")]), 1)
        finally:
            ws.stop()

    def test_one_refresh_after_401(self):
        ws = workspace.start_workspace(self.tmp, [PAT], pending_seconds=2,
                                       terminating_seconds=0.3, tls_dir=self.ws.tls_dir)
        try:
            ws.admin("POST", "oauth", {"clients": [{"client_id": CID, "client_secret": SECRET}]})
            env = self.env(DATABRICKS_HOST=ws.url)
            cmd = [BIN, "--ca-cert", ws.ca_file, "--chain", "env", "clusters", "create"]
            proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
            # expire the token while the command waits for the cluster
            deadline = 50
            while not ws.requests(path="clusters/get") and deadline:
                deadline -= 1
                subprocess.run(["sleep", "0.1"])
            ws.admin("POST", "oauth", {"expire": True})
            out, err = proc.communicate(timeout=60)
            self.assertEqual(proc.returncode, 0, err)
            api = [r for r in ws.requests() if r["path"].startswith("/api/")]
            self.assertEqual([r["status"] for r in api].count(401), 1, err)
            self.assertEqual(len(ws.admin("GET", "oauth")["minted"]), 2)
        finally:
            ws.stop()

    def test_requests_refused_together_mint_one_token(self):
        # dbroker exec's proxy signs each connection's requests on its own
        # thread: when the access token dies, every request in flight meets
        # a 401 at once. They must wait for one new token, not mint one each
        # (a token endpoint's rate limit, and a token per request left alive).
        n = 8
        client = (
            "import os, sys, threading, requests\n"
            "host, tok = os.environ['DATABRICKS_HOST'], os.environ['DATABRICKS_TOKEN']\n"
            f"n = {n}\n"
            "hdr = {'Authorization': 'Bearer ' + tok}\n"
            "sessions = [requests.Session() for _ in range(n)]\n"
            "for s in sessions:\n"
            "    s.get(host + '/api/2.1/clusters/list', headers=hdr).raise_for_status()\n"
            "print('ready', flush=True)\n"
            "sys.stdin.readline()\n"
            "go, codes = threading.Barrier(n), [None] * n\n"
            "def one(i):\n"
            "    go.wait()\n"
            "    codes[i] = sessions[i].get(host + '/api/2.1/clusters/list', headers=hdr)"
            ".status_code\n"
            "ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]\n"
            "[t.start() for t in ts]\n"
            "[t.join() for t in ts]\n"
            "print('codes', *codes, flush=True)\n")
        cmd = [BIN, "--ca-cert", self.ws.ca_file, "--chain", "env", "exec", "--",
               sys.executable, "-c", client]
        proc = subprocess.Popen(cmd, env=self.env(), stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            self.assertEqual(proc.stdout.readline(), "ready\n")
            self.assertEqual(len(self.minted()["minted"]), 1)
            # the token dies, and the next n requests are held half a second
            # before the workspace looks at their token: all n carry the old
            # one and meet their 401 together
            self.oauth(expire=True)
            self.ws.admin("POST", "faults", {"kind": "slow", "path": "/api/2.1/clusters/list",
                                             "seconds": 0.5, "count": n})
            since = len(self.ws.requests())
            out, err = proc.communicate("go\n", timeout=60)
        finally:
            proc.kill()
            proc.wait()
        self.assert_no_secret(out, err)
        self.assertEqual(proc.returncode, 0, err)
        self.assertEqual(out.split(), ["codes"] + ["200"] * n, err)
        refused = [r for r in self.ws.requests()[since:] if r["path"].startswith("/api/")
                   and r["status"] == 401]
        self.assertEqual(len(refused), n, err)
        self.assertEqual(len(self.minted()["minted"]), 2, err)

    def test_refused_twice_gives_up(self):
        self.oauth(born_expired=True)
        p = self.run_dbr("clusters", "list")
        self.assertEqual(p.returncode, 5, p.stderr)
        self.assertIn(f"rejected the access token minted for client id '{CID}'", p.stderr)
        self.assertIn("a newly minted access token was refused too", p.stderr)
        self.assertEqual(len(self.api_requests()), 2)
        self.assertEqual(self.minted()["token_requests"], 2)

    def test_token_endpoint_busy_is_retried(self):
        self.oauth(token="500", count=1)
        p = self.run_dbr("clusters", "list")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.minted()["token_requests"], 2)

    def test_hung_token_endpoint_within_the_command_timeout(self):
        # --timeout bounds the whole command, the minting of its access
        # token too: no second or third try of the token request past it
        self.oauth(token="slow", delay=20)
        t0 = time.monotonic()
        p = self.run_dbr("clusters", "delete", "1234-567890-abcdefgh", "--timeout", "3s",
                         timeout=60)
        took = time.monotonic() - t0
        self.assertEqual(p.returncode, 7, p.stderr)
        self.assertIn("the OAuth token request failed", p.stderr)
        self.assertIn("timed out", p.stderr)
        self.assertLess(took, 6, p.stderr)
        self.assertEqual(self.minted()["token_requests"], 1)
        self.assertEqual(self.api_requests(), [])

    # --- bad input -----------------------------------------------------------------

    def test_wrong_secret(self):
        p = self.run_dbr("clusters", "list", env=self.env(DATABRICKS_CLIENT_SECRET=OTHER_SECRET))
        self.assertEqual(p.returncode, 5, p.stderr)
        self.assertIn(f"refused the client id '{CID}' and its secret from provider 'env'",
                      p.stderr)
        self.assertIn("invalid_client", p.stderr)
        self.assertIn("DATABRICKS_CLIENT_SECRET", p.stderr)
        self.assertEqual(self.api_requests(), [])

    def test_discovery_on_another_host_refused(self):
        for mode, why in (("elsewhere", "not on the workspace's own host"),
                          ("http", "not https://")):
            self.ws.clear_requests()
            self.oauth(discovery=mode)
            p = self.run_dbr("clusters", "list")
            self.assertEqual(p.returncode, 5, p.stderr)
            self.assertIn("refusing the token endpoint", p.stderr)
            self.assertIn(why, p.stderr)
            # the secret went nowhere: no exchange, no API call
            self.assertEqual([r["path"] for r in self.ws.requests()], [DISCOVERY])
            self.assertEqual(self.minted()["token_requests"], 0)

    def test_broken_answers(self):
        cases = [({"discovery": "404"}, 6, "the host may not support OAuth"),
                 ({"discovery": "html"}, 6, "with an HTML page"),
                 ({"discovery": "no_endpoint"}, 6, "names no token_endpoint"),
                 ({"token": "no_access_token"}, 6, "without an access_token"),
                 ({"token": "zero_expiry"}, 6, "positive whole expires_in"),
                 ({"token": "negative_expiry"}, 6, "positive whole expires_in"),
                 ({"token": "html"}, 6, "token endpoint of"),
                 ({"token": "500"}, 6, "answered 500"),
                 ({"discovery": "huge"}, 6, "the OAuth discovery request failed: the answer "
                  "is larger than 16777216 bytes, which no OAuth server sends: check that "
                  "the host is a Databricks workspace URL"),
                 ({"token": "huge"}, 6, "is larger than 16777216 bytes, which no OAuth server "
                  "sends")]
        for conf, code, needle in cases:
            with self.subTest(conf=conf):
                self.oauth(discovery="normal", token="normal", count=None)
                self.oauth(**conf)
                p = self.run_dbr("clusters", "list", timeout=60)
                self.assertEqual(p.returncode, code, p.stderr)
                self.assertIn(needle, p.stderr)
                self.assertNotIn("Traceback", p.stderr)

    def test_no_client_secret_on_the_command_line(self):
        for args in (["--client-secret", SECRET, "auth", "describe"],
                     ["--client-secret=" + SECRET, "auth", "describe"]):
            p = subprocess.run([BIN] + args, env=self.env(), capture_output=True, text=True)
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn("'--client-secret' is refused", p.stderr)
            self.assertIn("DATABRICKS_CLIENT_SECRET", p.stderr)
            self.assertNotIn(SECRET, p.stdout + p.stderr)


if __name__ == "__main__":
    unittest.main()
