"""dbroker attacked the way an adversary would: another local user who can
write a CA file or a directory above it, a hostile workspace or Vault
(escape sequences, bidi overrides, redirects, echoed tokens), a signal at
the worst moment, a tiny locked-memory limit. Each test failed before the
fix it guards. Run by ctest with DBROKER_BIN, DBR_SOURCE_DIR and
DBR_BINARY_DIR set; the local-user tests need root (useradd)."""
import json
import os
import pty
import select
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import termios
import time
import tty
import unittest

sys.dont_write_bytecode = True
SRC = os.environ.get("DBR_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(SRC, "tests", "doubles"))
import keyring_session  # noqa: E402
import vault  # noqa: E402
import workspace  # noqa: E402
from local_user import LocalUser  # noqa: E402
from pty_read import read_pty  # noqa: E402
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from buildtree import sanitized_build  # noqa: E402
from secret_forms import encodings  # noqa: E402

BIN = os.environ.get("DBROKER_BIN", "dbroker")
PLUGIN_DIR = os.path.join(os.environ.get("DBR_BINARY_DIR", os.path.dirname(os.path.dirname(
    os.path.abspath(BIN)))), "plugins")
IS_ROOT = os.geteuid() == 0

TOKEN = "dapi" + secrets.token_hex(16)
OTHER = "dapi" + secrets.token_hex(16)
VAULT_ROOT = "hvs." + secrets.token_urlsafe(24)
ROLE_ID = "attack-role"
SECRET_ID = secrets.token_hex(18)
ALL_SECRETS = [TOKEN, OTHER, VAULT_ROOT, SECRET_ID]


class Base(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="dbr-attacks-")
        os.chmod(cls.tmp, 0o755)  # other users may walk in (not write)
        cls.ws = workspace.start_workspace(cls.tmp, [(TOKEN, "me@example.com")],
                                           pending_seconds=0.3, terminating_seconds=0.3)

    @classmethod
    def tearDownClass(cls):
        cls.ws.stop()
        shutil.rmtree(cls.tmp)

    def setUp(self):
        self.ws.reset()
        self.home = tempfile.mkdtemp(dir=self.tmp)
        os.chmod(self.home, 0o755)
        self.cfg = os.path.join(self.home, ".databrickscfg")

    def env(self, **extra):
        env = {"PATH": "/usr/bin:/bin", "HOME": self.home, "DBROKER_PLUGIN_DIR": self.home,
               "DATABRICKS_HOST": self.ws.url, "DATABRICKS_TOKEN": TOKEN}
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            if k in os.environ:
                env[k] = os.environ[k]
        env.update(extra)
        return {k: v for k, v in env.items() if v is not None}

    def run_dbr(self, *args, env=None, stdin="", timeout=60, text=True):
        p = subprocess.run([BIN] + list(args), env=env or self.env(), input=stdin,
                           capture_output=True, text=text, timeout=timeout)
        self.assert_no_secret(p.stdout, p.stderr)
        return p

    def assert_no_secret(self, *texts):
        for t in texts:
            if isinstance(t, bytes):
                t = t.decode("utf-8", "replace")
            for s in ALL_SECRETS:
                for form in encodings(s):
                    self.assertNotIn(form, t)

    def write_cfg(self, text, mode=0o600):
        with open(self.cfg, "w") as f:
            f.write(text)
        os.chmod(self.cfg, mode)


@unittest.skipUnless(IS_ROOT, "needs root to create another local user")
class CaFilesTest(Base):
    """Another user who can write the CA dbroker trusts could put their own
    CA there and read the token through a server of their own."""

    def setUp(self):
        super().setUp()
        self.user = LocalUser()
        self.addCleanup(self.user.remove)
        self.addCleanup(self.restore_modes)
        self.chmods = []

    def restore_modes(self):
        for path, mode in self.chmods:
            os.chmod(path, mode)

    def chmod(self, path, mode):
        self.chmods.append((path, os.stat(path).st_mode & 0o7777))
        os.chmod(path, mode)

    def ca_copy(self, where, name="ca.pem"):
        os.makedirs(where, exist_ok=True)
        path = os.path.join(where, name)
        shutil.copy(self.ws.ca_file, path)
        os.chmod(path, 0o644)
        return path

    def list_clusters(self, ca=None, **extra):
        args = ["--chain", "env"] + (["--ca-cert", ca] if ca else []) + ["clusters", "list"]
        return self.run_dbr(*args, env=self.env(**extra))

    def assert_refused(self, p, *needles):
        self.assertEqual(p.returncode, 4, p.stderr)
        for n in needles:
            self.assertIn(n, p.stderr)
        self.assertEqual(self.ws.requests(), [], "nothing may be sent")

    def test_ca_file_the_other_user_owns(self):
        ca = self.ca_copy(os.path.join(self.home, "certs"))
        self.assertEqual(self.list_clusters(ca).returncode, 0)
        self.ws.clear_requests()
        os.chown(ca, self.user.uid, self.user.gid)
        self.assertEqual(self.user.run("sh", "-c", "echo >> " + ca).returncode, 0)
        p = self.list_clusters(ca)
        self.assert_refused(p, "refusing the CA file '%s'" % ca,
                            "owned by uid %d" % self.user.uid, "chown %d %s" % (os.geteuid(), ca))

    def test_ca_file_writable_by_group_or_others(self):
        ca = self.ca_copy(os.path.join(self.home, "certs"))
        self.chmod(ca, 0o666)
        self.assertEqual(self.user.run("sh", "-c", "echo >> " + ca).returncode, 0)
        self.assert_refused(self.list_clusters(ca), "'%s' is writable by group or others" % ca,
                            "chmod go-w %s" % ca)

    def test_directory_above_the_ca_file(self):
        # the other user owns a directory on the way: they can swap the file
        mine = os.path.join(self.home, "theirs")
        ca = self.ca_copy(os.path.join(mine, "certs"))
        os.chown(mine, self.user.uid, self.user.gid)
        p = self.list_clusters(ca)
        self.assert_refused(p, "'%s' is owned by uid %d" % (mine, self.user.uid),
                            "chown root %s" % mine)
        os.chown(mine, 0, 0)
        # a group/other-writable directory without the sticky bit
        self.chmod(mine, 0o777)
        self.assertEqual(self.user.run("mkdir", os.path.join(mine, "x")).returncode, 0)
        self.assert_refused(self.list_clusters(ca), "'%s' is writable by group or others" % mine,
                            "chmod go-w %s" % mine)

    def test_profile_and_environment_cas(self):
        ca = self.ca_copy(os.path.join(self.home, "certs"))
        os.chown(ca, self.user.uid, self.user.gid)
        self.write_cfg("[DEFAULT]\nca_cert = %s\n" % ca)
        self.assert_refused(self.list_clusters(), "refusing the CA file '%s'" % ca)
        os.remove(self.cfg)
        for var in ("SSL_CERT_FILE", "CURL_CA_BUNDLE"):
            p = self.list_clusters(**{var: ca})
            self.assert_refused(p, "refusing the CA file '%s' from %s" % (ca, var))

    def test_link_to_a_file_the_other_user_owns(self):
        theirs = self.ca_copy(os.path.join(self.home, "drop"))
        os.chown(theirs, self.user.uid, self.user.gid)
        link = os.path.join(self.home, "certs", "ca.pem")
        os.makedirs(os.path.dirname(link))
        os.symlink(theirs, link)
        self.assert_refused(self.list_clusters(link), "'%s' is owned by uid %d"
                            % (theirs, self.user.uid))
        # a link to a safe file in a safe place is fine (hashed CA directories)
        os.chown(theirs, 0, 0)
        self.assertEqual(self.list_clusters(link).returncode, 0)


class VaultTest(Base):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.v = vault.start_vault(cls.tmp, tokens={VAULT_ROOT: {}},
                                  secrets_={"secret/db": {"token": TOKEN, "host": cls.ws.url}},
                                  mounts={"secret/": {"version": 2}},
                                  approles={ROLE_ID: {"secret_id": SECRET_ID,
                                                      "allow": ["secret/data/db"]}})

    @classmethod
    def tearDownClass(cls):
        cls.v.stop()
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.v.reset()
        self.write_cfg("[DEFAULT]\nvault_path = secret/db\n")

    def venv(self, **extra):
        e = {"DBROKER_PLUGIN_DIR": PLUGIN_DIR, "VAULT_ADDR": self.v.url,
             "VAULT_CACERT": self.v.ca_file,
             "VAULT_TOKEN": VAULT_ROOT, "DATABRICKS_TOKEN": None, "DATABRICKS_HOST": None}
        e.update(extra)
        return self.env(**e)

    def describe(self, **extra):
        return self.run_dbr("--chain", "vault", "auth", "describe", env=self.venv(**extra))

    def test_token_stored_with_a_host_goes_only_there(self):
        p = self.describe(DATABRICKS_HOST="https://evil.example.com")
        self.assertEqual(p.returncode, 4, p.stderr)
        self.assertIn("DATABRICKS_HOST names 'https://evil.example.com', but the token from "
                      "provider 'vault' is stored for '%s'" % self.ws.url, p.stderr)
        self.assertEqual(self.describe(DATABRICKS_HOST=self.ws.url).returncode, 0)

    def test_approle_token_revoked_on_every_signal(self):
        sid = os.path.join(self.home, "sid")
        fd = os.open(sid, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(SECRET_ID + "\n")
        self.write_cfg("[DEFAULT]\nvault_path = secret/db\nvault_role_id = %s\n"
                       "vault_secret_id_file = %s\n" % (ROLE_ID, sid))
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            self.v.reset()
            # the worst moment: logged in, the token read hanging
            self.v.add_fault("slow", path="secret/data/db", seconds=20)
            p = subprocess.Popen([BIN, "--chain", "vault", "auth", "describe"],
                                 env=self.venv(VAULT_TOKEN=None), stdin=subprocess.DEVNULL,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            deadline = time.monotonic() + 20
            while not self.v.requests(path="secret/data/db") and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertTrue(self.v.requests(path="secret/data/db"), "no read was started")
            time.sleep(0.3)
            t0 = time.monotonic()
            p.send_signal(sig)
            out, err = p.communicate(timeout=30)
            self.assertLess(time.monotonic() - t0, 6, err)  # bounded
            self.assertNotEqual(p.returncode, 0, sig)
            self.assert_no_secret(out, err)
            self.assertEqual(len(self.v.revoked()), 1, "%s: %s" % (sig, err))
            self.assertTrue(self.v.requests(path="revoke-self"), sig)

    @unittest.skipUnless(IS_ROOT, "needs root to create another local user")
    def test_vault_cacert_and_capath(self):
        self.user = LocalUser()
        self.addCleanup(self.user.remove)
        certs = os.path.join(self.home, "certs")
        ca = os.path.join(certs, "ca.pem")
        os.makedirs(certs)
        shutil.copy(self.v.ca_file, ca)
        self.assertEqual(self.describe(VAULT_CACERT=ca).returncode, 0)
        self.v.clear_requests()
        os.chown(ca, self.user.uid, self.user.gid)
        p = self.describe(VAULT_CACERT=ca)
        self.assertEqual(p.returncode, 4, p.stderr)
        self.assertIn("refusing the CA file '%s'" % ca, p.stderr)
        self.assertEqual(self.v.requests(), [])
        # VAULT_CAPATH: the directory and every file in it
        capath = os.path.join(self.home, "capath")
        shutil.copytree(os.path.join(self.v.tls_dir, "capath"), capath, symlinks=True)
        self.assertEqual(self.describe(VAULT_CACERT=None, VAULT_CAPATH=capath).returncode, 0)
        planted = os.path.join(capath, "planted.pem")
        shutil.copy(self.v.ca_file, planted)
        os.chown(planted, self.user.uid, self.user.gid)
        p = self.describe(VAULT_CACERT=None, VAULT_CAPATH=capath)
        self.assertEqual(p.returncode, 4, p.stderr)
        self.assertIn("refusing the CA directory '%s'" % capath, p.stderr)
        self.assertIn("'%s' is owned by uid %d" % (planted, self.user.uid), p.stderr)
        os.remove(planted)
        os.chown(capath, self.user.uid, self.user.gid)
        p = self.describe(VAULT_CACERT=None, VAULT_CAPATH=capath)
        self.assertEqual(p.returncode, 4, p.stderr)
        self.assertIn("CA directory '%s' is owned by uid %d" % (capath, self.user.uid), p.stderr)


class ChainTest(Base):
    def evil_workspace(self):
        """Another server trusted by the same CA: where DATABRICKS_HOST points."""
        evil = workspace.start_workspace(self.tmp, [(OTHER, "evil@example.com")],
                                         tls_dir=os.path.dirname(self.ws.ca_file))
        self.addCleanup(evil.stop)
        return evil

    def test_configured_source_with_missing_plugin(self):
        self.write_cfg("[DEFAULT]\nhost = %s\nvault_path = secret/db\ntoken = %s\n"
                       % (self.ws.url, TOKEN))
        env = self.env(DATABRICKS_TOKEN=None, DATABRICKS_HOST=None)
        for args in (["auth", "describe"], ["--ca-cert", self.ws.ca_file, "clusters", "list"]):
            p = self.run_dbr(*args, env=env)
            self.assertEqual(p.returncode, 4, p.stderr)
            self.assertIn("the profile sets 'vault_path', but provider plugin 'vault' is not "
                          "installed (looked for '%s/vault.so')" % self.home, p.stderr)
        self.assertEqual(self.ws.requests(), [])

    def test_profile_token_goes_only_to_its_host(self):
        evil = self.evil_workspace()
        self.write_cfg("[DEFAULT]\nhost = %s\ntoken = %s\n" % (self.ws.url, TOKEN))
        p = self.run_dbr("--ca-cert", self.ws.ca_file, "clusters", "list",
                         env=self.env(DATABRICKS_TOKEN=None, DATABRICKS_HOST=evil.url))
        self.assertEqual(p.returncode, 4, p.stderr)
        self.assertIn("DATABRICKS_HOST names '%s', but the token from provider 'profile' is "
                      "stored for '%s'" % (evil.url, self.ws.url), p.stderr)
        self.assertEqual(evil.requests(), [])
        # the same host, spelled otherwise, is the same host
        p = self.run_dbr("--ca-cert", self.ws.ca_file, "clusters", "list", env=self.env(
            DATABRICKS_TOKEN=None, DATABRICKS_HOST=self.ws.url.upper().replace("HTTPS", "https")
            + "/"))
        self.assertEqual(p.returncode, 0, p.stderr)
        # a plaintext token without a host belongs to no workspace
        self.write_cfg("[DEFAULT]\ntoken = %s\n" % TOKEN)
        p = self.run_dbr("--ca-cert", self.ws.ca_file, "clusters", "list",
                         env=self.env(DATABRICKS_TOKEN=None, DATABRICKS_HOST=evil.url))
        self.assertEqual(p.returncode, 4, p.stderr)
        self.assertIn("has a plaintext token but no host", p.stderr)
        self.assertEqual(evil.requests(), [])


# What a hostile server (or anyone on its path) sends to take over the
# terminal: set the window title, clear the screen, move up and rewrite a
# line, an 8-bit CSI, a forged log line, bidi overrides that reorder text.
HOSTILE = ("\x1b]0;pwned\x07\x1b[2J\x1b[1A\x9b31m\u009b32m\r\nfake: ok "
           "\u202eexe.txt\u2066x\u2069")
RAW_CONTROLS = ("\x1b", "\x07", "\x9b", "\u009b", "\u202e", "\u2066", "\u2069", "\r")


def run_on_tty(args, env, which):
    """Run dbroker with stdout or stderr on a raw pseudo-terminal; returns
    (exit code, what the terminal received, the other stream)."""
    master, slave = pty.openpty()
    tty.setraw(slave)  # no CR added to LF: what dbroker writes, byte for byte
    other = subprocess.PIPE
    p = subprocess.Popen([BIN] + list(args), env=env, stdin=subprocess.DEVNULL,
                         stdout=slave if which == "stdout" else other,
                         stderr=slave if which == "stderr" else other)
    os.close(slave)
    got = b""
    while True:
        r, _, _ = select.select([master], [], [], 30)
        if not r:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the last writer is gone
            break
        if not chunk:
            break
        got += chunk
    pipe = p.stderr if which == "stdout" else p.stdout
    rest = pipe.read()
    pipe.close()
    p.wait(timeout=60)
    os.close(master)
    return p.returncode, got.decode("utf-8", "surrogateescape"), rest.decode()


class HostileServerTest(Base):
    def dbr(self, *args, **kw):
        return self.run_dbr("--chain", "env", "--ca-cert", self.ws.ca_file, *args, **kw)

    def assert_inert(self, *texts):
        for t in texts:
            for c in RAW_CONTROLS:
                self.assertNotIn(c, t)

    def test_error_message_escaped(self):
        self.ws.add_fault("error", status=400, error_code="BAD_REQUEST", message=HOSTILE)
        p = self.dbr("clusters", "list")
        self.assertEqual(p.returncode, 6, p.stderr)
        self.assert_inert(p.stderr)
        self.assertIn("\\x1b]0;pwned\\x07\\x1b[2J", p.stderr)
        self.assertIn("\\u202eexe.txt", p.stderr)
        self.assertEqual(p.stderr.count("\n"), 1)  # no forged line
        # -o json: valid JSON whose message shows the same escapes
        self.ws.add_fault("error", status=400, error_code="BAD_REQUEST", message=HOSTILE)
        p = self.dbr("-o", "json", "clusters", "list")
        self.assert_inert(p.stdout, p.stderr)
        self.assertIn("\\x1b]0;pwned", json.loads(p.stdout)["error"]["message"])

    def test_cut_inside_a_token_hides_it(self):
        # the server quotes the token right where the 480-byte cut falls
        self.ws.add_fault("error", status=400, error_code="BAD_REQUEST",
                          message="x" * 470 + " " + TOKEN + " tail")
        p = self.dbr("clusters", "list")
        self.assertEqual(p.returncode, 6, p.stderr)
        self.assertNotIn(TOKEN[:12], p.stderr)
        self.assertIn("x" * 400, p.stderr)
        # and where the live progress line cuts the state message at 60
        self.ws.configure(next_outcome="ERROR", state_message="y" * 40 + " " + TOKEN)
        code, err, out = run_on_tty(["--chain", "env", "--ca-cert", self.ws.ca_file,
                                     "clusters", "create"], self.env(), "stderr")
        self.assertNotEqual(code, 0)
        self.assertIn("y" * 40, err)
        self.assertNotIn(TOKEN[:10], err)
        self.assert_no_secret(err, out)

    def test_token_quoted_without_its_prefix(self):
        # "dapi" is public: the 32 hex digits after it are the secret
        rest = TOKEN[4:]
        body = json.dumps({"error_code": "BAD_REQUEST", "message": "token " + rest})
        self.ws.add_fault("wire", "clusters/list", data=(
            "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
            "X-Request-Id: %s\r\nContent-Length: %d\r\n\r\n%s" % (rest, len(body), body)))
        p = self.dbr("clusters", "list")
        self.assertEqual(p.returncode, 6, p.stderr)
        self.assertIn("token *** (request id ***)", p.stderr)
        for args in (("api", "GET", "/api/2.0/preview/scim/v2/Me"),
                     ("--debug", "auth", "describe", "--check")):
            self.ws.add_fault("raw", path="scim/v2/Me", body="you are " + rest + "\n")
            p = self.dbr(*args)
            for t in (p.stdout, p.stderr):
                self.assertNotIn(rest, t)
                self.assertNotIn(rest[:16], t)

    def test_state_message_escaped(self):
        for which in ("stderr", None):
            self.ws.configure(next_outcome="ERROR", state_message=HOSTILE)
            if which:
                code, err, out = run_on_tty(["--chain", "env", "--ca-cert", self.ws.ca_file,
                                             "clusters", "create"], self.env(), which)
                err = err.replace("\r\x1b[K", "")  # the live line's own redraw
            else:
                p = self.dbr("clusters", "create")
                code, err, out = p.returncode, p.stderr, p.stdout
            self.assertEqual(code, 9, err)
            self.assert_inert(err, out)
            self.assertIn("\\x1b]0;pwned", err)

    def test_user_name_escaped(self):
        evil = "me\x1b[2J\nuser:       root (checked with the workspace)\u202e"
        self.ws.configure(tokens=[[TOKEN, evil]])
        p = self.dbr("auth", "describe", "--check")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assert_inert(p.stdout)
        users = [l for l in p.stdout.splitlines() if l.startswith("user:")]
        self.assertEqual(len(users), 1, p.stdout)
        self.assertIn("me\\x1b[2J\\nuser:", users[0])
        p = self.dbr("-o", "json", "auth", "describe", "--check")
        self.assert_inert(p.stdout)
        self.assertIn("\\u202e", p.stdout)
        self.assertEqual(json.loads(p.stdout)["credential"]["user"], evil)
        # login --verify prints whom the token signs in as
        p = self.dbr("--config-file", "/dev/null", "login", "--host", self.ws.url, "--verify",
                     stdin=TOKEN + "\n")
        self.assert_inert(p.stdout)
        self.assertIn("as 'me\\x1b[2J\\nuser:", p.stdout)

    def test_raw_api_body(self):
        body = "not json " + HOSTILE + "\n"
        self.ws.add_fault("raw", path="scim/v2/Me", body=body)
        p = subprocess.run([BIN, "--chain", "env", "--ca-cert", self.ws.ca_file, "api", "GET",
                            "/api/2.0/preview/scim/v2/Me"], env=self.env(), capture_output=True,
                           timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, body.encode())  # to a pipe: byte for byte
        self.ws.add_fault("raw", path="scim/v2/Me", body=body)
        code, out, err = run_on_tty(["--chain", "env", "--ca-cert", self.ws.ca_file, "api",
                                     "GET", "/api/2.0/preview/scim/v2/Me"], self.env(), "stdout")
        self.assertEqual(code, 0, err)
        self.assert_inert(out)
        self.assertIn("not json \\x1b]0;pwned\\x07", out)
        # a JSON answer stays JSON, with the controls escaped inside strings
        self.ws.add_fault("raw", path="scim/v2/Me", content_type="application/json",
                          body=json.dumps({"userName": HOSTILE}, ensure_ascii=False))
        p = self.dbr("api", "GET", "/api/2.0/preview/scim/v2/Me")
        self.assert_inert(p.stdout)
        self.assertEqual(json.loads(p.stdout)["userName"], HOSTILE)


# Runs argv[3:] as a foreground job on the terminal that is its stdin: a
# session leader that owns the terminal, and the job in a process group of
# its own, as a shell with job control does (a stop signal really stops it).
# Writes the job's pid to the fd named in argv[1].
JOB_SHELL = r"""
import fcntl, os, signal, sys, termios
fd, argv = int(sys.argv[1]), sys.argv[2:]
os.setsid()
fcntl.ioctl(0, termios.TIOCSCTTY, 0)
pid = os.fork()
if pid == 0:
    os.setpgid(0, 0)
    signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    os.tcsetpgrp(0, os.getpgrp())
    signal.signal(signal.SIGTTOU, signal.SIG_DFL)
    os.execv(argv[0], argv)
os.write(fd, b"%d\n" % pid)
os.close(fd)
os.waitpid(pid, 0)
"""


class TerminalTest(Base):
    def proc_state(self, pid):
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]

    def wait_for(self, what, cond, timeout=10):
        deadline = time.monotonic() + timeout
        while not cond():
            self.assertLess(time.monotonic(), deadline, what)
            time.sleep(0.02)

    def test_login_prompt_gives_the_terminal_back(self):
        master, slave = pty.openpty()
        self.addCleanup(os.close, master)
        self.addCleanup(os.close, slave)
        r, w = os.pipe()
        job = subprocess.Popen([sys.executable, "-c", JOB_SHELL, str(w), BIN, "--config-file",
                                "/dev/null", "login", "--host", self.ws.url],
                               env=self.env(DATABRICKS_TOKEN=None), stdin=slave, stdout=slave,
                               stderr=slave, pass_fds=(w,))
        os.close(w)
        self.addCleanup(job.wait, 30)
        pid = int(os.read(r, 64))
        os.close(r)
        self.addCleanup(lambda: os.path.exists("/proc/%d" % pid) and os.kill(pid, 9))
        shown = b""
        while b"input hidden" not in shown:
            ready, _, _ = select.select([master], [], [], 20)
            self.assertTrue(ready, shown)
            shown += os.read(master, 4096)

        def echo():
            return bool(termios.tcgetattr(slave)[3] & termios.ECHO)

        self.wait_for("echo off at the prompt", lambda: not echo())
        # Ctrl-Z: the job stops, and the shell gets a terminal that echoes
        os.kill(pid, signal.SIGTSTP)
        self.wait_for("stopped", lambda: self.proc_state(pid) == "T")
        self.assertTrue(echo(), "echo left off while the prompt is stopped")
        # fg: the prompt hides the input again
        os.kill(pid, signal.SIGCONT)
        self.wait_for("echo off again after SIGCONT", lambda: not echo())
        self.assertNotEqual(self.proc_state(pid), "T")
        # Ctrl-\\ ends it, and the terminal echoes again
        os.kill(pid, signal.SIGQUIT)
        self.wait_for("ended", lambda: job.poll() is not None)
        self.assertTrue(echo(), "echo left off after SIGQUIT")

    def test_login_refuses_a_host_with_a_password_before_the_prompt(self):
        # the prompt names the host: one with a password in it must be
        # refused before it is shown, and before anyone types a token
        password = "pw-" + secrets.token_hex(8)
        master, slave = pty.openpty()
        self.addCleanup(os.close, master)
        job = subprocess.Popen([BIN, "--config-file", "/dev/null", "login", "--store", "kernel",
                                "--host", "https://me:%s@adb-1.example.com" % password],
                               env=self.env(DATABRICKS_TOKEN=None, DBROKER_PLUGIN_DIR=PLUGIN_DIR),
                               stdin=slave, stdout=slave, stderr=slave)
        os.close(slave)
        self.addCleanup(job.wait, 30)
        shown = read_pty(master, b"input hidden", timeout=20)
        if b"input hidden" in shown:
            os.write(master, b"\n")  # end the prompt
            shown += read_pty(master, b"\0", timeout=20)  # to the end
        self.assertEqual(job.wait(30), 4, shown[:400])
        self.assertNotIn(password.encode(), shown)
        self.assertNotIn(b"input hidden", shown)
        self.assertIn(b"carries a user name or password", shown)


class ProcessTest(Base):
    def test_tokens_leave_the_environment_block_before_main(self):
        # login never asks the env provider, so nothing after main() would
        # scrub DATABRICKS_TOKEN (nor a service principal's secret): the
        # constructor must have done it already
        client_secret = "dose" + secrets.token_hex(16)
        p = subprocess.Popen([BIN, "--config-file", "/dev/null", "login", "--host",
                              self.ws.url], env=self.env(VAULT_TOKEN=VAULT_ROOT,
                                                         DATABRICKS_CLIENT_SECRET=client_secret),
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 10
            seen = b""
            # until it waits for the token on stdin (read(0, ...))
            while time.monotonic() < deadline:
                with open("/proc/%d/syscall" % p.pid) as f:
                    if f.read().startswith("0 0x0 "):
                        break
                time.sleep(0.02)
            with open("/proc/%d/environ" % p.pid, "rb") as f:
                seen = f.read()
            self.assertIn(b"HOME=", seen)
            for tok in (TOKEN, VAULT_ROOT, client_secret):
                self.assertNotIn(tok.encode(), seen)
                self.assertNotIn(tok[4:20].encode(), seen)
        finally:
            p.kill()
            p.communicate()


    def test_no_token_outside_secure_memory_while_waiting(self):
        self.waiting_create_holds_only_in_secure_memory(TOKEN, self.env())

    def test_no_client_secret_outside_secure_memory_while_waiting(self):
        # the same for a service principal's client secret, sent to the
        # token endpoint in HTTP Basic auth (CURLOPT_PASSWORD: that request's
        # handle is cleaned up, so libcurl keeps no copy with the connection)
        cid, secret = "attack-sp", "dose" + secrets.token_hex(16)
        self.ws.admin("POST", "/oauth", {"clients": [
            {"client_id": cid, "client_secret": secret}]})
        self.waiting_create_holds_only_in_secure_memory(secret, self.env(
            DATABRICKS_TOKEN=None, DATABRICKS_CLIENT_ID=cid, DATABRICKS_CLIENT_SECRET=secret))

    def waiting_create_holds_only_in_secure_memory(self, secret, env):
        # root reads the memory of a 'clusters create' waiting for RUNNING,
        # between two requests: the token may be in secure memory (locked,
        # MADV_DONTDUMP: 'dd' in smaps) and nowhere else; before, libcurl's
        # copy of CURLOPT_XOAUTH2_BEARER stayed on the ordinary heap with the
        # cached connection (unlocked: swap)
        self.ws.configure(pending_seconds=60)
        p = subprocess.Popen([BIN, "--ca-cert", self.ws.ca_file, "clusters", "create",
                              "--name", "mem"], env=env, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 30
            while not self.ws.requests(path="clusters/get"):
                self.assertIsNone(p.poll(), "dbroker ended before it waited")
                self.assertLess(time.monotonic(), deadline, "no clusters/get arrived")
                time.sleep(0.05)
            time.sleep(0.3)  # between two polls
            found = self.token_mappings(p.pid, secret[4:24].encode())
            self.assertIsNone(p.poll(), "dbroker ended while its memory was read")
        finally:
            p.kill()
            p.communicate()
        self.assertTrue(any(dd for _, dd in found), f"the scan missed secure memory: {found}")
        self.assertEqual([m for m, dd in found if not dd], [],
                         "the token is outside secure memory")

    @staticmethod
    def token_mappings(pid, needle):
        """[(mapping, excluded from dumps)] for each readable mapping that holds needle."""
        found, maps = [], []
        with open(f"/proc/{pid}/smaps") as f:
            for line in f:
                if line.startswith("VmFlags:"):
                    maps[-1][2] = " dd" in line
                elif not line.split()[0].endswith(":"):
                    maps.append([line.split()[0], line.split()[1], False, line.strip()])
        chunk = 64 << 20
        with open(f"/proc/{pid}/mem", "rb", 0) as mem:
            for rng, perm, dd, desc in maps:
                lo, hi = (int(x, 16) for x in rng.split("-"))
                if "r" not in perm or desc.endswith(("[vvar]", "[vsyscall]")):
                    continue
                # a sanitizer build's shadow memory: terabytes reserved, and
                # nothing but shadow bytes in it (its heap's regions are
                # mappings of their own)
                if hi - lo > 64 << 30:
                    continue
                # in chunks that overlap by the needle, for a match across two
                for at in range(lo, hi, chunk):
                    try:
                        mem.seek(at)
                        data = mem.read(min(chunk + len(needle) - 1, hi - at))
                    except (OSError, ValueError, OverflowError):
                        break
                    at_needle = data.find(needle)
                    if at_needle >= 0 and not ProcessTest.sanitizer_environ(data, at_needle):
                        found.append((desc, dd))
                        break
        return found

    @staticmethod
    def sanitizer_environ(data, at):
        """In a sanitizer build: the match at data[at] is in the runtime's
        own copy of the initial environment (sanitizer_common reads
        /proc/self/environ into a buffer of its own before main, so before
        dbroker can move the token out of the block). Release builds, the
        ones users run, have no such copy: there every match counts."""
        if not sanitized_build():
            return False
        entries = data[max(0, at - 4096):at + 4096].split(b"\0")
        return b"PATH=/usr/bin:/bin" in entries and any(
            e.startswith(b"DATABRICKS_") and data[at:at + 8] in e for e in entries)

    def run_limited(self, kib, *args):
        """dbroker with RLIMIT_MEMLOCK kib and, as root, without CAP_IPC_LOCK
        (which ignores the limit)."""
        cmd = []
        if IS_ROOT:
            cmd = ["setpriv", "--inh-caps=-ipc_lock", "--bounding-set=-ipc_lock"]
            if not shutil.which("setpriv") or subprocess.run(
                    cmd + ["true"], capture_output=True).returncode != 0:
                self.skipTest("cannot drop CAP_IPC_LOCK here (setpriv)")
        import resource

        def limit():
            resource.setrlimit(resource.RLIMIT_MEMLOCK, (kib * 1024, kib * 1024))

        p = subprocess.run(cmd + [BIN] + list(args), env=self.env(), capture_output=True,
                           text=True, timeout=60, preexec_fn=limit)
        self.assert_no_secret(p.stdout, p.stderr)
        return p

    def test_tiny_memlock_limit(self):
        # ulimit -l 64: an arena that fits, not none at all
        p = self.run_limited(64, "--chain", "env", "--strict", "auth", "describe")
        self.assertEqual(p.returncode, 0, p.stderr)
        # --strict: never "partly" (a secret that does not fit is refused)
        self.assertRegex(p.stdout, r"memory:\s+locked \(32 KiB arena, RLIMIT_MEMLOCK 64 KiB\)")
        # ulimit -l 0: said on stderr and in auth describe, exactly
        p = self.run_limited(0, "--chain", "env", "auth", "describe", "-o", "json")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("they are NOT locked (RLIMIT_MEMLOCK 0 KiB: secrets could be paged to "
                      "swap), excluded from core dumps, wiped on free", p.stderr)
        out = json.loads(p.stdout)
        self.assertFalse(out["secure_memory"])
        self.assertTrue(out["memory"].startswith("NOT locked (RLIMIT_MEMLOCK 0 KiB"))


@unittest.skipIf(keyring_session.missing_tools(), "needs dbus-run-session and "
                 "gnome-keyring-daemon (scripts/bootstrap)")
class RemovePlaintextTest(Base):
    """login --remove-plaintext edits the file the way the reader reads it."""

    def test_reads_the_file_like_the_reader(self):
        kdir = tempfile.mkdtemp(dir=self.tmp)
        ks = keyring_session.KeyringSession({"PATH": "/usr/bin:/bin", "HOME": self.home,
                                             "XDG_DATA_HOME": os.path.join(kdir, "data")},
                                            kdir)
        self.addCleanup(ks.stop)
        cases = [
            # a BOM before the first section: DEFAULT has no token here,
            # the one below belongs to [other]
            ("DEFAULT", "\ufeff[other]\nhost = https://o.example.com\ntoken = %s\n" % OTHER,
             None),
            # "\v[prod]" is a section to the reader: that token is prod's
            ("other", "[other]\nhost = https://o.example.com\n\v[prod]\ntoken = %s\n" % OTHER,
             None),
            ("prod", "[other]\ntoken = %s\n\v[prod]\r\n\ttoken\t= %s ; old\r\nhost = h" %
             (OTHER, TOKEN), "[other]\ntoken = %s\n\v[prod]\r\nhost = h" % OTHER),
        ]
        for profile, before, after in cases:
            with open(self.cfg, "w", newline="") as f:
                f.write(before)
            os.chmod(self.cfg, 0o600)
            pick = ["-p", profile] if profile != "DEFAULT" else []
            p = self.run_dbr("--config-file", self.cfg, *pick, "login", "--host",
                             self.ws.url, "--remove-plaintext", stdin=TOKEN + "\n",
                             env=self.env(DATABRICKS_TOKEN=None, DBROKER_PLUGIN_DIR=PLUGIN_DIR,
                                          DBUS_SESSION_BUS_ADDRESS=ks.address))
            self.assertEqual(p.returncode, 0, p.stderr)
            with open(self.cfg, newline="") as f:
                self.assertEqual(f.read(), after or before, profile)
            self.assertIn("nothing to remove" if after is None else "removed the plaintext",
                          p.stdout)


class CommandLineTest(Base):
    def test_token_after_double_dash_refused(self):
        for args in (["api", "GET", "/api/2.0/preview/scim/v2/Me", "--", TOKEN],
                     ["clusters", "get", "--", TOKEN],
                     ["--", "--token=" + TOKEN]):
            p = self.run_dbr("--chain", "env", "--ca-cert", self.ws.ca_file, *args)
            self.assertEqual(p.returncode, 2, args)
            self.assertTrue("revoke it" in p.stderr or "'--token' is refused" in p.stderr,
                            p.stderr)
        self.assertEqual(self.ws.requests(), [])

    def test_api_refuses_to_mint_tokens(self):
        for method, path in (("POST", "/api/2.0/token/create"),
                             ("post", "/api/2.0/token/create/?x=1"),
                             ("POST", "/api/2.0/Token-Management/on-behalf-of/tokens")):
            p = self.run_dbr("--chain", "env", "--ca-cert", self.ws.ca_file, "api", method,
                             path, "--json", '{"lifetime_seconds": 3600}')
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn("does not create tokens", p.stderr)
            self.assertIn("token commands", p.stderr)
        self.assertEqual(self.ws.requests(), [])
        # reading the token list stays allowed
        p = self.run_dbr("--chain", "env", "--ca-cert", self.ws.ca_file, "api", "GET",
                         "/api/2.0/token/list")
        self.assertNotIn("does not create tokens", p.stderr)
        self.assertEqual(len(self.ws.requests()), 1)


if __name__ == "__main__":
    unittest.main()
