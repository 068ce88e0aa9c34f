"""End-to-end tests of the kernel keyring provider (plugins/kernel) and
`dbroker login/logout --store kernel`, against the real kernel keyring: no
mocks, no D-Bus.

Isolation: the kernel keyring is per uid, not per directory, so this script
first gives itself a new, empty session keyring (children inherit it);
every test stores under a profile name of its own, random per run, and
removes every key it made, also when it fails. The tests that need other
users create them with useradd and delete them afterwards (keys included).

Needs root (useradd, another uid's quota), keyutils (keyctl) and the
seccomp_exec harness (DBR_SECCOMP_EXEC). Skipped, with the reason printed,
only where the kernel itself has no keyrings."""
import errno
import grp
import json
import os
import pwd
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.dont_write_bytecode = True
SRC = os.environ.get("DBR_SOURCE_DIR",
                     os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(SRC, "tests", "doubles"))
import kernel_keys as kk  # noqa: E402

BIN = os.environ.get("DBROKER_BIN", "dbroker")
BINARY_DIR = os.environ.get("DBR_BINARY_DIR", "")
SECCOMP = os.environ.get("DBR_SECCOMP_EXEC", "")
PLUGINS = os.path.join(BINARY_DIR, "plugins")
PASSTHROUGH = ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS")
PERM = 0x3f010000  # possessor alswrv, user v, group and other nothing
RUN = secrets.token_hex(3)  # this run's mark in every profile name
# the users made here cannot run a python under root's home: Debian's
USER_PYTHON = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable


def new_token():
    return "dapi" + secrets.token_hex(16)


