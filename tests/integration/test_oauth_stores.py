"""End-to-end tests of `dbroker login --oauth-m2m --client-id ID`: a service
principal's client secret read from stdin (never argv) and stored in the
desktop keyring (a real gnome-keyring-daemon on a private D-Bus session) or
the kernel keyring (the real one, in a session keyring of this run's own),
then found by the chain as auth type oauth-m2m and exchanged for access
tokens at the local workspace double. Also --verify with a wrong secret
(nothing stored), --remove-plaintext of a profile's client_secret, logout,
and no secret or access token in any output.
Run by ctest with DBROKER_BIN, DBR_SOURCE_DIR and DBR_BINARY_DIR set."""
import json
import os
import pty
import secrets
import shutil
import subprocess
import sys
import tempfile
import termios
import unittest

sys.dont_write_bytecode = True
SRC = os.environ.get("DBR_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(SRC, "tests", "doubles"))
import kernel_keys as kk  # noqa: E402
import workspace  # noqa: E402
from keyring_session import KeyringSession, missing_tools  # noqa: E402
from pty_read import read_pty  # noqa: E402
from secret_forms import encodings  # noqa: E402

BIN = os.environ.get("DBROKER_BIN", "dbroker")
PLUGIN_DIR = os.path.join(os.environ.get("DBR_BINARY_DIR", os.path.dirname(os.path.dirname(
    os.path.abspath(BIN)))), "plugins")
CID = "7a1d2c3b-" + secrets.token_hex(2) + "-4000-8000-" + secrets.token_hex(6)
SECRET = "dose" + secrets.token_hex(16)
WRONG = "dose" + secrets.token_hex(16)
SP_USER = "stored-sp"
RUN = secrets.token_hex(3)


class StoreBase:
    """Shared by both stores; a subclass sets STORE and self.extra_env."""
    STORE = None

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="dbr-oauth-store-")
        cls.ws = workspace.start_workspace(cls.tmp, ["dapi" + secrets.token_hex(16)],
                                           pending_seconds=0.3, terminating_seconds=0.3)

    @classmethod
    def tearDownClass(cls):
        cls.ws.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        self.ws.reset()
        self.ws.admin("POST", "oauth", {"clients": [
            {"client_id": CID, "client_secret": SECRET, "user": SP_USER}]})
        self.home = tempfile.mkdtemp(dir=self.tmp)
        self.profile = f"sp{RUN}_{self._testMethodName[5:25]}"
        self.cfg = os.path.join(self.home, ".databrickscfg")
        self.write_cfg({})
        self.addCleanup(self.dbr, "-p", self.profile, "logout", "--store", self.STORE)

    def write_cfg(self, keys):
        with open(self.cfg, "w") as f:
            f.write(f"[{self.profile}]\nhost = {self.ws.url}\nca_cert = {self.ws.ca_file}\n"
                    + "".join(f"{k} = {v}\n" for k, v in keys.items()))
        os.chmod(self.cfg, 0o600)

    def env(self):
        env = {"PATH": "/usr/bin:/bin", "HOME": self.home, "DBROKER_PLUGIN_DIR": PLUGIN_DIR}
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            if k in os.environ:
                env[k] = os.environ[k]
        env.update(self.extra_env)
        return env

    def dbr(self, *args, stdin=""):
        p = subprocess.run([BIN, "--debug"] + list(args), env=self.env(), input=stdin,
                           capture_output=True, text=True, timeout=60)
        leaked = [SECRET, WRONG] + self.ws.admin("GET", "oauth")["access_tokens"]
        for t in (p.stdout, p.stderr):
            for s in leaked:
                for form in encodings(s):
                    self.assertNotIn(form, t)
        return p

    def login(self, *extra, secret=SECRET):
        return self.dbr("-p", self.profile, "login", "--store", self.STORE, "--oauth-m2m",
                        "--client-id", CID, *extra, stdin=secret + "\n")

    def test_login_resolve_use_logout(self):
        p = self.login("--verify")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(f"as '{SP_USER}'", p.stdout)
        self.assertIn("stored the client secret (sha256:", p.stdout)
        p = self.dbr("-p", self.profile, "--chain", self.STORE, "auth", "describe", "-o", "json")
        self.assertEqual(p.returncode, 0, p.stderr)
        c = json.loads(p.stdout)["credential"]
        self.assertEqual((c["auth_type"], c["client_id"], c["source"]),
                         ("oauth-m2m", CID, self.STORE))
        p = self.dbr("-p", self.profile, "--chain", self.STORE, "clusters", "create",
                     "--no-wait")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(len(self.ws.requests(path="clusters/create")), 1)
        p = self.dbr("-p", self.profile, "logout", "--store", self.STORE)
        self.assertEqual(p.returncode, 0, p.stderr)
        p = self.dbr("-p", self.profile, "--chain", self.STORE, "auth", "describe")
        self.assertEqual(p.returncode, 3, p.stderr)

    def test_wrong_secret_with_verify_stores_nothing(self):
        p = self.login("--verify", secret=WRONG)
        self.assertEqual(p.returncode, 5, p.stderr)
        self.assertIn(f"refused the client id '{CID}'", p.stderr)
        self.assertIn("nothing was stored", p.stderr)
        p = self.dbr("-p", self.profile, "--chain", self.STORE, "auth", "describe")
        self.assertEqual(p.returncode, 3, p.stderr)

    def test_remove_plaintext_moves_the_secret(self):
        self.write_cfg({"client_id": CID, "client_secret": SECRET})
        p = self.login("--remove-plaintext")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(f"removed the plaintext client secret of profile '{self.profile}'",
                      p.stdout)
        with open(self.cfg) as f:
            text = f.read()
        self.assertNotIn("client_secret", text)
        self.assertIn(f"client_id = {CID}", text)  # not a secret: it stays
        p = self.dbr("-p", self.profile, "auth", "describe", "-o", "json",
                     "--chain", f"{self.STORE},profile")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout)["credential"]["source"], self.STORE)

    def read_pty(self, fd, want, timeout=10):
        return read_pty(fd, want, timeout)

    def test_no_echo_prompt(self):
        master, slave = pty.openpty()
        try:
            proc = subprocess.Popen([BIN, "-p", self.profile, "login", "--store", self.STORE,
                                     "--oauth-m2m", "--client-id", CID], env=self.env(),
                                    stdin=slave, stdout=subprocess.PIPE, stderr=slave,
                                    start_new_session=True)
            prompt = self.read_pty(master, b"input hidden: ")
            self.assertIn(f"Client secret of service principal '{CID}' for profile "
                          f"'{self.profile}'".encode(), prompt)
            self.assertFalse(termios.tcgetattr(slave)[3] & termios.ECHO, "echo still on")
            os.write(master, (SECRET + "\n").encode())
            out, _ = proc.communicate(timeout=30)
            rest = self.read_pty(master, b"\x00", timeout=0.5)
            self.assertEqual(proc.returncode, 0, rest)
            self.assertIn(b"stored the client secret", out)
            self.assertNotIn(SECRET.encode(), rest + out)
            self.assertTrue(termios.tcgetattr(slave)[3] & termios.ECHO, "echo not restored")
        finally:
            os.close(master)
            os.close(slave)

    def test_usage(self):
        p = self.dbr("-p", self.profile, "login", "--oauth-m2m", stdin=SECRET + "\n")
        self.assertEqual(p.returncode, 2)
        self.assertIn("'--oauth-m2m' and '--client-id ID' go together", p.stderr)
        p = self.dbr("-p", self.profile, "login", "--store", self.STORE, "--oauth-m2m",
                     "--client-id", "a:b", stdin=SECRET + "\n")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("is not a client id", p.stderr)
        p = self.dbr("-p", self.profile, "login", "--oauth-m2m", "--client-id", CID,
                     "--client-secret", SECRET)
        self.assertEqual(p.returncode, 2)
        self.assertIn("'--client-secret' is refused", p.stderr)


