"""End-to-end tests of the Vault provider (plugins/vault) against the local
Vault double (tests/doubles/vault.py): KV v1/v2, pinned, deleted and
destroyed versions, field errors, both kinds of 403, 404, sealed, retries,
AppRole login and revoke, namespaces, TLS, the chain failing closed, a
cluster created with the token from Vault, and no secret in any output.
Run by ctest with DBROKER_BIN, DBR_SOURCE_DIR and DBR_BINARY_DIR set."""
import hashlib
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
import vault  # noqa: E402
import workspace  # noqa: E402
from secret_forms import encodings  # noqa: E402

BIN = os.environ.get("DBROKER_BIN", "dbroker")
PLUGIN_DIR = os.path.join(os.environ.get("DBR_BINARY_DIR", os.path.dirname(os.path.dirname(
    os.path.abspath(BIN)))), "plugins")

ROOT = "hvs." + secrets.token_urlsafe(24)
LIMITED = "hvs." + secrets.token_urlsafe(24)
ROLE_ID = "db-broker-role"
SECRET_ID = secrets.token_hex(18)
TOK1 = "dapi" + secrets.token_hex(16)
TOK2 = "dapi" + secrets.token_hex(16)
TOKV1 = "dapi" + secrets.token_hex(16)
TOKNS = "dapi" + secrets.token_hex(16)
WS_TOKEN = "dapi" + secrets.token_hex(16)
HOST = "https://adb-1234.5.azuredatabricks.net"
# a token of no known shape, under a field name the masker's shape rules do
# not know: only the plugin can tell it is secret
OPAQUE = "opaque-" + secrets.token_hex(16)
ALL_SECRETS = [ROOT, LIMITED, SECRET_ID, TOK1, TOK2, TOKV1, TOKNS, WS_TOKEN, OPAQUE]


def fingerprint(tok):
    return "sha256:" + hashlib.sha256(tok.encode()).hexdigest()[:8]


class VaultTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="dbr-vault-")
        cls.v = vault.start_vault(
            cls.tmp,
            tokens={ROOT: {}, LIMITED: {"allow": ["secret/data/db"], "policies": ["db"]}},
            secrets_={"secret/db": [{"token": TOK1, "host": HOST}, {"token": TOK2, "host": HOST}],
                      "secret/other": {"token": TOK1},
                      "secret/nofield": {"pat": TOK1, "workspace": HOST},
                      "secret/opaque": {"pat": OPAQUE, "host": HOST},
                      "kv/db": {"token": TOKV1, "host": HOST},
                      "ns1/secret/db": {"token": TOKNS, "host": HOST}},
            mounts={"secret/": {"version": 2}, "kv/": {"version": 1},
                    "ns1/secret/": {"version": 2}},
            approles={ROLE_ID: {"secret_id": SECRET_ID, "policies": ["db"],
                                "allow": ["secret/data/db"]}})
        cls.ws = None

    @classmethod
    def tearDownClass(cls):
        cls.v.stop()
        if cls.ws:
            cls.ws.stop()
        shutil.rmtree(cls.tmp)

    def setUp(self):
        self.v.reset()
        self.home = tempfile.mkdtemp(dir=self.tmp)
        self.profile({"vault_path": "secret/db"})

    def profile(self, keys, name="DEFAULT"):
        with open(os.path.join(self.home, ".databrickscfg"), "a") as f:
            f.write(f"[{name}]\n" + "".join(f"{k} = {v}\n" for k, v in keys.items()))

    def env(self, token=ROOT, **extra):
        env = {"PATH": "/usr/bin:/bin", "HOME": self.home, "DBROKER_PLUGIN_DIR": PLUGIN_DIR,
               "VAULT_ADDR": self.v.url, "VAULT_CACERT": self.v.ca_file}
        if token:
            env["VAULT_TOKEN"] = token
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            if k in os.environ:
                env[k] = os.environ[k]
        env.update(extra)
        return {k: v for k, v in env.items() if v is not None}

    def run_dbr(self, *args, env=None, chain="vault", stdin=None, timeout=60):
        cmd = [BIN, "--debug"] + (["--chain", chain] if chain else []) + list(args)
        p = subprocess.run(cmd, env=env or self.env(), capture_output=True, text=True,
                           input=stdin if stdin is not None else "", timeout=timeout)
        for t in (p.stdout, p.stderr):
            for s in ALL_SECRETS:
                for form in encodings(s):
                    self.assertNotIn(form, t)
        return p

    def describe(self, env=None, chain="vault"):
        p = self.run_dbr("auth", "describe", "-o", "json", env=env, chain=chain)
        return p, json.loads(p.stdout) if p.stdout.strip() else None

    def assert_found(self, tok, env=None, chain="vault"):
        p, out = self.describe(env, chain)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(out["credential"]["source"], "vault")
        self.assertEqual(out["credential"]["token_fingerprint"], fingerprint(tok))
        return out

    def assert_fails(self, *needles, env=None, chain="vault"):
        p = self.run_dbr("auth", "describe", env=env, chain=chain)
        self.assertNotEqual(p.returncode, 0, p.stdout)
        for n in needles:
            self.assertIn(n, p.stderr + p.stdout)
        return p

    def vault_reqs(self, suffix=None):
        return self.v.requests(path=suffix)

    # --- reads ------------------------------------------------------------------

    def test_v2_latest_with_host_from_vault(self):
        out = self.assert_found(TOK2)
        self.assertEqual(out["credential"]["host"], HOST)
        self.assertEqual(out["credential"]["host_origin"], "vault")
        paths = [r["path"] for r in self.vault_reqs()]
        self.assertEqual(paths, ["/v1/sys/internal/ui/mounts/secret/db", "/v1/secret/data/db"])
        for r in self.vault_reqs():
            hdrs = {k.lower(): v for k, v in r["headers"]}
            self.assertEqual(hdrs["x-vault-request"], "true")
            self.assertEqual(hdrs["x-vault-token"], ROOT)
            self.assertNotIn(ROOT, r["path"])
        # the preflight and the read share one TLS connection
        self.assertEqual(len({r["conn"] for r in self.vault_reqs()}), 1)

    def test_v1(self):
        self.profile({"vault_path": "kv/db"}, "v1")
        self.assert_found(TOKV1, env=self.env(DATABRICKS_CONFIG_PROFILE="v1"))
        self.assertEqual(self.vault_reqs()[-1]["path"], "/v1/kv/db")

    def test_pinned_version_and_kv_version(self):
        self.profile({"vault_path": "db", "vault_mount": "secret", "vault_version": "1",
                      "vault_kv_version": "2"}, "pin")
        self.assert_found(TOK1, env=self.env(DATABRICKS_CONFIG_PROFILE="pin"))
        reqs = self.vault_reqs()
        self.assertEqual(len(reqs), 1)  # pinned kv version: no preflight
        self.assertEqual(reqs[0]["path"], "/v1/secret/data/db")
        self.assertEqual(reqs[0]["query"], {"version": "1"})

    def test_deleted_and_destroyed_versions(self):
        self.v.delete_versions("secret/db", [2])
        self.assert_fails("version 2", "was deleted at", "undelete")
        self.v.destroy_versions("secret/db", [2])
        self.assert_fails("version 2", "is destroyed")

    def test_missing_secret_and_version(self):
        self.profile({"vault_path": "secret/nope"}, "nope")
        p = self.assert_fails("'secret/nope' not found", "check vault_path and vault_version",
                              env=self.env(DATABRICKS_CONFIG_PROFILE="nope"))
        self.assertIn("the chain stops", p.stderr)
        self.assertEqual(p.returncode, 4)
        self.profile({"vault_path": "secret/db", "vault_version": "7"}, "v7")
        self.assert_fails("not found", env=self.env(DATABRICKS_CONFIG_PROFILE="v7"))

    def test_missing_field_lists_names_only(self):
        self.profile({"vault_path": "secret/nofield"}, "nf")
        p = self.assert_fails("no field 'token'", "'pat'", "'workspace'",
                              "set vault_token_field to the right one",
                              env=self.env(DATABRICKS_CONFIG_PROFILE="nf"))
        self.assertEqual(p.returncode, 4)
        err = [l for l in p.stderr.splitlines() if "error:" in l]
        self.assertTrue(err)
        self.assertNotIn(HOST, "\n".join(err))  # names, never values
        self.profile({"vault_path": "secret/nofield", "vault_token_field": "pat",
                      "vault_host_field": "workspace"}, "nf2")
        out = self.assert_found(TOK1, env=self.env(DATABRICKS_CONFIG_PROFILE="nf2"))
        self.assertEqual(out["credential"]["host"], HOST)

    def test_host_field_that_is_not_a_string_is_an_error(self):
        # a host written as a list, a number or an object binds the token to
        # no host at all: refused, not ignored (the token would go wherever
        # DATABRICKS_HOST or the profile points)
        self.profile({"vault_path": "secret/badhost"}, "bh")
        env = self.env(DATABRICKS_CONFIG_PROFILE="bh",
                       DATABRICKS_HOST="https://other.example.com")
        for bad in ([HOST], 1234, {"url": HOST}, True, None):
            with self.subTest(host=bad):
                self.v.put("secret/badhost", {"token": TOK1, "host": bad})
                p = self.assert_fails("field 'host' of Vault secret 'secret/badhost' is not a "
                                      "string", "write the workspace URL there as a string",
                                      env=env)
                self.assertEqual(p.returncode, 4, p.stderr)

    def test_opaque_token_under_custom_field_never_traced(self):
        # --debug traces every Vault exchange; the response body holding the
        # token is shown by size only (run_dbr checks every output for it)
        self.profile({"vault_path": "secret/opaque", "vault_token_field": "pat"}, "op")
        out = self.assert_found(OPAQUE, env=self.env(DATABRICKS_CONFIG_PROFILE="op"))
        self.assertEqual(out["credential"]["host"], HOST)
        p = self.run_dbr("auth", "describe", env=self.env(DATABRICKS_CONFIG_PROFILE="op"))
        self.assertIn("not shown (it holds a secret)", p.stderr)

    # --- errors -----------------------------------------------------------------

    def test_policy_denied_vs_invalid_token(self):
        self.profile({"vault_path": "secret/other"}, "other")
        p = self.assert_fails("permission denied by Vault policy",
                              env=self.env(LIMITED, DATABRICKS_CONFIG_PROFILE="other"))
        self.assertNotIn("invalid", p.stderr)
        self.assertEqual(p.returncode, 5)
        p = self.assert_fails("invalid, expired or revoked",
                              env=self.env("hvs." + secrets.token_urlsafe(24)))
        self.assertEqual(p.returncode, 5)
        self.assert_found(TOK2, env=self.env(LIMITED))  # its own path works

    def test_sealed(self):
        self.v.add_fault("sealed", count=-1)
        p = self.assert_fails("is sealed (after 1 retries)", "ask a Vault operator to unseal it",
                              env=self.env(VAULT_MAX_RETRIES="1"))
        self.assertEqual(p.returncode, 6)
        self.assertEqual(len(self.vault_reqs()), 2)

    def test_retries_429_and_412(self):
        self.v.add_faults({"kind": "429", "retry_after": 1, "count": 1},
                          {"kind": "412", "count": 1}, {"kind": "502", "count": 1})
        self.assert_found(TOK2, env=self.env(VAULT_MAX_RETRIES="3"))
        self.assertEqual([r["status"] for r in self.vault_reqs()], [429, 412, 502, 200, 200])
        self.v.add_faults({"kind": "429", "retry_after": 0, "count": 1, "path": "data/db"},
                          {"kind": "500", "count": 1, "path": "data/db"})
        self.assert_found(TOK2)  # the default: 2 retries
        self.assertEqual([r["status"] for r in self.vault_reqs()][5:], [200, 429, 500, 200])

    def test_ctrl_c_while_waiting_out_a_retry_after(self):
        # Vault asks for 30 s; Ctrl-C 1 s into the wait ends it at once
        self.v.add_fault("429", retry_after=30, count=-1)
        proc = subprocess.Popen([BIN, "--chain", "vault", "auth", "describe"], env=self.env(),
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 20
        while not self.vault_reqs() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        self.assertLess(time.monotonic() - t0, 3)
        self.assertEqual(proc.returncode, 130, err)
        self.assertIn("interrupted while waiting to retry GET /v1/", out + err)
        self.assertEqual(len(self.vault_reqs()), 1)

    def test_501_is_not_retried(self):
        self.v.add_fault("501", count=1)
        self.assert_fails("HTTP 501", "check that vault_addr names a Vault server")
        self.assertEqual(len(self.vault_reqs()), 1)

    def test_5xx_after_retries(self):
        self.v.add_fault("500", count=-1)
        p = self.assert_fails("answered HTTP 500", "(after 1 retries)",
                              "try again later (VAULT_MAX_RETRIES sets the retries)",
                              env=self.env(VAULT_MAX_RETRIES="1"))
        self.assertEqual(p.returncode, 6)
        self.assertEqual(len(self.vault_reqs()), 2)

    def test_oversized_response(self):
        # every Vault answer is read up to 1 MiB (VAULT_MAX_RESPONSE in
        # vault_http.c), with or without Content-Length, errors included
        cap = "with more than 1048576 bytes"
        self.v.add_fault("huge", count=1)
        p = self.assert_fails("answered GET /v1/sys/internal/ui/mounts/secret/db " + cap,
                              "check that the address is Vault's and that vault_path names")
        self.assertEqual(p.returncode, 6)
        self.v.add_fault("huge", path="secret/data/db", chunked=True, count=1)
        self.assert_fails("answered GET /v1/secret/data/db " + cap)
        self.v.add_fault("huge", status=503, chunked=True, count=-1)
        self.assert_fails(cap)
        self.assertEqual(len(self.vault_reqs()), 4)  # 2 + 1 + 1: never retried

    def test_tls_unknown_ca(self):
        other = os.path.join(self.v.tls_dir, "other-ca.pem")
        p = self.assert_fails("TLS failure talking to Vault",
                              "for Vault, set VAULT_CACERT (or VAULT_CAPATH) to the CA",
                              env=self.env(VAULT_CACERT=other))
        self.assertEqual(len(self.vault_reqs()), 0)
        self.assertNotEqual(p.returncode, 0)

    def test_skip_verify_refused(self):
        p = self.assert_fails("VAULT_SKIP_VERIFY", "unset it and point VAULT_CACERT at the CA",
                              env=self.env(VAULT_SKIP_VERIFY="1"))
        self.assertEqual(p.returncode, 4)
        self.assertEqual(len(self.vault_reqs()), 0)

    def test_old_server_preflight_404_means_v1(self):
        self.v.configure(old_server=True)
        self.profile({"vault_path": "kv/db"}, "v1")
        self.assert_found(TOKV1, env=self.env(DATABRICKS_CONFIG_PROFILE="v1"))
        self.assertEqual([r["status"] for r in self.vault_reqs()], [404, 200])

    def test_v1_path_on_v2_mount_warns(self):
        self.profile({"vault_path": "secret/db", "vault_kv_version": "1"}, "wrongv")
        self.assert_fails("not found", "Invalid path for a versioned K/V",
                          env=self.env(DATABRICKS_CONFIG_PROFILE="wrongv"))

    def test_preflight_denied(self):
        self.profile({"vault_path": "kv/db"}, "v1")
        self.assert_fails("permission denied by Vault policy", "vault_kv_version",
                          env=self.env(LIMITED, DATABRICKS_CONFIG_PROFILE="v1"))

    def test_client_timeout(self):
        self.v.add_fault("slow", seconds=3, count=1)
        p = self.assert_fails("cannot reach Vault", "VAULT_CLIENT_TIMEOUT sets the timeout",
                              env=self.env(VAULT_CLIENT_TIMEOUT="1", VAULT_MAX_RETRIES="0"))
        self.assertEqual(p.returncode, 7, p.stderr[-500:])
        self.assert_fails("VAULT_CLIENT_TIMEOUT", env=self.env(VAULT_CLIENT_TIMEOUT="soon"))

    def test_capath_and_tls_server_name(self):
        self.assert_found(TOK2, env=self.env(VAULT_CACERT=None,
                                             VAULT_CAPATH=os.path.join(self.v.tls_dir,
                                                                       "capath")))
        url = self.v.url.replace("127.0.0.1", "localhost")
        self.assert_found(TOK2, env=self.env(VAULT_ADDR=url, VAULT_TLS_SERVER_NAME="localhost"))
        self.assert_fails("TLS failure", "for Vault, set VAULT_TLS_SERVER_NAME",
                          env=self.env(VAULT_TLS_SERVER_NAME="wrong.example"))

    def test_mutual_tls(self):
        tls = self.v.tls_dir
        mv = vault.start_vault(self.tmp, tokens={ROOT: {}}, secrets_={"secret/db": {
            "token": TOK1, "host": HOST}}, client_ca=os.path.join(tls, "ca.pem"))
        try:
            cert = {"VAULT_CLIENT_CERT": os.path.join(tls, "client.pem"),
                    "VAULT_CLIENT_KEY": os.path.join(tls, "client.key")}
            self.assert_found(TOK1, env=self.env(VAULT_ADDR=mv.url, **cert))
            # no client certificate: a TLS alert or a reset, depending on timing
            p = self.assert_fails("Vault at", "for Vault, set VAULT_CLIENT_CERT and "
                                  "VAULT_CLIENT_KEY", env=self.env(VAULT_ADDR=mv.url,
                                                                   VAULT_MAX_RETRIES="0"))
            self.assertEqual(p.returncode, 8)
            self.assert_fails("go together", env=self.env(
                VAULT_ADDR=mv.url, VAULT_CLIENT_CERT=cert["VAULT_CLIENT_CERT"]))
        finally:
            mv.stop()

    # --- auth -------------------------------------------------------------------

    def test_vault_token_file(self):
        path = os.path.join(self.home, ".vault-token")
        with open(path, "w") as f:
            f.write(ROOT + "\n")
        os.chmod(path, 0o600)
        out = self.assert_found(TOK2, env=self.env(None))
        self.assertIn("~/.vault-token", out["providers"][0]["reason"])
        os.chmod(path, 0o644)
        self.assert_fails("chmod 600", env=self.env(None))

    def write_sid(self, value=SECRET_ID):
        path = os.path.join(self.home, "sid")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(value + "\n")
        return path

    def test_approle_login_then_revoke(self):
        self.profile({"vault_path": "secret/db", "vault_role_id": ROLE_ID}, "ar")
        sid = self.write_sid()
        out = self.assert_found(TOK2, env=self.env(None, DATABRICKS_CONFIG_PROFILE="ar",
                                                   VAULT_SECRET_ID_FILE=sid))
        self.assertIn("AppRole", out["providers"][0]["reason"])
        paths = [r["path"] for r in self.vault_reqs()]
        self.assertEqual(paths[0], "/v1/auth/approle/login")
        self.assertEqual(paths[-1], "/v1/auth/token/revoke-self")
        login = self.vault_reqs("approle/login")[0]
        self.assertEqual(json.loads(login["body"]), {"role_id": ROLE_ID, "secret_id": SECRET_ID})
        self.assertEqual(len(self.v.revoked()), 1)
        revoke = self.vault_reqs("revoke-self")[0]
        read = self.vault_reqs("secret/data/db")[0]
        tok = [v for k, v in revoke["headers"] if k.lower() == "x-vault-token"]
        self.assertEqual(tok, [v for k, v in read["headers"] if k.lower() == "x-vault-token"])
        self.assertEqual(revoke["status"], 204)

    def test_slow_revoke_is_capped_and_named(self):
        # revoke-self held 20 s: a normal exit waits 3 s for it, then says why
        self.profile({"vault_path": "secret/db", "vault_role_id": ROLE_ID}, "ar")
        sid = self.write_sid()
        self.v.add_fault("slow", path="revoke-self", seconds=20, count=1)
        t0 = time.monotonic()
        p = self.run_dbr("auth", "describe", "-o", "json",
                         env=self.env(None, DATABRICKS_CONFIG_PROFILE="ar",
                                      VAULT_SECRET_ID_FILE=sid), timeout=60)
        self.assertLess(time.monotonic() - t0, 8)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("could not revoke the Vault token from the AppRole login: Vault did not "
                      "answer within 3 s; it expires with its TTL", p.stderr)
        self.assertNotIn("HTTP 0", p.stderr)
        # a refusal names Vault's answer
        self.v.add_fault("500", path="revoke-self", count=1)
        p = self.run_dbr("auth", "describe", env=self.env(None, DATABRICKS_CONFIG_PROFILE="ar",
                                                           VAULT_SECRET_ID_FILE=sid))
        self.assertIn("could not revoke the Vault token from the AppRole login: Vault "
                      "answered HTTP 500; it expires with its TTL", p.stderr)

    def test_approle_secret_id_on_stdin(self):
        self.profile({"vault_path": "secret/db", "vault_role_id": ROLE_ID,
                      "vault_secret_id_file": "-"}, "ar")
        p = self.run_dbr("auth", "describe", "-o", "json", stdin=SECRET_ID + "\n",
                         env=self.env(None, DATABRICKS_CONFIG_PROFILE="ar"))
        self.assertEqual(p.returncode, 0, p.stderr[-800:])
        self.assertEqual(json.loads(p.stdout)["credential"]["token_fingerprint"],
                         fingerprint(TOK2))
        self.assertEqual(len(self.v.revoked()), 1)

    def test_approle_bad_secret_and_unsafe_file(self):
        self.write_sid("x" * 30)
        self.profile({"vault_path": "secret/db", "vault_role_id": ROLE_ID,
                      "vault_secret_id_file": "~/sid"}, "ar")
        self.assert_fails("invalid role or secret ID", "ask for a new secret ID",
                          env=self.env(None, DATABRICKS_CONFIG_PROFILE="ar"))
        os.chmod(os.path.join(self.home, "sid"), 0o640)
        self.assert_fails("chmod 600", env=self.env(None, DATABRICKS_CONFIG_PROFILE="ar"))
        self.assertEqual(len(self.vault_reqs("approle/login")), 1)

    def test_no_vault_token_is_an_error(self):
        p = self.assert_fails("no Vault token", "set VAULT_TOKEN, run 'vault login'",
                              env=self.env(None))
        self.assertEqual(p.returncode, 4, p.stderr)  # configuration: nothing was sent
        self.assertEqual(self.vault_reqs(), [])

    def test_namespace(self):
        self.assert_found(TOKNS, env=self.env(VAULT_NAMESPACE="ns1"))
        for r in self.vault_reqs():
            self.assertIn(["X-Vault-Namespace", "ns1"], r["headers"])

    # --- the chain ----------------------------------------------------------------

    def test_chain_order_and_fail_closed(self):
        with open(os.path.join(self.home, ".databrickscfg"), "w") as f:
            f.write(f"[DEFAULT]\nhost = {HOST}\ntoken = {WS_TOKEN}\nvault_path = secret/db\n")
        os.chmod(os.path.join(self.home, ".databrickscfg"), 0o600)
        chain = "env,vault,keyring,profile"  # the default order, spelled out (less kernel)
        # env first
        p, out = self.describe(env=self.env(DATABRICKS_TOKEN=TOKNS), chain=chain)
        self.assertEqual(out["credential"]["source"], "env", p.stderr)
        # then vault
        self.assert_found(TOK2, chain=chain)
        # vault configured but failing: an error, never the profile's token
        p = self.assert_fails("credential provider 'vault' failed", "the chain stops",
                              env=self.env("hvs." + secrets.token_urlsafe(24)), chain=chain)
        self.assertNotIn("source", p.stdout)
        self.assertRegex(p.stdout, r"keyring\s+not asked")  # no weaker fallback
        self.assertRegex(p.stdout, r"profile\s+not asked")
        p = self.assert_fails("is not https://", "give the https:// address",
                              env=self.env(VAULT_ADDR="http://127.0.0.1:1"), chain=chain)
        # vault not configured: not here, the chain moves on
        with open(os.path.join(self.home, ".databrickscfg"), "w") as f:
            f.write(f"[DEFAULT]\nhost = {HOST}\ntoken = {WS_TOKEN}\n")
        p, out = self.describe(env=self.env(VAULT_ADDR=None), chain=chain)
        self.assertEqual(out["credential"]["source"], "profile", p.stderr)
        self.assertEqual(out["providers"][1]["answer"], "not here")
        self.assertIn("vault_addr/vault_path not configured", out["providers"][1]["reason"])
        self.assertEqual(out["providers"][2]["name"], "keyring")
        self.assertEqual(out["providers"][2]["answer"], "not here")  # no D-Bus session here

    def test_clusters_create_with_token_from_vault(self):
        cls = type(self)
        if cls.ws is None:
            cls.ws = workspace.start_workspace(cls.tmp, [(WS_TOKEN, "me@example.com")],
                                               pending_seconds=0.3, terminating_seconds=0.3)
        self.ws.reset()
        self.v.put("secret/e2e", {"token": WS_TOKEN, "host": self.ws.url})
        self.profile({"vault_path": "secret/e2e"}, "e2e")
        p = self.run_dbr("--ca-cert", self.ws.ca_file, "clusters", "create", "--no-wait",
                         env=self.env(DATABRICKS_CONFIG_PROFILE="e2e"))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout)["state"], "PENDING")
        creates = self.ws.requests(path="clusters/create")
        self.assertEqual(len(creates), 1)
        auth = [v for k, v in creates[0]["headers"] if k.lower() == "authorization"]
        self.assertEqual(auth, ["Bearer " + WS_TOKEN])
        self.assertIn("debug", p.stderr)  # --debug was on, and nothing leaked
        # a token in Vault that the workspace rejects: fix it in Vault
        self.v.put("secret/e2e", {"token": TOK1, "host": self.ws.url})
        p = self.run_dbr("--ca-cert", self.ws.ca_file, "clusters", "list",
                         env=self.env(DATABRICKS_CONFIG_PROFILE="e2e"))
        self.assertEqual(p.returncode, 5)
        self.assertIn("rejected the token from provider 'vault' (profile 'e2e')", p.stderr)
        self.assertIn("write a valid one to the Vault secret at the profile's vault_path",
                      p.stderr)


if __name__ == "__main__":
    unittest.main()