class User:
    """A real user of its own, made with useradd; remove() deletes it and
    the keys it made."""

    def __init__(self, tag):
        self.name = "dbrk%s%s" % (tag, secrets.token_hex(3))
        subprocess.run(["useradd", "--system", "--no-create-home", "--user-group",
                        "--shell", "/usr/sbin/nologin", self.name], check=True,
                       capture_output=True, timeout=60)
        pw = pwd.getpwnam(self.name)
        self.uid, self.gid = pw.pw_uid, pw.pw_gid

    def preexec(self):
        """In the child: become the user, in a new session keyring (a full
        quota may refuse one a while: the garbage collector frees it)."""
        os.setgroups([])
        os.setgid(self.gid)
        os.setuid(self.uid)
        for _ in range(100):
            e = kk.errno_of(kk.join_new_session)
            if e is None:
                return
            if e != errno.EDQUOT:
                break
            time.sleep(0.1)
        raise OSError(e, "cannot join a new session keyring: %s" % os.strerror(e))

    def run(self, argv, **kw):
        return subprocess.run(argv, preexec_fn=self.preexec, capture_output=True, text=True,
                              timeout=60, **kw)

    def python(self, code, *args, **kw):
        return self.run([USER_PYTHON, "-c", code, *args], **kw)

    def wait_quota_released(self, timeout=30):
        """After its session keyring is gone, the kernel's garbage collector
        gives the user's quota back a moment later."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with open("/proc/key-users") as f:
                rows = [l.split() for l in f if l.split()[0] == "%d:" % self.uid]
            if not rows or int(rows[0][3].split("/")[0]) < 10:
                return
            time.sleep(0.1)
        raise AssertionError("the key quota of %s was not released" % self.name)

    def remove(self):
        # every key the user made: its persistent and user keyrings emptied
        # and invalidated, then the user itself
        code = ("import sys; sys.path.insert(0, %r); import kernel_keys as kk\n"
                "for ring in (kk.persistent(), kk.user_keyring()):\n"
                "    for k in kk.ids(ring):\n"
                "        kk.errno_of(kk.invalidate, k)\n"
                "    kk.errno_of(kk.invalidate, ring)\n"
                % os.path.join(SRC, "tests", "doubles"))
        try:
            self.python(code)
        finally:
            subprocess.run(["userdel", self.name], capture_output=True, timeout=60)
        try:
            grp.getgrnam(self.name)
            subprocess.run(["groupdel", self.name], capture_output=True, timeout=60)
        except KeyError:
            pass


class KernelTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.root = tempfile.mkdtemp(prefix="dbr-kernel-")
        cls.addClassCleanup(shutil.rmtree, cls.root, ignore_errors=True)
        os.chmod(cls.root, 0o711)  # the test users reach their homes inside

    def setUp(self):
        self.home = tempfile.mkdtemp(dir=self.root)
        self.cfg = os.path.join(self.home, ".databrickscfg")
        self.token = new_token()
        self.profile = "k%s_%s" % (RUN, self._testMethodName[5:30])
        self.outputs = []
        self.addCleanup(self.sweep)
        self.write_cfg("[%s]\nkernel_keyring = persistent\n" % self.profile)

    def tearDown(self):
        for text in self.outputs:
            self.assertNotIn(self.token, text)
            self.assertNotIn(self.token[4:], text)

    def sweep(self):
        """Whatever a test left in our keyrings under its profile goes."""
        prefix = "dbroker:%s:" % self.profile
        left = kk.sweep(prefix, [kk.persistent(), kk.user_keyring(), kk.session_keyring()])
        self.assertEqual(left, 0, "a test left %d key(s) for %s" % (left, prefix))

    def write_cfg(self, text, path=None, owner=None):
        path = path or self.cfg
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o600)
        if owner:
            os.chown(path, owner.uid, owner.gid)

    def env(self, home=None, **extra):
        env = {"PATH": "/usr/bin:/bin", "HOME": home or self.home,
               "DBROKER_PLUGIN_DIR": PLUGINS,
               "DATABRICKS_CONFIG_FILE": os.path.join(home or self.home, ".databrickscfg")}
        for k in PASSTHROUGH:
            if k in os.environ:
                env[k] = os.environ[k]
        env.update({k: v for k, v in extra.items() if v is not None})
        return env

    def dbr(self, *args, stdin=None, env=None, prefix=(), user=None, timeout=60):
        kw = {"preexec_fn": user.preexec} if user else {}
        p = subprocess.run([*prefix, BIN, *args], env=env or self.env(), input=stdin,
                           capture_output=True, text=True, timeout=timeout, **kw)
        self.outputs += [p.stdout, p.stderr]
        return p

    def login(self, *args, host="https://one.example.com", token=None, **kw):
        return self.dbr("-p", self.profile, "login", "--store", "kernel", "--host", host, *args,
                        stdin=(token or self.token) + "\n", **kw)

    def describe(self, *args, **kw):
        return self.dbr("-p", self.profile, *args, "auth", "describe", **kw)

    def key_id(self, p):
        m = re.search(r"key (\d+) in the (\w+) keyring", p.stdout)
        self.assertTrue(m, p.stdout + p.stderr)
        return int(m.group(1))

    def our_keys(self, ring):
        """{id: description} of this test's keys directly in ring."""
        out = {}
        for k in kk.ids(ring):
            line = kk.proc_keys().get(k, "")
            if " dbroker:%s:" % self.profile in line:
                out[k] = line.split(" dbroker:", 1)[1]
        return out

    # --- store, resolve, describe ------------------------------------------------

    def test_store_resolve_describe(self):
        self.write_cfg("[%s]\nhost = https://one.example.com\n" % self.profile)
        p = self.login("--ttl", "1h")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("in the kernel keyring: key ", p.stdout)
        kid = self.key_id(p)
        # the kernel holds it as promised: a user key in the persistent
        # keyring, described dbroker:<profile>:<host>, possessor and user only
        ring = kk.persistent()
        self.assertIn(kid, kk.ids(ring))
        t, uid, _, perm, desc = kk.describe(kid)
        self.assertEqual((t, uid, perm), ("user", os.getuid(), PERM))
        self.assertEqual(desc, "dbroker:%s:https://one.example.com" % self.profile)
        self.assertEqual(kk.read(kid), self.token.encode())
        self.assertRegex(kk.proc_keys()[kid].split()[3], r"^(59m|1h)$")
        # and dbroker finds it, with id, expiry and permissions in describe
        d = self.describe("--chain", "kernel")
        self.assertEqual(d.returncode, 0, d.stdout + d.stderr)
        self.assertIn("source:     kernel", d.stdout)
        self.assertIn("https://one.example.com (from kernel)", d.stdout)
        self.assertIn("dapi…" + self.token[-4:], d.stdout)
        self.assertRegex(d.stdout, r"kernel +found +key %d in the persistent keyring, "
                         r"expires in (59m|1h), permissions possessor alswrv, user v, "
                         r"group -, other -" % kid)
        self.assertEqual(self.dbr("-p", self.profile, "logout", "--store", "kernel").returncode,
                         0)

    def test_keyctl_sees_what_readme_says(self):
        # the README's inspection commands, run as written
        p = self.login("--ttl", "30m")
        self.assertEqual(p.returncode, 0, p.stderr)
        kid = self.key_id(p)
        script = ('keyctl get_persistent @s >/dev/null && keyctl show @s && '
                  'keyctl search @s user "dbroker:%s:https://one.example.com" && '
                  'keyctl rdescribe %d && grep dbroker: /proc/keys' % (self.profile, kid))
        k = subprocess.run(["keyctl", "session", "-", "sh", "-c", script],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(k.returncode, 0, k.stderr)
        self.assertIn("user: dbroker:%s:https://one.example.com" % self.profile, k.stdout)
        self.assertIn("\n%d\n" % kid, k.stdout)
        self.assertIn("user;%d;%d;3f010000;dbroker:%s:" % (os.getuid(), os.getgid(),
                                                          self.profile), k.stdout)
        self.assertNotIn(self.token, k.stdout)  # nothing above prints the payload
        self.dbr("-p", self.profile, "logout", "--store", "kernel")

    def test_default_chain_without_dbus(self):
        # a plain SSH session: no D-Bus; the default chain finds the kernel
        env = self.env(XDG_RUNTIME_DIR=tempfile.mkdtemp(dir=self.root))
        self.write_cfg("[%s]\nhost = https://one.example.com\n" % self.profile)
        self.assertEqual(self.login(env=env).returncode, 0)
        d = self.describe(env=env)
        self.assertEqual(d.returncode, 0, d.stdout + d.stderr)
        self.assertIn("chain:      from default", d.stdout)
        self.assertRegex(d.stdout, r"kernel +found")
        self.assertRegex(d.stdout, r"keyring +not asked")
        self.dbr("-p", self.profile, "logout", "--store", "kernel")

    def test_relogin_replaces_and_follows_host(self):
        p1 = self.login(host="https://old.example.com")
        self.assertEqual(p1.returncode, 0, p1.stderr)
        tok2 = new_token()
        p2 = self.login(host="https://new.example.com", token=tok2)
        self.assertEqual(p2.returncode, 0, p2.stderr)
        old, new = self.key_id(p1), self.key_id(p2)
        self.assertNotEqual(old, new)
        self.assertIsNotNone(kk.errno_of(kk.describe, old))  # invalidated
        self.assertEqual(list(self.our_keys(kk.persistent()).values()),
                         ["%s:https://new.example.com: %d" % (self.profile, len(tok2))])
        # without a host in the profile, the key's own host is used
        d = self.describe("--chain", "kernel")
        self.assertIn("https://new.example.com (from kernel)", d.stdout)
        self.assertIn("dapi…" + tok2[-4:], d.stdout)
        self.assertNotIn(tok2, d.stdout + d.stderr)
        self.dbr("-p", self.profile, "logout", "--store", "kernel")

    def test_relogin_same_host_replaces(self):
        p1 = self.login()
        tok2 = new_token()
        p2 = self.login(token=tok2)
        self.assertEqual(p2.returncode, 0, p2.stderr)
        old, new = self.key_id(p1), self.key_id(p2)
        self.assertNotEqual(old, new)
        self.assertEqual(list(self.our_keys(kk.persistent())), [new])
        self.assertIsNotNone(kk.errno_of(kk.describe, old))
        d = self.describe("--chain", "kernel")
        self.assertEqual(d.returncode, 0, d.stdout + d.stderr)
        self.assertIn("dapi…" + tok2[-4:], d.stdout)
        self.dbr("-p", self.profile, "logout", "--store", "kernel")

    def test_plaintext_token_left_behind_is_named_with_its_profile(self):
        # the advice names the profile: followed as printed, it acts on it
        self.write_cfg("[%s]\nhost = https://one.example.com\ntoken = %s\n"
                       % (self.profile, new_token()))
        p = self.login(host="https://one.example.com")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("profile '%s' still has a plaintext 'token' line" % self.profile, p.stderr)
        self.assertIn("('dbroker -p %s login --remove-plaintext', which asks for the token "
                      "again)" % self.profile, p.stderr)
        p = self.dbr("-p", self.profile, "login", "--store", "kernel", "--remove-plaintext",
                     stdin=self.token + "\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn("still has a plaintext", p.stderr)
        with open(self.cfg) as f:
            self.assertNotIn("token =", f.read())
        self.dbr("-p", self.profile, "logout", "--store", "kernel")

    def test_profiles_whose_names_extend_another_keep_their_keys(self):
        # "P:y" and "P:one.example.com" describe keys that start with
        # "dbroker:P:": profile P must neither use nor replace nor remove them
        names = [self.profile, self.profile + ":y", self.profile + ":one.example.com"]
        self.write_cfg("".join("[%s]\nkernel_keyring = persistent\n" % n for n in names))
        toks = {n: new_token() for n in names}
        self.addCleanup(lambda: [kk.sweep("dbroker:%s:" % n, [kk.persistent()])
                                 for n in names[1:]])
        for n in names[1:]:
            p = self.dbr("-p", n, "login", "--store", "kernel", "--host",
                         "https://two.example.com", stdin=toks[n] + "\n")
            self.assertEqual(p.returncode, 0, p.stderr)
        d = self.describe("--chain", "kernel")
        self.assertEqual(d.returncode, 3, d.stdout + d.stderr)
        self.assertIn("no token for profile '%s' in the persistent keyring" % self.profile,
                      d.stdout)
        p = self.dbr("-p", self.profile, "logout", "--store", "kernel")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("nothing removed", p.stdout)
        self.assertEqual(self.login(token=toks[names[0]]).returncode, 0)
        for n in names:
            d = self.dbr("-p", n, "--chain", "kernel", "auth", "describe")
            self.assertEqual(d.returncode, 0, n + d.stdout + d.stderr)
            self.assertIn("dapi…" + toks[n][-4:], d.stdout)
        for n in names:
            p = self.dbr("-p", n, "logout", "--store", "kernel")
            self.assertIn("removed the token for profile '%s'" % n, p.stdout)
        for t in toks.values():
            for text in self.outputs:
                self.assertNotIn(t, text)

    def test_many_keys_of_a_profile_all_replaced_and_removed(self):
        # more keys of the profile than dbroker looks at in one listing
        # (planted, or left by logins that raced): login leaves one, logout none
        ring = kk.persistent()

        def plant():
            return [kk.add("dbroker:%s:https://h%d.example.com" % (self.profile, i),
                           new_token().encode(), ring) for i in range(40)]
        plant()
        kid = self.key_id(self.login())
        self.assertEqual(list(self.our_keys(ring)), [kid])
        plant()
        p = self.dbr("-p", self.profile, "logout", "--store", "kernel")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("removed the token for profile", p.stdout)
        self.assertEqual(self.our_keys(ring), {})
        d = self.describe("--chain", "kernel")
        self.assertEqual(d.returncode, 3, d.stdout + d.stderr)

    def test_profile_host_mismatch_is_not_here(self):
        self.write_cfg("[%s]\nhost = https://other.example.com\n" % self.profile)
        self.assertEqual(self.login(host="https://seven.example.com").returncode, 0)
        d = self.describe("--chain", "kernel")
        self.assertEqual(d.returncode, 3, d.stdout + d.stderr)
        self.assertIn("the kernel keyring's token for profile '%s' is for "
                      "'https://seven.example.com', not for the profile's host "
                      "'https://other.example.com'" % self.profile, d.stdout)
        self.dbr("-p", self.profile, "logout", "--store", "kernel")

    # --- expiry, logout, revocation ----------------------------------------------

    def test_expiry(self):
        p = self.login("--ttl", "2s")
        self.assertEqual(p.returncode, 0, p.stderr)
        kid = self.key_id(p)
        self.assertEqual(self.describe("--chain", "kernel").returncode, 0)
        time.sleep(2.5)
        self.assertEqual(kk.errno_of(kk.read, kid), errno.EKEYEXPIRED)
        # expired is "not here", with the hint, and the chain goes on
        self.write_cfg("[%s]\nhost = https://one.example.com\ntoken = %s\n"
                       % (self.profile, new_token()))
        d = self.describe("--chain", "kernel,profile")
        self.assertEqual(d.returncode, 0, d.stdout + d.stderr)
        self.assertRegex(d.stdout, r"kernel +not here +the token for profile '%s' in the "
                         r"kernel keyring has expired: log in again \(dbroker login --store "
                         r"kernel\)" % self.profile)
        self.assertIn("source:     profile", d.stdout)
        # logout still removes the dead key from the keyring
        p = self.dbr("-p", self.profile, "logout", "--store", "kernel")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("removed the token for profile", p.stdout)
        self.assertNotIn(kid, kk.ids(kk.persistent()))

    def paused_at_read(self, kid, *args):
        """dbroker *args, started under strace and held for 3 s as it is
        about to read key kid (listed: its id known, its bytes not yet
        read). Returns the process, once it is held there."""
        trace = os.path.join(self.home, "trace")
        argv = ("strace", "-f", "-s", "0", "-o", trace, "-e", "trace=keyctl")
        env = self.env()
        if "ASAN_OPTIONS" in env:
            # LeakSanitizer cannot run under ptrace: it aborts at exit
            env["ASAN_OPTIONS"] += ":detect_leaks=0"
        subprocess.run([*argv, BIN, *args], env=env, capture_output=True, timeout=60)
        with open(trace) as f:
            calls = [l for l in f if "keyctl(" in l]
        nth = 1 + next(i for i, l in enumerate(calls)
                       if re.search(r"keyctl\(KEYCTL_READ, %d, NULL, 0\)" % kid, l))
        os.unlink(trace)
        p = subprocess.Popen([*argv, "-e", "inject=keyctl:delay_enter=3000000:when=%d" % nth,
                              BIN, *args], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        self.addCleanup(p.kill)
        end = time.monotonic() + 30
        while time.monotonic() < end:
            # strace writes a call's start as it enters it: the read's is there
            if os.path.exists(trace):
                with open(trace) as f:
                    if f.read().count("keyctl(") >= nth:
                        return p
            time.sleep(0.02)
        self.fail("dbroker never reached the read of key %d" % kid)

    def test_key_replaced_between_list_and_read(self):
        # another login replaces the key after dbroker listed it and before
        # it read it: dbroker reads the new one, neither an error nor no token
        self.write_cfg("[%s]\nhost = https://one.example.com\n" % self.profile)
        kid = self.key_id(self.login())
        args = ("-p", self.profile, "--chain", "kernel", "auth", "describe")
        for how in ("login", "logout"):
            with self.subTest(how):
                p = self.paused_at_read(kid, *args)
                if how == "login":
                    tok2 = new_token()
                    kid = self.key_id(self.login(token=tok2))
                else:
                    self.assertEqual(self.dbr("-p", self.profile, "logout", "--store",
                                              "kernel").returncode, 0)
                out, err = p.communicate(timeout=60)
                self.outputs += [out, err]
                if how == "login":
                    self.assertEqual(p.returncode, 0, out + err)
                    self.assertIn("dapi…" + tok2[-4:], out)
                    self.assertIn("key %d in the persistent keyring" % kid, out)
                else:
                    # gone: as if the logout had come first, not a failure
                    self.assertEqual(p.returncode, 3, out + err)
                    self.assertIn("no token for profile '%s'" % self.profile, out)

    def test_logout_unlinks_and_invalidates(self):
        p = self.login()
        kid = self.key_id(p)
        # a copy linked elsewhere (say, into the session keyring) dies too;
        # linking it takes possession: the persistent keyring in ours
        kk.persistent()
        kk.link(kid, kk.session_keyring())
        p = self.dbr("-p", self.profile, "logout", "--store", "kernel")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("removed the token for profile '%s' from the kernel keyring"
                      % self.profile, p.stdout)
        self.assertNotIn(kid, kk.ids(kk.persistent()))
        self.assertIsNotNone(kk.errno_of(kk.read, kid))
        p = self.dbr("-p", self.profile, "logout", "--store", "kernel")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("nothing removed: no token for profile '%s' was in the persistent "
                      "keyring" % self.profile, p.stdout)
        d = self.describe("--chain", "kernel")
        self.assertEqual(d.returncode, 3)
        self.assertIn("store one with 'dbroker login --store kernel'", d.stdout)

    def test_revoked_key_fails_closed(self):
        kid = self.key_id(self.login())
        kk.revoke(kid)
        self.write_cfg("[%s]\nhost = https://one.example.com\ntoken = %s\n"
                       % (self.profile, new_token()))
        d = self.describe("--chain", "kernel,profile")
        self.assertEqual(d.returncode, 4, d.stdout + d.stderr)
        self.assertIn("was revoked (EKEYREVOKED while reading the token): dbroker will "
                      "neither use it nor fall back to another source", d.stderr)
        self.assertRegex(d.stdout, r"profile +not asked")
        p = self.dbr("-p", self.profile, "logout", "--store", "kernel")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn(kid, kk.ids(kk.persistent()))

    def test_dead_key_of_another_type_is_not_a_token(self):
        # a keyring and a logon key with the profile's description, dead:
        # not dbroker's (a live one is ignored for its type; a dead one too)
        ring = kk.persistent()
        desc = "dbroker:%s:https://one.example.com" % self.profile
        keyring = kk.add(desc, b"", ring, type_="keyring")
        logon = kk.add(desc, b"dapi" + b"0" * 32, ring, type_="logon")
        kk.revoke(keyring)
        kk.revoke(logon)
        self.addCleanup(lambda: [kk.errno_of(kk.unlink, k, ring) for k in (keyring, logon)])
        self.write_cfg("[%s]\nhost = https://one.example.com\ntoken = %s\n"
                       % (self.profile, new_token()))
        d = self.describe("--chain", "kernel,profile")
        self.assertEqual(d.returncode, 0, d.stdout + d.stderr)
        self.assertRegex(d.stdout, r"kernel +not here +no token for profile '%s' in the "
                         r"persistent keyring" % self.profile)
        self.assertIn("source:     profile", d.stdout)
        p = self.dbr("-p", self.profile, "logout", "--store", "kernel")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("nothing removed", p.stdout)
        self.assertIn(keyring, kk.ids(ring))
        self.assertIn(logon, kk.ids(ring))

    def test_oversized_key_fails_closed(self):
        # a key no login made, larger than any token: refused, the chain
        # stops, and the exit code is a provider's (4), not a server's
        ring = kk.persistent()
        kid = kk.add("dbroker:%s:https://one.example.com" % self.profile, b"dapi" * 5000, ring)
        self.write_cfg("[%s]\nhost = https://one.example.com\ntoken = %s\n"
                       % (self.profile, new_token()))
        d = self.describe("--chain", "kernel,profile")
        self.assertEqual(d.returncode, 4, d.stdout + d.stderr)
        self.assertIn("key %d holds 20000 bytes, more than any token: it is not one dbroker "
                      "stored; remove it with 'dbroker logout --store kernel'" % kid, d.stderr)
        self.assertRegex(d.stdout, r"profile +not asked")
        p = self.dbr("-p", self.profile, "logout", "--store", "kernel")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn(kid, kk.ids(ring))

    # --- other users, root, other sessions ------------------------------------------

    def user_home(self, user):
        home = tempfile.mkdtemp(dir=self.root)
        os.chown(home, user.uid, user.gid)
        self.write_cfg("[%s]\nhost = https://one.example.com\n" % self.profile,
                       path=os.path.join(home, ".databrickscfg"), owner=user)
        return home

    def owner_logged_in_and_intruder(self):
        """Two throw-away users; the first has logged in (its own HOME, a
        token in its persistent keyring). Returns (owner, intruder, home,
        the login's CompletedProcess)."""
        owner, intruder = User("o"), User("i")
        self.addCleanup(owner.remove)
        self.addCleanup(intruder.remove)
        home = self.user_home(owner)
        p = self.login(env=self.env(home), user=owner)
        self.assertEqual(p.returncode, 0, p.stderr)
        return owner, intruder, home, p

    def test_second_user_cannot_read(self):
        owner, intruder, home, p = self.owner_logged_in_and_intruder()
        kid = self.key_id(p)
        d = self.describe("--chain", "kernel", env=self.env(home), user=owner)
        self.assertEqual(d.returncode, 0, d.stdout + d.stderr)
        # the intruder knows the id (it is printed) and tries every way in
        attack = ("import sys; sys.path.insert(0, %r); import kernel_keys as kk\n"
                  "k, uid = int(sys.argv[1]), int(sys.argv[2])\n"
                  "print(kk.errno_of(kk.read, k), kk.errno_of(kk.describe, k),\n"
                  "      kk.errno_of(kk.link, k, kk.session_keyring()),\n"
                  "      kk.errno_of(kk.setperm, k, 0x3f3f3f3f), kk.errno_of(kk.invalidate, k),\n"
                  "      kk.errno_of(kk.persistent, uid), k in kk.proc_keys())\n"
                  % os.path.join(SRC, "tests", "doubles"))
        a = intruder.python(attack, str(kid), str(owner.uid))
        self.assertEqual(a.returncode, 0, a.stderr)
        # EACCES for the key, EPERM for the owner's persistent keyring, and
        # /proc/keys does not list it
        self.assertEqual(a.stdout.split(), ["13", "13", "13", "13", "13", "1", "False"])
        ihome = self.user_home(intruder)
        d = self.describe("--chain", "kernel", env=self.env(ihome), user=intruder)
        self.assertEqual(d.returncode, 3, d.stdout + d.stderr)
        self.assertNotIn(self.token, d.stdout + d.stderr)
        # root: refused by id like anyone else, but with CAP_SETUID it can
        # take the owner's persistent keyring and read (README says so)
        self.assertEqual(kk.errno_of(kk.read, kid), 13)
        self.assertNotIn(kid, kk.proc_keys())
        rootread = subprocess.run(
            [sys.executable, "-c", "import sys; sys.path.insert(0, %r); import kernel_keys as "
             "kk; kk.join_new_session(); kk.persistent(int(sys.argv[2])); "
             "print(kk.read(int(sys.argv[1])) == sys.argv[3].encode())"
             % os.path.join(SRC, "tests", "doubles"), str(kid), str(owner.uid), self.token],
            capture_output=True, text=True, timeout=30)
        self.assertEqual(rootread.stdout.strip(), "True", rootread.stderr)
        p = self.dbr("-p", self.profile, "logout", "--store", "kernel", env=self.env(home),
                     user=owner)
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_second_user_cannot_plant(self):
        # another user tries to put a key of the owner's description where
        # the owner's dbroker looks (the persistent and user keyrings, by
        # id): refused, and the owner's dbroker finds only its own token
        owner, intruder, home, p = self.owner_logged_in_and_intruder()
        rings = owner.python("import sys; sys.path.insert(0, %r); import kernel_keys as kk\n"
                             "print(kk.persistent(), kk.user_keyring())"
                             % os.path.join(SRC, "tests", "doubles"))
        self.assertEqual(rings.returncode, 0, rings.stderr)
        attack = ("import sys; sys.path.insert(0, %r); import kernel_keys as kk\n"
                  "desc, planted = sys.argv[1], sys.argv[2].encode()\n"
                  "mine = kk.add(desc, planted, kk.session_keyring())\n"
                  "kk.setperm(mine, 0x3f3f3f3f)\n"
                  "for ring in map(int, sys.argv[3:]):\n"
                  "    print(kk.errno_of(kk.add, desc, planted, ring),\n"
                  "          kk.errno_of(kk.link, mine, ring))\n"
                  % os.path.join(SRC, "tests", "doubles"))
        planted = new_token()
        a = intruder.python(attack, "dbroker:%s:https://one.example.com" % self.profile,
                            planted, *rings.stdout.split())
        self.assertEqual(a.returncode, 0, a.stderr)
        self.assertEqual(a.stdout.split(), ["13"] * 4)  # EACCES, all four
        d = self.describe("--chain", "kernel", env=self.env(home), user=owner)
        self.assertEqual(d.returncode, 0, d.stdout + d.stderr)
        self.assertIn("dapi…" + self.token[-4:], d.stdout)
        self.assertNotIn(planted[-4:], d.stdout)
        p = self.dbr("-p", self.profile, "logout", "--store", "kernel", env=self.env(home),
                     user=owner)
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_session_keyring_hidden_from_other_sessions(self):
        # kernel_keyring = session: same uid, another session cannot read it,
        # since the user has only "view"
        self.write_cfg("[%s]\nhost = https://one.example.com\nkernel_keyring = session\n"
                       % self.profile)
        p = self.login()
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("in the session keyring", p.stdout)
        kid = self.key_id(p)
        self.assertIn(kid, kk.ids(kk.session_keyring()))
        other = ("import sys; sys.path.insert(0, %r); import kernel_keys as kk\n"
                 "kk.join_new_session(); print(kk.errno_of(kk.read, int(sys.argv[1])))"
                 % os.path.join(SRC, "tests", "doubles"))
        o = subprocess.run([sys.executable, "-c", other, str(kid)], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(o.stdout.strip(), "13", o.stderr)  # EACCES
        d = self.describe("--chain", "kernel", prefix=("keyctl", "session", "-"))
        self.assertEqual(d.returncode, 3, d.stdout + d.stderr)
        self.assertIn("no token for profile '%s' in the session keyring" % self.profile,
                      d.stdout)
        self.assertEqual(self.describe("--chain", "kernel").returncode, 0)
        p = self.dbr("-p", self.profile, "logout", "--store", "kernel")
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_session_keyring_of_another_user_refused(self):
        # su and sudo (no pam_keyinit) keep the caller's session keyring: a
        # token stored there would be the caller's to read, and a key the
        # caller planted there would be used
        caller, target = User("c"), User("t")
        self.addCleanup(caller.remove)
        self.addCleanup(target.remove)
        home = self.user_home(target)
        self.write_cfg("[%s]\nkernel_keyring = session\n" % self.profile,
                       path=os.path.join(home, ".databrickscfg"), owner=target)
        planted = new_token()
        env = self.env(home, PLANTED=planted)
        as_caller = "setpriv --reuid=%d --regid=%d --clear-groups " % (caller.uid, caller.gid)
        as_target = "setpriv --reuid=%d --regid=%d --clear-groups " % (target.uid, target.gid)

        def in_callers_session(before, after=""):
            # a new session keyring, given to the caller; dbroker runs in
            # it as the target, as after 'su target'
            script = ('keyctl chown @s %d >/dev/null && %s { %s"$@"; rc=$?; %s exit $rc; }'
                      % (caller.uid, before, as_target, after))
            return ("keyctl", "session", "-", "sh", "-c", script, "sh")

        plant = ('K=$(printf %%s "$PLANTED" | %skeyctl padd user '
                 '"dbroker:%s:https://planted.example.com" @s) && %skeyctl setperm "$K" '
                 '0x3f3f3f3f &&' % (as_caller, self.profile, as_caller))
        d = self.dbr("-p", self.profile, "--chain", "kernel", "auth", "describe", env=env,
                     prefix=in_callers_session(plant))
        self.assertEqual(d.returncode, 4, d.stdout + d.stderr)
        self.assertIn("the session keyring (key ", d.stderr)
        self.assertIn("belongs to uid %d, not to you (uid %d): this session was started by "
                      "another user" % (caller.uid, target.uid), d.stderr)
        self.assertIn("start a session keyring of your own ('keyctl new_session'", d.stderr)
        self.assertNotIn("planted.example.com", d.stdout + d.stderr)
        self.assertNotIn(planted[-4:], d.stdout)
        # login puts nothing where the caller could read it
        p = self.dbr("-p", self.profile, "login", "--store", "kernel", "--host",
                     "https://one.example.com", stdin=self.token + "\n", env=env,
                     prefix=in_callers_session("", 'echo "ids:$(%skeyctl rlist @s)";'
                                               % as_caller))
        self.assertEqual(p.returncode, 4, p.stdout + p.stderr)
        self.assertIn("belongs to uid %d, not to you" % caller.uid, p.stderr)
        self.assertNotIn("stored the token", p.stdout)
        self.assertRegex(p.stdout, r"(?m)^ids:$")

    def test_session_flag(self):
        # login --store kernel --session is kernel_keyring = session
        p = self.login("--session")
        self.assertEqual(p.returncode, 0, p.stderr)
        kid = self.key_id(p)
        self.assertIn(kid, kk.ids(kk.session_keyring()))
        self.assertNotIn(kid, kk.ids(kk.persistent()))
        self.write_cfg("[%s]\nkernel_keyring = session\n" % self.profile)
        self.assertEqual(self.dbr("-p", self.profile, "logout", "--store", "kernel").returncode,
                         0)
        self.assertNotIn(kid, kk.ids(kk.session_keyring()))

    # --- what the kernel refuses ---------------------------------------------------

    def test_quota_full(self):
        user = User("q")
        self.addCleanup(user.remove)
        home = self.user_home(user)
        # the user's own quota filled to the last byte in its session
        # keyring, then dbroker in that same session
        fill = ("import os, sys; sys.path.insert(0, %r); import kernel_keys as kk\n"
                "n = kk.fill_quota(kk.session_keyring(), 'filler')\n"
                "sys.stderr.write('filled with %%d keys\\n' %% n)\n"
                "os.execv(sys.argv[1], sys.argv[1:])\n"
                % os.path.join(SRC, "tests", "doubles"))
        p = self.dbr("-p", self.profile, "login", "--store", "kernel", "--host",
                     "https://one.example.com", stdin=self.token + "\n", env=self.env(home),
                     prefix=(USER_PYTHON, "-c", fill), user=user)
        self.assertEqual(p.returncode, 4, p.stdout + p.stderr)
        self.assertRegex(p.stderr, r"filled with \d+ keys")
        self.assertIn("the kernel's key quota for uid %d is full (EDQUOT while " % user.uid,
                      p.stderr)
        self.assertIn("unlink keys you no longer need", p.stderr)
        self.assertNotIn("stored the token", p.stdout)
        user.wait_quota_released()
        d = self.describe("--chain", "kernel", env=self.env(home), user=user)
        self.assertEqual(d.returncode, 3, d.stdout + d.stderr)  # nothing was stored

    def seccomp(self, mode):
        self.assertTrue(SECCOMP and os.access(SECCOMP, os.X_OK), "DBR_SECCOMP_EXEC is not set")
        # the harness works: keyctl itself is refused under it
        k = subprocess.run([SECCOMP, mode, "keyctl", "show", "@u"], capture_output=True,
                           text=True, timeout=30)
        if mode in ("EPERM", "ENOSYS"):
            self.assertNotEqual(k.returncode, 0)
            self.assertIn("Operation not permitted" if mode == "EPERM"
                          else "Function not implemented", k.stderr)
        return (SECCOMP, mode)

    def test_seccomp_refusal_fails_closed(self):
        for mode, name in (("EPERM", "EPERM"), ("ENOSYS", "ENOSYS")):
            with self.subTest(mode):
                pre = self.seccomp(mode)
                p = self.login(prefix=pre)
                self.assertEqual(p.returncode, 4, p.stdout + p.stderr)
                self.assertIn("could not store the token: the kernel refused the keyring "
                              "while opening the persistent keyring (%s): a seccomp filter "
                              "blocks its system calls" % name, p.stderr)
                self.assertIn("allow keyctl and add_key, or keep the token in another store",
                              p.stderr)
                # resolving: an error that stops the chain before the profile
                self.write_cfg("[%s]\nhost = https://one.example.com\ntoken = %s\n"
                               % (self.profile, new_token()))
                d = self.describe("--chain", "kernel,profile", prefix=pre)
                self.assertEqual(d.returncode, 4, d.stdout + d.stderr)
                self.assertRegex(d.stdout, r"kernel +error +the kernel refused the keyring")
                self.assertRegex(d.stdout, r"profile +not asked")
                p = self.dbr("-p", self.profile, "logout", "--store", "kernel", prefix=pre)
                self.assertEqual(p.returncode, 4, p.stdout + p.stderr)
                self.assertNotIn("nothing removed", p.stdout)

    def test_relogin_refused_keeps_the_old_token(self):
        # the kernel refuses to link the new key (a full quota: EDQUOT):
        # login fails, and the token stored before is still there and used
        self.write_cfg("[%s]\nhost = https://one.example.com\n" % self.profile)
        kid = self.key_id(self.login())
        pre = self.seccomp("LINK_EDQUOT:%d" % kk.persistent())
        for host in ("https://one.example.com", "https://two.example.com"):
            with self.subTest(host):
                p = self.login(host=host, token=new_token(), prefix=pre)
                self.assertEqual(p.returncode, 4, p.stdout + p.stderr)
                self.assertIn("EDQUOT while linking the token into the keyring", p.stderr)
                self.assertNotIn("stored the token", p.stdout)
                self.assertEqual(list(self.our_keys(kk.persistent())), [kid])
                self.assertEqual(kk.read(kid), self.token.encode())
                d = self.describe("--chain", "kernel")
                self.assertEqual(d.returncode, 0, d.stdout + d.stderr)
                self.assertIn("dapi…" + self.token[-4:], d.stdout)
        self.assertEqual(self.dbr("-p", self.profile, "logout", "--store", "kernel").returncode,
                         0)

    def test_no_persistent_keyrings_falls_back_to_user_keyring(self):
        pre = self.seccomp("EOPNOTSUPP")
        p = self.login(prefix=pre)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("this kernel has no persistent keyrings (EOPNOTSUPP): the token goes "
                      "to the user keyring", p.stderr)
        self.assertIn("in the user keyring (no persistent keyrings here)", p.stdout)
        kid = self.key_id(p)
        self.assertIn(kid, kk.ids(kk.user_keyring()))
        self.assertNotIn(kid, kk.ids(kk.persistent()))
        d = self.describe("--chain", "kernel", prefix=pre)
        self.assertEqual(d.returncode, 0, d.stdout + d.stderr)
        p = self.dbr("-p", self.profile, "logout", "--store", "kernel", prefix=pre)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn(kid, kk.ids(kk.user_keyring()))

    # --- bad input ---------------------------------------------------------------------

    def test_bad_ttl_and_keyring_names(self):
        p = self.login("--ttl", "0s")
        self.assertEqual(p.returncode, 2)
        self.assertIn("'--ttl 0s' is not a duration from 1s to 720h", p.stderr)
        p = self.login("--ttl", "1000h")
        self.assertEqual(p.returncode, 2)
        p = self.dbr("-p", self.profile, "login", "--ttl", "1h", "--host",
                     "https://one.example.com", stdin=self.token + "\n")
        self.assertEqual(p.returncode, 2)
        self.assertIn("'--ttl' is for '--store kernel'", p.stderr)
        p = self.dbr("-p", self.profile, "login", "--store", "vault", stdin=self.token + "\n")
        self.assertEqual(p.returncode, 2)
        self.assertIn("unknown store 'vault' for 'login'", p.stderr)
        self.write_cfg("[%s]\nkernel_keyring = thread\nkernel_ttl = soon\n" % self.profile)
        p = self.login()
        self.assertEqual(p.returncode, 4, p.stderr)
        self.assertIn("unknown kernel_keyring 'thread' in profile", p.stderr)
        self.write_cfg("[%s]\nkernel_ttl = soon\n" % self.profile)
        p = self.login()
        self.assertEqual(p.returncode, 4, p.stderr)
        self.assertIn("kernel_ttl 'soon' is not a duration from 1s to 30d", p.stderr)
        for bad in ("1h30", "h", "30d1s", "0m"):
            self.write_cfg("[%s]\nkernel_ttl = %s\n" % (self.profile, bad))
            p = self.login()
            self.assertEqual(p.returncode, 4, bad)
            self.assertIn("kernel_ttl '%s' is not a duration" % bad, p.stderr)
        self.write_cfg("[%s]\nkernel_ttl = 1h30m\n" % self.profile)
        p = self.login()
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"expires in (1h29m|1h30m|89m|90m|1h)")
        self.write_cfg("[%s]\nkernel_ttl = 90m\n" % self.profile)
        p = self.login()
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"expires in (89m|1h)")
        self.dbr("-p", self.profile, "logout", "--store", "kernel")

    # --- the whole job over a session without D-Bus ------------------------------------

    def test_login_then_clusters_create_without_dbus(self):
        import workspace  # noqa: E402
        ws = workspace.start_workspace(tempfile.mkdtemp(dir=self.root),
                                       [(self.token, "me@example.com")],
                                       pending_seconds=0.3)
        self.addCleanup(ws.stop)
        env = self.env(XDG_RUNTIME_DIR=tempfile.mkdtemp(dir=self.root))
        self.assertNotIn("DBUS_SESSION_BUS_ADDRESS", env)
        self.write_cfg("[%s]\nca_cert = %s\n" % (self.profile, ws.ca_file))
        p = self.dbr("-p", self.profile, "login", "--store", "kernel", "--verify", "--host",
                     ws.url, stdin=self.token + "\n", env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("as 'me@example.com'", p.stdout)
        c = self.dbr("-p", self.profile, "clusters", "create", "--timeout", "60s", env=env)
        self.assertEqual(c.returncode, 0, c.stdout + c.stderr)
        self.assertEqual(json.loads(c.stdout)["state"], "RUNNING")
        creates = ws.requests(path="clusters/create")
        self.assertEqual(len(creates), 1)
        self.assertEqual(self.dbr("-p", self.profile, "logout", "--store", "kernel",
                                  env=env).returncode, 0)


def main():
    why = kk.available()
    if why:
        print("test_kernel: skipped: %s" % why)
        return 0
    if os.geteuid() != 0:
        print("test_kernel: needs root (useradd, another uid's quota); run it as root")
        return 1
    for tool in ("keyctl", "useradd", "userdel", "strace"):
        if not shutil.which(tool):
            print("test_kernel: '%s' is missing: run scripts/bootstrap" % tool)
            return 1
    kk.join_new_session()
    prog = unittest.main(verbosity=2, exit=False)
    return 0 if prog.result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
