"""End-to-end tests of the keyring provider and `dbroker login`/`logout`
against a real Secret Service: gnome-keyring-daemon in a private D-Bus
session, with HOME and the XDG directories in a temporary directory.

Run by ctest with DBROKER_BIN and DBR_BINARY_DIR set. The script re-runs
itself inside `dbus-run-session` with an unlocked keyring; the scenarios
without a bus or with a bus that never answers build their own environment."""
import contextlib
import os
import pty
import secrets
import signal
import shutil
import socket
import subprocess
import sys
import tempfile
import termios
import threading
import time
import unittest

BIN = os.environ.get("DBROKER_BIN", "dbroker")
BINARY_DIR = os.environ.get("DBR_BINARY_DIR", "")
SRC = os.environ.get("DBR_SOURCE_DIR",
                     os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
IN_SESSION = os.environ.get("DBR_KEYRING_SESSION") == "1"
ROOT = os.environ.get("DBR_KEYRING_ROOT", "")
MOCK_PROMPTER_LIB = "/usr/lib/%s-linux-gnu/libgcr-base-3.so.1" % os.uname().machine
WAITING = "waiting for the unlock prompt on your desktop (up to 2 min; Ctrl-C to stop)"
PASSTHROUGH = ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", "DBROKER_BIN",
               "DBR_BINARY_DIR", "DBR_SOURCE_DIR")


def needs_prompter(test):
    """A test with a user at the keyring's unlock prompt (mock_prompter.py)."""
    test = unittest.skipUnless(shutil.which("gdbus"), "needs gdbus")(test)
    return unittest.skipUnless(os.path.exists(MOCK_PROMPTER_LIB), "needs libgcr-base-3")(test)


def wait_until(cond, timeout=30):
    """Poll cond until it holds or timeout s pass (a bound against a hang,
    not a measurement); the caller asserts cond afterwards."""
    deadline = time.monotonic() + timeout
    while not cond() and time.monotonic() < deadline:
        time.sleep(0.05)


def reap(proc):
    """Kill proc if it still runs, wait for it, close its pipes."""
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    proc.stdout.close()
    proc.stderr.close()


def reap_pty(proc, master, slave):
    """Kill proc if it still runs, wait for it, close its terminal's ends."""
    if proc.poll() is None:
        proc.kill()
        proc.communicate()
    os.close(master)
    os.close(slave)


def new_token():
    return "dapi" + secrets.token_hex(16)