class KeyringTest(StoreBase, unittest.TestCase):
    STORE = "keyring"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        d = tempfile.mkdtemp(dir=cls.tmp)
        cls.ks = KeyringSession({"PATH": "/usr/bin:/bin", "HOME": d,
                                 "XDG_RUNTIME_DIR": d, "XDG_DATA_HOME": d}, d)

    @classmethod
    def tearDownClass(cls):
        cls.ks.stop()
        super().tearDownClass()

    def setUp(self):
        self.extra_env = {"DBUS_SESSION_BUS_ADDRESS": self.ks.address}
        super().setUp()

    def test_secret_tool_sees_the_client_id_not_the_secret_in_attributes(self):
        self.assertEqual(self.login().returncode, 0)
        p = subprocess.run(["secret-tool", "search", "--all", "profile", self.profile],
                           env=dict(self.env(), HOME=self.home), capture_output=True,
                           text=True)
        if p.returncode == 127 or "not found" in p.stderr:
            self.skipTest("secret-tool is not installed")
        self.assertIn(f"attribute.client_id = {CID}", p.stdout + p.stderr)
        self.assertIn("schema = dbroker.ClientSecret", p.stdout)


    def test_client_secret_item_without_a_usable_client_id(self):
        # an item made by hand with the client secret schema but no
        # client_id attribute, or one no client id can be: the chain stops
        # and says why (before: only "client secret item for profile 'P'")
        for extra in ((), ("client_id", "two words")):
            p = subprocess.run(["secret-tool", "store", "--label=by hand", "xdg:schema",
                                "dbroker.ClientSecret", "profile", self.profile, "host",
                                self.ws.url, *extra], env=dict(self.env(), HOME=self.home),
                               input=SECRET, capture_output=True, text=True)
            if p.returncode == 127 or "not found" in p.stderr:
                self.skipTest("secret-tool is not installed")
            self.assertEqual(p.returncode, 0, p.stderr)
            d = self.dbr("-p", self.profile, "--chain", "keyring", "auth", "describe")
            self.assertEqual(d.returncode, 4, d.stdout + d.stderr)
            self.assertIn("credential provider 'keyring' failed: the keyring's client secret "
                          "item for profile '%s' has %s client_id attribute (one word of "
                          "printable ASCII, without ':'): store it again with 'dbroker login "
                          "--oauth-m2m --client-id ID'" % (self.profile, "an invalid" if extra
                                                           else "no"), d.stderr)
            self.assertNotIn("two words", d.stdout + d.stderr)
            self.assertEqual(self.ws.requests(), [])
            self.assertEqual(self.dbr("-p", self.profile, "logout").returncode, 0)

class KernelTest(StoreBase, unittest.TestCase):
    STORE = "kernel"

    def setUp(self):
        self.extra_env = {}
        super().setUp()
        prefix = f"dbroker:{self.profile}:"
        self.addCleanup(kk.sweep, prefix, [kk.persistent(), kk.user_keyring(),
                                           kk.session_keyring()])

    def test_key_description_names_the_client(self):
        self.assertEqual(self.login().returncode, 0)
        descs = [line for line in kk.proc_keys().values() if f"dbroker:{self.profile}:" in line]
        self.assertEqual(len(descs), 1, descs)
        self.assertIn(f" client_id={CID}", descs[0])
        self.assertNotIn(SECRET, descs[0])


def main():
    skip = []
    if missing_tools():
        skip.append(KeyringTest)
        print(f"test_oauth_stores: keyring tests skipped: missing {missing_tools()}")
    why = kk.available()
    if why:
        skip.append(KernelTest)
        print(f"test_oauth_stores: kernel tests skipped: {why}")
    else:
        kk.join_new_session()
    for cls in skip:
        del globals()[cls.__name__]
    prog = unittest.main(verbosity=2, exit=False)
    return 0 if prog.result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