class HangingBus:
    """A unix socket that accepts connections and never says a word."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.conns = []
        self.stop = False
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self):
        while not self.stop:
            try:
                c, _ = self.sock.accept()
                self.conns.append(c)
            except OSError:
                pass

    def close(self):
        self.stop = True
        self.thread.join()
        for c in self.conns:
            c.close()
        self.sock.close()


@unittest.skipUnless(IN_SESSION, "needs the keyring session (run the script directly)")
class KeyringTest(unittest.TestCase):
    """Each test uses its own profile names, so the shared keyring is fine."""

    def setUp(self):
        self.home = os.environ["HOME"]
        self.plugins = os.path.join(ROOT, "plugins")
        self.cfg = os.path.join(self.home, ".databrickscfg")
        self.token = new_token()
        self.profile = "p_" + self._testMethodName
        self.outputs = []
        self.written = set()

    def tearDown(self):
        for text in self.outputs:
            self.assertNotIn(self.token, text)
            self.assertNotIn(self.token[4:], text)

    def env(self, **extra):
        env = dict(os.environ)
        env["DBROKER_PLUGIN_DIR"] = self.plugins
        env["DATABRICKS_CONFIG_FILE"] = self.cfg
        for k in ("DATABRICKS_TOKEN", "DATABRICKS_HOST", "DBROKER_CHAIN"):
            env.pop(k, None)
        for k, v in extra.items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = v
        return env

    def run_dbr(self, *args, env=None, stdin=None, timeout=30):
        if args[0] == "-p" and args[1] not in self.written:
            self.write_cfg({args[1]: {"broker_chain": "keyring"}})
        start = time.monotonic()
        p = subprocess.run([BIN, *args], env=env or self.env(), input=stdin,
                           capture_output=True, text=True, timeout=timeout)
        p.elapsed = time.monotonic() - start
        self.outputs += [p.stdout, p.stderr]
        return p

    def write_cfg(self, sections):
        """sections: {profile: {key: value}}; other tests' profiles kept."""
        with open(self.cfg, "a") as f:
            for name, kv in sections.items():
                self.written.add(name)
                f.write("[%s]\n" % name)
                for k, v in kv.items():
                    f.write("%s = %s\n" % (k, v))
        os.chmod(self.cfg, 0o600)

    def login(self, *args, profile=None, token=None, env=None):
        return self.run_dbr("-p", profile or self.profile, "login", *args,
                            stdin=(self.token if token is None else token) + "\n", env=env)

    def describe(self, profile=None, env=None):
        return self.run_dbr("-p", profile or self.profile, "--chain", "keyring",
                            "auth", "describe", env=env)

    def secret_tool(self, *args, stdin=None):
        p = subprocess.run(["secret-tool", *args], env=self.env(), input=stdin,
                           capture_output=True, text=True, timeout=30)
        return p

    # --- scenarios ------------------------------------------------------------

    def test_login_stdin_then_describe(self):
        self.write_cfg({self.profile: {"host": "https://one.example.com"}})
        p = self.login()
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("stored the token", p.stdout)
        self.assertIn("default collection", p.stdout)
        d = self.describe()
        self.assertEqual(d.returncode, 0, d.stdout + d.stderr)
        self.assertIn("source:     keyring", d.stdout)
        self.assertIn("https://one.example.com (from keyring)", d.stdout)
        self.assertIn("dapi…" + self.token[-4:], d.stdout)

    def test_login_then_secret_tool_lookup(self):
        p = self.login("--host", "https://two.example.com/")
        self.assertEqual(p.returncode, 0, p.stderr)
        s = self.secret_tool("lookup", "xdg:schema", "dbroker.Token",
                             "profile", self.profile, "host", "https://two.example.com")
        self.assertEqual(s.returncode, 0, s.stderr)
        self.assertEqual(s.stdout.strip(), self.token)
        s = self.secret_tool("search", "xdg:schema", "dbroker.Token", "profile", self.profile)
        self.assertIn("dbroker token for %s (https://two.example.com)" % self.profile,
                      s.stdout + s.stderr)

    def test_secret_tool_store_then_resolve(self):
        s = self.secret_tool("store", "--label=by hand", "xdg:schema", "dbroker.Token",
                             "profile", self.profile, "host", "https://three.example.com",
                             stdin=self.token)
        self.assertEqual(s.returncode, 0, s.stderr)
        d = self.describe()
        self.assertEqual(d.returncode, 0, d.stdout + d.stderr)
        self.assertIn("https://three.example.com (from keyring)", d.stdout)

    def test_item_with_a_nul_is_refused_not_cut(self):
        # another program stored the token with a NUL and more after it:
        # the bytes before the NUL are a well-formed token, but not what the
        # item holds; all of it reaches the one check, which refuses it
        # before anything is sent (before: cut at the NUL and sent)
        sys.path.insert(0, os.path.join(SRC, "tests", "doubles"))
        import workspace  # noqa: E402
        tmp = tempfile.mkdtemp(dir=ROOT)
        ws = workspace.start_workspace(tmp, [(self.token, "me@example.com")])
        try:
            s = self.secret_tool("store", "--label=by hand", "xdg:schema", "dbroker.Token",
                                 "profile", self.profile, "host", ws.url,
                                 stdin=self.token + "\0" + "trailing")
            self.assertEqual(s.returncode, 0, s.stderr)
            p = self.run_dbr("-p", self.profile, "--ca-cert", ws.ca_file, "api", "GET",
                             "/api/2.0/preview/scim/v2/Me")
            self.assertEqual(p.returncode, 4, p.stderr)
            self.assertIn("contains a control character (0x00), which no token has: store it "
                          "again as one word", p.stderr)
            self.assertNotIn("trailing", p.stdout + p.stderr)
            self.assertEqual(ws.requests(), [])
            # stored again without it, the same item serves
            s = self.secret_tool("store", "--label=by hand", "xdg:schema", "dbroker.Token",
                                 "profile", self.profile, "host", ws.url, stdin=self.token)
            self.assertEqual(s.returncode, 0, s.stderr)
            p = self.run_dbr("-p", self.profile, "--ca-cert", ws.ca_file, "api", "GET",
                             "/api/2.0/preview/scim/v2/Me")
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn("me@example.com", p.stdout)
        finally:
            ws.stop()

    def test_logout(self):
        self.assertEqual(self.login("--host", "https://four.example.com").returncode, 0)
        p = self.run_dbr("-p", self.profile, "logout")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("removed the token for profile '%s'" % self.profile, p.stdout)
        p = self.run_dbr("-p", self.profile, "logout")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("nothing removed", p.stdout)
        self.assertIn("no token for profile '%s' was in the keyring" % self.profile, p.stdout)
        d = self.describe()
        self.assertEqual(d.returncode, 3)
        self.assertIn("not here", d.stdout)
        s = self.secret_tool("lookup", "xdg:schema", "dbroker.Token", "profile", self.profile)
        self.assertEqual(s.stdout, "")

    def session_items(self):
        p = subprocess.run(
            ["gdbus", "call", "--session", "--dest", "org.freedesktop.secrets",
             "--object-path", "/org/freedesktop/secrets/aliases/session", "--method",
             "org.freedesktop.DBus.Properties.Get", "org.freedesktop.Secret.Collection",
             "Items"], env=self.env(), capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout

    @unittest.skipUnless(shutil.which("gdbus"), "needs gdbus")
    def test_session_collection_flag(self):
        before = self.session_items()
        p = self.login("--session", "--host", "https://five.example.com")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("session collection", p.stdout)
        after = self.session_items()
        self.assertGreater(after.count("/collection/session/"),
                           before.count("/collection/session/"))
        d = self.describe()
        self.assertEqual(d.returncode, 0, d.stdout + d.stderr)
        self.assertIn("https://five.example.com (from keyring)", d.stdout)

    @unittest.skipUnless(shutil.which("gdbus"), "needs gdbus")
    def test_session_collection_from_profile(self):
        self.write_cfg({self.profile: {"host": "https://six.example.com",
                                       "keyring_collection": "session"}})
        before = self.session_items()
        p = self.login()
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("session collection", p.stdout)
        self.assertGreater(self.session_items().count("/collection/session/"),
                           before.count("/collection/session/"))

    def test_two_profiles_two_hosts(self):
        a, b = self.profile + "_a", self.profile + "_b"
        tok_b = new_token()
        self.assertEqual(self.login("--host", "https://a.example.com", profile=a).returncode, 0)
        p = self.login("--host", "https://b.example.com", profile=b, token=tok_b)
        self.assertEqual(p.returncode, 0, p.stderr)
        da, db = self.describe(profile=a), self.describe(profile=b)
        self.assertIn("https://a.example.com (from keyring)", da.stdout)
        self.assertIn("https://b.example.com (from keyring)", db.stdout)
        self.assertIn("dapi…" + self.token[-4:], da.stdout)
        self.assertIn("dapi…" + tok_b[-4:], db.stdout)
        for text in (da.stdout, da.stderr, db.stdout, db.stderr):
            self.assertNotIn(tok_b, text)

    def test_profile_host_mismatch_is_not_here(self):
        self.write_cfg({self.profile: {"host": "https://other.example.com"}})
        self.assertEqual(self.login("--host", "https://seven.example.com").returncode, 0)
        d = self.describe()
        self.assertEqual(d.returncode, 3)
        self.assertIn("is for 'https://seven.example.com'", d.stdout)

    def test_profile_host_spelled_differently(self):
        # the exact-attribute lookup misses ("HTTPS://Eight.Example.com/" is not
        # the stored "https://eight.example.com"); the full search matches it
        self.write_cfg({self.profile: {"host": "HTTPS://Eight.Example.com/"}})
        self.assertEqual(self.login().returncode, 0)
        s = self.secret_tool("lookup", "xdg:schema", "dbroker.Token",
                             "profile", self.profile, "host", "https://eight.example.com")
        self.assertEqual(s.stdout.strip(), self.token)
        d = self.describe()
        self.assertEqual(d.returncode, 0, d.stdout + d.stderr)
        self.assertIn("https://eight.example.com (from keyring)", d.stdout)
        self.assertIn("dapi…" + self.token[-4:], d.stdout)

    def test_relogin_replaces(self):
        self.assertEqual(self.login("--host", "https://old.example.com").returncode, 0)
        tok2 = new_token()
        p = self.login("--host", "https://new.example.com", token=tok2)
        self.assertEqual(p.returncode, 0, p.stderr)
        s = self.secret_tool("search", "--all", "xdg:schema", "dbroker.Token",
                             "profile", self.profile)
        self.assertEqual((s.stdout + s.stderr).count("label = "), 1, s.stdout + s.stderr)
        self.assertIn("https://new.example.com (from keyring)", self.describe().stdout)
        # the same host again, from the session collection into the default
        # one, and a client secret in place of the token: one item each time
        # (the old ones go once the new one is stored)
        for args in ((), ("--session",), (), ("--oauth-m2m", "--client-id", "relogin-client")):
            tok2 = new_token()
            p = self.login("--host", "https://new.example.com", *args, token=tok2)
            self.assertEqual(p.returncode, 0, p.stderr)
            s = self.secret_tool("search", "--all", "profile", self.profile)
            self.assertEqual((s.stdout + s.stderr).count("label = "), 1, s.stdout + s.stderr)
            # the fingerprint login printed is the one in use
            fp = p.stdout.split("(sha256:")[1].split(")")[0]
            self.assertIn("sha256:" + fp, self.describe().stdout)
        self.assertIn("client_id = relogin-client", s.stdout + s.stderr)

    def test_no_dbus_session(self):
        empty = tempfile.mkdtemp(dir=ROOT)
        env = self.env(DBUS_SESSION_BUS_ADDRESS=None, XDG_RUNTIME_DIR=empty)
        base = self.run_dbr("-p", self.profile, "--chain", "profile", "auth",
                            "describe", env=env).elapsed
        d = self.run_dbr("-p", self.profile, "--chain", "keyring,profile", "auth",
                         "describe", env=env)
        self.assertEqual(d.returncode, 3, d.stdout + d.stderr)
        self.assertLess(d.elapsed, 1.0 + base)  # no waiting at all
        self.assertRegex(d.stdout, r"keyring +not here +no D-Bus session bus")
        p = self.login("--host", "https://x.example.com", env=env)
        self.assertEqual(p.returncode, 3)
        self.assertIn("no D-Bus session bus", p.stderr)
        p = self.run_dbr("-p", self.profile, "logout", env=env)
        self.assertEqual(p.returncode, 1)
        self.assertNotIn("nothing removed", p.stdout)
        self.assertIn("could not remove the token: no D-Bus session bus", p.stderr)

    def test_keyring_that_never_answers(self):
        path = os.path.join(tempfile.mkdtemp(dir=ROOT), "bus")
        bus = HangingBus(path)
        try:
            env = self.env(DBUS_SESSION_BUS_ADDRESS="unix:path=" + path)
            # what the same run costs without the keyring (slow under ASan on
            # a busy machine): the keyring may add its 3 s bound, not more
            base = self.run_dbr("-p", self.profile, "--chain", "profile", "auth",
                                "describe", env=env).elapsed
            d = self.run_dbr("-p", self.profile, "--chain", "keyring,profile", "auth",
                             "describe", env=env, timeout=20)
            self.assertLess(d.elapsed, 4.5 + base)
            self.assertEqual(d.returncode, 3, d.stdout + d.stderr)
            self.assertRegex(d.stdout, r"keyring +not here +the Secret Service did not answer")
            self.assertRegex(d.stdout, r"profile +not here")
            p = self.login("--host", "https://x.example.com", env=env)
            self.assertLess(p.elapsed, 4.5 + base)
            self.assertEqual(p.returncode, 7)  # timeout
            self.assertIn("did not answer", p.stderr)
            p = self.run_dbr("-p", self.profile, "logout", env=env)
            self.assertLess(p.elapsed, 4.5 + base)
            self.assertEqual(p.returncode, 7)
            self.assertNotIn("nothing removed", p.stdout)
        finally:
            bus.close()

    def own_keyring(self, prompter=None, login_keyring=True):
        """A keyring daemon of its own (a context manager), so the shared one
        stays unlocked; prompter: (answer, delay_ms) for a user at its unlock
        prompt (tests/doubles/mock_prompter.py); login_keyring=False: no
        default collection."""
        sys.path.insert(0, os.path.join(SRC, "tests", "doubles"))
        import keyring_session  # noqa: E402
        kr = tempfile.mkdtemp(dir=ROOT)
        kr_env = {"PATH": "/usr/bin:/bin", "HOME": kr, "XDG_RUNTIME_DIR": kr,
                  "XDG_DATA_HOME": kr, "XDG_CONFIG_HOME": kr, "XDG_CACHE_HOME": kr}
        return keyring_session.KeyringSession(kr_env, kr, prompter=prompter,
                                              login_keyring=login_keyring)

    def lock_default_collection(self, env):
        gdbus = ["gdbus", "call", "--session", "--dest", "org.freedesktop.secrets",
                 "--object-path", "/org/freedesktop/secrets", "--method"]
        alias = subprocess.run(gdbus + ["org.freedesktop.Secret.Service.ReadAlias",
                                        "default"], env=env, capture_output=True,
                               text=True, timeout=30)
        collection = alias.stdout.split("'")[1]
        lock = subprocess.run(gdbus + ["org.freedesktop.Secret.Service.Lock",
                                       "['%s']" % collection], env=env,
                              capture_output=True, text=True, timeout=30)
        self.assertEqual(lock.returncode, 0, lock.stderr)

    @contextlib.contextmanager
    def locked_keyring(self, answer, delay_ms, token=None):
        """own_keyring with a user at its prompt (answer, delay_ms), holding
        token (default self.token) for the profile, the collection locked.
        Yields (session, env)."""
        with self.own_keyring(prompter=(answer, delay_ms)) as ks:
            env = self.env(DBUS_SESSION_BUS_ADDRESS=ks.address)
            p = self.login("--host", "https://prompt.example.com", token=token, env=env)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.lock_default_collection(env)
            yield ks, env

    @unittest.skipUnless(shutil.which("gdbus"), "needs gdbus")
    def test_locked_keyring_not_interactive(self):
        with self.own_keyring() as ks:
            env = self.env(DBUS_SESSION_BUS_ADDRESS=ks.address)
            p = self.login("--host", "https://locked.example.com", env=env)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.lock_default_collection(env)
            # stdin is a pipe: not interactive, so no unlock prompt
            d = self.run_dbr("-p", self.profile, "--chain", "keyring", "auth", "describe",
                             env=env, stdin="")
            self.assertEqual(d.returncode, 3, d.stdout + d.stderr)
            self.assertLess(d.elapsed, 10)
            self.assertIn("is locked and this run is not interactive", d.stdout)
            self.assertIn("unlock the keyring (log in to the desktop) or run from a "
                          "terminal", d.stderr)
            self.assertIn("store one with 'dbroker login'", d.stderr)
            # storing into the locked collection fails too, and says so
            p = self.login("--host", "https://locked.example.com", env=env)
            self.assertEqual(p.returncode, 4, p.stderr)
            self.assertIn("could not store the token: the keyring is locked, nothing was "
                          "changed", p.stderr)
            self.assertIn("unlock the keyring", p.stderr)
            # and logout does not claim there was nothing to remove
            p = self.run_dbr("-p", self.profile, "logout", env=env, stdin="")
            self.assertEqual(p.returncode, 4, p.stdout + p.stderr)
            self.assertNotIn("nothing removed", p.stdout)
            self.assertIn("in a locked collection; it was not removed", p.stderr)
            self.assertIn("unlock the keyring", p.stderr)

    @unittest.skipUnless(shutil.which("gdbus"), "needs gdbus")
    def test_locked_client_secret_logout(self):
        # logout must not say "nothing removed" for a locked client secret
        with self.own_keyring() as ks:
            env = self.env(DBUS_SESSION_BUS_ADDRESS=ks.address)
            p = self.login("--host", "https://locked.example.com", "--oauth-m2m",
                           "--client-id", "locked-client", env=env)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.lock_default_collection(env)
            p = self.run_dbr("-p", self.profile, "logout", env=env, stdin="")
            self.assertEqual(p.returncode, 4, p.stdout + p.stderr)
            self.assertNotIn("nothing removed", p.stdout)
            self.assertIn("holds a client secret for profile '%s' in a locked collection; it "
                          "was not removed" % self.profile, p.stderr)

    def run_on_tty(self, *args, env):
        """dbroker with a terminal on stdin: an interactive run."""
        master, slave = pty.openpty()
        try:
            p = subprocess.run([BIN, "-p", self.profile, *args], env=env, stdin=slave,
                               capture_output=True, text=True, timeout=30,
                               start_new_session=True)
        finally:
            os.close(master)
            os.close(slave)
        self.outputs += [p.stdout, p.stderr]
        return p

    @unittest.skipUnless(shutil.which("gdbus"), "needs gdbus")
    def test_locked_keyring_from_a_terminal(self):
        # asked to unlock, the keyring shows a prompt, which cannot appear
        # here (no desktop session): the messages say so, and logout (which
        # never asks) does not send the user to a terminal
        with self.own_keyring() as ks:
            env = self.env(DBUS_SESSION_BUS_ADDRESS=ks.address)
            p = self.login("--host", "https://tty.example.com", env=env)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.lock_default_collection(env)
            d = self.run_on_tty("--chain", "keyring", "auth", "describe", env=env)
            self.assertEqual(d.returncode, 3, d.stdout + d.stderr)
            self.assertRegex(d.stdout, r"keyring +not here +the keyring item for profile '%s' "
                             r"is locked: the unlock prompt was dismissed or could not be "
                             r"shown \(it needs the desktop session\): unlock the keyring "
                             r"there and run again" % self.profile)
            rc, _, rest = self.login_typed(env)
            self.assertEqual(rc, 4, rest)
            self.assertIn("the keyring is locked, nothing was changed while storing: the unlock "
                          "prompt was dismissed or could not be shown", rest)
            p = self.run_on_tty("logout", env=env)
            self.assertEqual(p.returncode, 4, p.stdout + p.stderr)
            self.assertIn("in a locked collection; it was not removed: logout does not ask to "
                          "unlock it: unlock the keyring in the desktop session", p.stderr)
            self.assertNotIn("run from a terminal", p.stderr)

    @needs_prompter
    def test_logout_leaves_no_locked_token(self):
        # an old token in the locked default collection and a new one in
        # the session collection (login --session while the keyring was
        # locked): logout removes the one it can reach, and must not say the
        # profile's token is gone while the other waits to be unlocked
        old = new_token()
        with self.own_keyring(prompter=("password:pw", 0)) as ks:
            env = self.env(DBUS_SESSION_BUS_ADDRESS=ks.address)
            # the host spelled differently: the full search
            self.write_cfg({self.profile: {"host": "HTTPS://DUP.example.com/",
                                           "broker_chain": "keyring"}})
            p = self.login("--host", "https://dup.example.com", token=old, env=env)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.lock_default_collection(env)
            p = self.login("--session", "--host", "https://dup.example.com", env=env)
            self.assertEqual(p.returncode, 0, p.stderr)
            # login says what it could not replace
            self.assertIn("warning: keyring: a locked collection of the keyring still holds an "
                          "older token for profile '%s', which was not replaced: once that "
                          "collection is unlocked dbroker may use it; unlock the keyring and "
                          "log in again, which removes it" % self.profile, p.stderr)
            d = self.describe(env=env)
            self.assertEqual(d.returncode, 0, d.stdout + d.stderr)
            self.assertIn("dapi…" + self.token[-4:], d.stdout)
            # before: "removed the token", exit 0, and the old token was used
            # again once the keyring was unlocked
            p = self.run_dbr("-p", self.profile, "logout", env=env, stdin="")
            self.assertEqual(p.returncode, 4, p.stdout + p.stderr)
            self.assertIn("the keyring holds another token for profile '%s' in a locked "
                          "collection; it was not removed: logout does not ask to unlock it"
                          % self.profile, p.stderr)
            self.assertNotIn("removed the token", p.stdout)
            # the user unlocks the keyring (here: at dbroker's prompt) and
            # logs out again: now nothing is left
            d = self.run_on_tty("--chain", "keyring", "auth", "describe", env=env)
            self.assertEqual(d.returncode, 0, d.stdout + d.stderr)
            self.assertIn("dapi…" + old[-4:], d.stdout)
            p = self.run_dbr("-p", self.profile, "logout", env=env, stdin="")
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertIn("removed the token", p.stdout)
            d = self.describe(env=env)
            self.assertEqual(d.returncode, 3, d.stdout + d.stderr)
            self.assertIn("no token for profile", d.stdout)
            self.outputs += [p.stdout + p.stderr + d.stdout + d.stderr]
            self.assertNotIn(old, "".join(self.outputs))

    # The keyring's password is "pw" (keyring_session.py). The user answers
    # the unlock prompt after longer than the 3 s that every call without a
    # prompt is given: the scenario, not a timing check.
    SLOW_USER_MS = 4500

    @needs_prompter
    def test_unlock_prompt_answered_after_a_while(self):
        with self.locked_keyring("password:pw", self.SLOW_USER_MS) as (ks, env):
            d = self.run_on_tty("--chain", "keyring", "auth", "describe", env=env)
            self.assertEqual(d.returncode, 0, d.stdout + d.stderr)
            self.assertIn("https://prompt.example.com (from keyring)", d.stdout)
            self.assertIn("dapi…" + self.token[-4:], d.stdout)
            self.assertIn(WAITING, d.stderr)
            self.assertEqual(ks.prompts(), 1)
            # unlocked now: no prompt, no waiting
            d = self.run_on_tty("--chain", "keyring", "auth", "describe", env=env)
            self.assertEqual(d.returncode, 0, d.stdout + d.stderr)
            self.assertNotIn(WAITING, d.stderr)
            self.assertEqual(ks.prompts(), 1)

    @needs_prompter
    def test_login_waits_for_the_unlock_prompt(self):
        with self.locked_keyring("password:pw", self.SLOW_USER_MS,
                                 token=new_token()) as (ks, env):
            rc, out, rest = self.login_typed(env)
            self.assertEqual(rc, 0, rest)
            self.assertIn("stored the token", out)
            self.assertIn(WAITING, rest)
            self.assertEqual(ks.prompts(), 1)
            self.assertIn("dapi…" + self.token[-4:], self.describe(env=env).stdout)

    @needs_prompter
    def test_interrupt_at_the_unlock_prompt(self):
        # nobody answers the prompt: Ctrl-C stops dbroker, not the 2 min
        with self.locked_keyring("password:pw", 3600 * 1000) as (ks, env):
            master, slave = pty.openpty()
            proc = subprocess.Popen([BIN, "-p", self.profile, "--chain", "keyring", "auth",
                                     "describe"], env=env, stdin=slave, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, start_new_session=True)
            try:
                line = proc.stderr.readline().decode(errors="replace")
                self.assertIn(WAITING, line)
                # the prompt is on the "desktop" (the prompter has it)
                wait_until(ks.prompt_open)
                self.assertTrue(ks.prompt_open())
                self.assertEqual(ks.prompts(), 1)
                proc.send_signal(signal.SIGINT)
                out, err = proc.communicate(timeout=30)
            finally:
                reap_pty(proc, master, slave)
            self.outputs += [out.decode(errors="replace"), err.decode(errors="replace")]
            self.assertEqual(proc.returncode, 130, out + err)
            self.assertIn(b"credential provider 'keyring' failed: interrupted while waiting for "
                          b"the keyring unlock prompt", err)
            self.assertEqual(ks.prompts(), 1)
            # and the prompt went away from the "desktop"
            wait_until(lambda: not ks.prompt_open())
            self.assertFalse(ks.prompt_open())

    @needs_prompter
    def test_not_interactive_never_prompts(self):
        # a user at the prompt would answer, but a run without a terminal
        # does not ask: neither resolving nor login nor logout
        with self.locked_keyring("password:pw", 0) as (ks, env):
            d = self.run_dbr("-p", self.profile, "--chain", "keyring", "auth", "describe",
                             env=env, stdin="")
            self.assertEqual(d.returncode, 3, d.stdout + d.stderr)
            self.assertIn("is locked and this run is not interactive", d.stdout)
            p = self.login("--host", "https://prompt.example.com", env=env)
            self.assertEqual(p.returncode, 4, p.stderr)
            self.assertIn("the keyring is locked, nothing was changed while storing: unlock the "
                          "keyring (log in to the desktop session, or run from a terminal to get "
                          "the unlock prompt)", p.stderr)
            p = self.run_dbr("-p", self.profile, "logout", env=env, stdin="")
            self.assertEqual(p.returncode, 4, p.stdout + p.stderr)
            self.assertNotIn(WAITING, d.stderr + p.stderr)
            self.assertEqual(ks.prompts(), 0)

    @needs_prompter
    def test_no_default_collection_no_prompt(self):
        # making the default collection asks for its password: a run
        # without a terminal does not let libsecret bring that prompt up
        with self.own_keyring(prompter=("password:pw", 0), login_keyring=False) as ks:
            env = self.env(DBUS_SESSION_BUS_ADDRESS=ks.address)
            p = self.login("--host", "https://nocoll.example.com", env=env)
            # before: libsecret made the collection, showing its prompt
            self.assertEqual(ks.prompts(), 0)
            self.assertEqual(p.returncode, 4, p.stderr)
            self.assertIn("could not store the token: the keyring has no default collection, "
                          "and making one shows a prompt for its password, which a run "
                          "without a terminal never does: run 'dbroker login' from a "
                          "terminal, or create the keyring in the desktop session", p.stderr)
            self.assertNotIn(WAITING, p.stderr)

    @needs_prompter
    def test_terminal_login_creates_the_keyring(self):
        # no default collection: login from a terminal lets the keyring ask
        # for the new keyring's password, and waits for a person at that
        # prompt as for the unlock prompt (before: given up after 3 s)
        with self.own_keyring(prompter=("password:pw", self.SLOW_USER_MS),
                              login_keyring=False) as ks:
            env = self.env(DBUS_SESSION_BUS_ADDRESS=ks.address)
            self.write_cfg({self.profile: {"broker_chain": "keyring"}})
            rc, out, rest = self.login_typed(env)
            self.assertEqual(rc, 0, rest)
            self.assertIn("stored the token", out)
            self.assertIn("waiting for the keyring's prompt for the new keyring's password on "
                          "your desktop (up to 2 min; Ctrl-C to stop)", rest)
            self.assertEqual(ks.prompts(), 1)
            self.assertIn("dapi…", self.describe(env=env).stdout)

    @needs_prompter
    def test_login_stopped_at_prompt_keeps_old_token(self):
        # a token in the session collection, no default collection; login
        # from a terminal brings up the keyring's prompt for the new
        # keyring's password, and the user stops login there (Ctrl-C):
        # nothing was stored, so nothing may be gone (before: the old
        # token was removed before the new one was stored)
        old = new_token()
        with self.own_keyring(prompter=("password:pw", 3600 * 1000),
                              login_keyring=False) as ks:
            env = self.env(DBUS_SESSION_BUS_ADDRESS=ks.address)
            self.write_cfg({self.profile: {"host": "https://tty.example.com",
                                           "broker_chain": "keyring"}})
            p = self.login("--session", token=old, env=env)
            self.assertEqual(p.returncode, 0, p.stderr)
            master, slave, proc = self.login_on_pty(env=env)
            try:
                os.write(master, (self.token + "\n").encode())
                wait_until(ks.prompt_open)
                self.assertTrue(ks.prompt_open())
                proc.send_signal(signal.SIGINT)
                out, _ = proc.communicate(timeout=30)
                rest = self.read_pty(master, b"\x00", timeout=0.5).decode(errors="replace")
            finally:
                reap_pty(proc, master, slave)
            self.outputs += [out.decode(errors="replace"), rest]
            self.assertEqual(proc.returncode, 130, rest)
            self.assertIn("could not store the token: interrupted while waiting for the keyring's "
                          "prompt for the new keyring's password", rest)
            d = self.describe(env=env)
            self.assertEqual(d.returncode, 0, d.stdout + d.stderr)
            self.assertIn("dapi…" + old[-4:], d.stdout)

    @needs_prompter
    def test_unlock_prompt_dismissed_is_asked_once(self):
        # a dismissed prompt is the user's answer: not asked again
        with self.locked_keyring("cancel", 500) as (ks, env):
            d = self.run_on_tty("--chain", "keyring", "auth", "describe", env=env)
            self.assertEqual(d.returncode, 3, d.stdout + d.stderr)
            self.assertRegex(d.stdout, r"keyring +not here +the keyring item for profile '%s' "
                             r"is locked: the unlock prompt was dismissed or could not be "
                             r"shown" % self.profile)
            self.assertEqual(ks.prompts(), 1)

    @unittest.skipUnless(shutil.which("strace"), "needs strace")
    def test_ctrl_c_before_the_store_stores_nothing(self):
        # Ctrl-C (SIGTERM) after login read the token and before it asked the
        # keyring (here: held 5 s while it opens the keyring plugin, by
        # strace, which says so at once): nothing is stored
        # (before: the store went ahead, "stored the token", exit 0)
        self.write_cfg({self.profile: {"host": "https://ctrlc.example.com",
                                       "broker_chain": "keyring"}})
        plugin = os.path.join(self.plugins, "keyring.so")
        env = self.env()
        if "ASAN_OPTIONS" in env:
            # LeakSanitizer cannot run under ptrace: it aborts at exit
            env["ASAN_OPTIONS"] += ":detect_leaks=0"
        for sig, code in ((signal.SIGINT, 130), (signal.SIGTERM, 143)):
            trace = os.path.join(ROOT, "ctrlc-%d.strace" % sig)
            proc = subprocess.Popen(["strace", "-f", "-o", trace, "-P", plugin, "-e",
                                     "inject=openat:delay_exit=5000000", BIN, "-p",
                                     self.profile, "login"], env=env,
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
            try:
                proc.stdin.write(self.token + "\n")
                proc.stdin.close()
                held = []

                def holding():
                    with open(trace) as f:
                        held[:] = [line for line in f if "(DELAYED)" in line]
                    return held
                wait_until(lambda: os.path.exists(trace) and holding())
                self.assertTrue(held, "the plugin's open was not held")
                os.kill(int(held[0].split()[0]), sig)
                out, err = proc.stdout.read(), proc.stderr.read()
                proc.wait(timeout=60)
            finally:
                reap(proc)
            self.outputs += [out, err]
            self.assertEqual(proc.returncode, code, out + err)
            self.assertNotIn("stored the token", out)
            self.assertIn("interrupted before the Secret Service was asked", err)
            d = self.describe()
            self.assertEqual(d.returncode, 3, d.stdout + d.stderr)
            self.assertIn("no token for profile", d.stdout)

    def test_token_never_leaks(self):
        self.write_cfg({self.profile: {"host": "https://canary.example.com"}})
        proc = subprocess.Popen([BIN, "-p", self.profile, "login"], env=self.env(),
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            time.sleep(0.3)  # reading stdin now
            with open("/proc/%d/cmdline" % proc.pid, "rb") as f:
                self.assertNotIn(self.token.encode(), f.read())
            out, err = proc.communicate(self.token + "\n", timeout=30)
        finally:
            reap(proc)
        self.outputs += [out, err]
        self.assertEqual(proc.returncode, 0, err)
        self.describe()
        self.run_dbr("-p", self.profile, "--debug", "--chain", "keyring", "auth", "describe")
        for top in (self.home, ROOT):
            for root, _, files in os.walk(top):
                for name in files:
                    p = os.path.join(root, name)
                    if not os.path.isfile(p) or os.path.islink(p):
                        continue
                    with open(p, "rb") as f:
                        self.assertNotIn(self.token.encode(), f.read(), p)

    def test_refuses_short_and_empty(self):
        p = self.login("--host", "https://x.example.com", token="s3cr7")
        self.assertEqual(p.returncode, 2)
        self.assertIn("shorter than 8 bytes", p.stderr)
        self.assertIn("paste the whole personal access token", p.stderr)
        self.assertNotIn("s3cr7", p.stdout + p.stderr)
        p = self.login("--host", "https://x.example.com", token="")
        self.assertEqual(p.returncode, 2)
        self.assertIn("no token given", p.stderr)
        p = self.login("--host", "https://x.example.com", token="not-a-pat-but-long-enough")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("does not look like a Databricks personal access token", p.stderr)
        self.assertNotIn("not-a-pat-but-long-enough", p.stdout + p.stderr)

    def test_refuses_what_is_not_one_token(self):
        host = "https://x.example.com"
        # escape sequences, a space inside, a whole file on one line: refused
        # before anything is stored, and never echoed
        for bad, want in ((self.token + "\x1b[2J", "contains a space or a control character"),
                          (self.token[:20] + " " + self.token[20:],
                           "contains a space or a control character"),
                          (self.token + "\x7f", "contains a space or a control character"),
                          (self.token * 300, "longer than 8192 bytes")):
            p = self.login("--host", host, token=bad)
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn(want, p.stderr)
            self.assertIn("nothing was stored", p.stderr)
            s = self.secret_tool("lookup", "xdg:schema", "dbroker.Token", "profile",
                                 self.profile, "host", host)
            self.assertEqual(s.stdout, "", bad[:60])
        # spaces and a CR around it are not the token's: stored without them
        p = self.login("--host", host, token="  " + self.token + " \r")
        self.assertEqual(p.returncode, 0, p.stderr)
        s = self.secret_tool("lookup", "xdg:schema", "dbroker.Token", "profile", self.profile,
                             "host", host)
        self.assertEqual(s.stdout, self.token)

    def read_pty(self, fd, want, timeout=10):
        sys.path.insert(0, os.path.join(SRC, "tests", "doubles"))
        from pty_read import read_pty
        return read_pty(fd, want, timeout)

    def login_on_pty(self, env=None):
        master, slave = pty.openpty()
        proc = subprocess.Popen([BIN, "-p", self.profile, "login", "--host",
                                 "https://tty.example.com"], env=env or self.env(), stdin=slave,
                                stdout=subprocess.PIPE, stderr=slave, start_new_session=True)
        prompt = self.read_pty(master, b"input hidden: ")
        self.assertIn(b"input hidden: ", prompt)
        self.assertFalse(termios.tcgetattr(slave)[3] & termios.ECHO, "echo still on")
        return master, slave, proc

    def login_typed(self, env):
        """login with self.token typed at the terminal prompt: (exit code,
        stdout, what the terminal showed after the prompt)."""
        master, slave, proc = self.login_on_pty(env=env)
        try:
            os.write(master, (self.token + "\n").encode())
            out, _ = proc.communicate(timeout=60)
            rest = self.read_pty(master, b"\x00", timeout=0.5).decode(errors="replace")
        finally:
            os.close(master)
            os.close(slave)
        out = out.decode(errors="replace")
        self.outputs += [out, rest]
        return proc.returncode, out, rest

    def test_tty_prompt_without_echo(self):
        self.write_cfg({self.profile: {"broker_chain": "keyring"}})
        master, slave, proc = self.login_on_pty()
        try:
            os.write(master, (self.token + "\n").encode())
            out, _ = proc.communicate(timeout=30)
            rest = self.read_pty(master, b"\x00", timeout=0.5)
            self.assertEqual(proc.returncode, 0)
            self.assertIn(b"stored the token", out)
            self.assertNotIn(self.token.encode(), rest)
            self.assertTrue(termios.tcgetattr(slave)[3] & termios.ECHO, "echo not restored")
        finally:
            os.close(master)
            os.close(slave)
        self.assertIn("https://tty.example.com (from keyring)", self.describe().stdout)

    def test_tty_echo_restored_on_interrupt(self):
        self.write_cfg({self.profile: {"broker_chain": "keyring"}})
        master, slave, proc = self.login_on_pty()
        try:
            proc.send_signal(signal.SIGINT)
            proc.communicate(timeout=30)
            self.assertEqual(proc.returncode, -signal.SIGINT)
            self.assertTrue(termios.tcgetattr(slave)[3] & termios.ECHO, "echo not restored")
        finally:
            os.close(master)
            os.close(slave)

    def test_login_verify(self):
        sys.path.insert(0, os.path.join(SRC, "tests", "doubles"))
        import workspace  # noqa: E402
        tmp = tempfile.mkdtemp(dir=ROOT)
        ws = workspace.start_workspace(tmp, [(self.token, "me@example.com")])
        try:
            p = self.run_dbr("-p", self.profile, "--ca-cert", ws.ca_file, "login", "--verify",
                             "--host", ws.url, stdin=self.token + "\n")
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn("as 'me@example.com'", p.stdout)
            self.assertIn("stored the token", p.stdout)
            bad = new_token()
            p = self.run_dbr("-p", self.profile, "--ca-cert", ws.ca_file, "login", "--verify",
                             "--host", ws.url, stdin=bad + "\n")
            self.assertEqual(p.returncode, 5, p.stderr)
            self.assertIn("nothing was stored", p.stderr)
            self.assertNotIn(bad, p.stdout + p.stderr)
            self.assertIn("dapi…" + self.token[-4:], self.describe().stdout)
        finally:
            ws.stop()

    def test_remove_plaintext(self):
        self.cfg = os.path.join(tempfile.mkdtemp(dir=ROOT), "cfg")
        other = new_token()
        with open(self.cfg, "w") as f:
            f.write("host = https://default.example.com\n"
                    "[other]\nhost = https://o.example.com\ntoken = %s\n"
                    "[%s]\nhost = https://rp.example.com\n  TOKEN: %s\n"
                    "[other]\ncluster = x\n" % (other, self.profile, self.token))
        os.chmod(self.cfg, 0o600)
        self.written.add(self.profile)
        p = self.run_dbr("-p", self.profile, "login", "--remove-plaintext",
                         stdin=self.token + "\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("removed the plaintext token of profile '%s'" % self.profile, p.stdout)
        self.assertEqual(os.stat(self.cfg).st_mode & 0o7777, 0o600)
        with open(self.cfg) as f:
            text = f.read()
        self.assertNotIn(self.token, text)
        self.assertIn("token = %s\n" % other, text)
        self.assertIn("host = https://rp.example.com\n", text)
        self.assertEqual(os.listdir(os.path.dirname(self.cfg)), ["cfg"])
        d = self.run_dbr("-p", self.profile, "--chain", "profile", "auth", "describe")
        self.assertEqual(d.returncode, 3, d.stdout)
        self.assertIn("https://rp.example.com (from keyring)", self.describe().stdout)
        p = self.run_dbr("-p", self.profile, "login", "--remove-plaintext",
                         stdin=self.token + "\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("nothing to remove", p.stdout)

    @unittest.skipUnless(os.geteuid() == 0, "needs root to act as another user")
    def test_remove_plaintext_names_another_users_lock(self):
        # another user who can read the file (0644) opens it and holds a
        # shared lock: the edit waits its 10 s, then names that process and
        # its uid and how to keep others out, and leaves the file as it was
        d = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, d, True)
        os.chmod(d, 0o755)
        self.cfg = os.path.join(d, "cfg")
        body = "[%s]\nhost = https://lock.example.com\ntoken = %s\n" % (self.profile,
                                                                        self.token)
        with open(self.cfg, "w") as f:
            f.write(body)
        os.chmod(self.cfg, 0o644)
        self.written.add(self.profile)

        def as_nobody():
            os.setgid(65534)
            os.setuid(65534)

        holder = subprocess.Popen(
            ["/usr/bin/python3", "-c", "import fcntl, sys, time\n"
             "f = open(sys.argv[1])\nfcntl.flock(f, fcntl.LOCK_SH)\n"
             "print('locked', flush=True)\ntime.sleep(120)\n", self.cfg],
            preexec_fn=as_nobody, stdout=subprocess.PIPE, text=True)
        self.addCleanup(holder.stdout.close)
        self.addCleanup(holder.wait)
        self.addCleanup(holder.kill)
        self.assertEqual(holder.stdout.readline(), "locked\n")
        p = self.run_dbr("-p", self.profile, "login", "--remove-plaintext",
                         stdin=self.token + "\n", timeout=60)
        self.assertEqual(p.returncode, 7, p.stderr)
        self.assertIn("process %d of another user (uid 65534) has held a lock on '%s' for "
                      "10 s: whoever can open the file can lock it, and it is readable by "
                      "group or others; run 'chmod go-r %s' so that no one else can"
                      % (holder.pid, self.cfg, self.cfg), p.stderr)
        self.assertNotIn(self.token, p.stdout + p.stderr)
        with open(self.cfg) as f:
            self.assertEqual(f.read(), body)
        # as told: closed to others, and the holder gone, the edit goes through
        os.chmod(self.cfg, 0o600)
        holder.kill()
        holder.wait()
        p = self.run_dbr("-p", self.profile, "login", "--remove-plaintext",
                         stdin=self.token + "\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(self.cfg) as f:
            self.assertNotIn(self.token, f.read())

    def test_needs_a_host(self):
        p = self.login()
        self.assertEqual(p.returncode, 2)
        self.assertIn("no workspace host for profile", p.stderr)


def run_in_session():
    """Re-run this script inside a private D-Bus session with an unlocked
    gnome-keyring-daemon and a temporary HOME."""
    for tool in ("dbus-run-session", "gnome-keyring-daemon", "secret-tool"):
        if not shutil.which(tool):
            print("test_keyring: skipped: '%s' is not installed (scripts/bootstrap)" % tool)
            return 0
    root = tempfile.mkdtemp(prefix="dbr-kr-")
    try:
        home = os.path.join(root, "home")
        run = os.path.join(root, "run")
        plugins = os.path.join(root, "plugins")
        for d in (home, run, plugins):
            os.makedirs(d, mode=0o700)
        shutil.copy(os.path.join(BINARY_DIR, "plugins", "keyring.so"), plugins)
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": home,
            "XDG_DATA_HOME": os.path.join(home, ".local", "share"),
            "XDG_CONFIG_HOME": os.path.join(home, ".config"),
            "XDG_CACHE_HOME": os.path.join(home, ".cache"),
            "XDG_RUNTIME_DIR": run,
            "DBR_KEYRING_SESSION": "1",
            "DBR_KEYRING_ROOT": root,
        }
        for k in PASSTHROUGH:
            if k in os.environ:
                env[k] = os.environ[k]
        script = ('printf pw | gnome-keyring-daemon --unlock --components=secrets '
                  '>/dev/null && exec "$0" "$@"')
        cmd = ["dbus-run-session", "--", "sh", "-c", script, sys.executable,
               os.path.abspath(__file__)] + sys.argv[1:]
        return subprocess.run(cmd, env=env, timeout=600).returncode
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    if not IN_SESSION:
        sys.exit(run_in_session())
    unittest.main(verbosity=2)
