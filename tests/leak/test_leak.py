"""The canary leak audit.

Distinct random canaries -- a Databricks token, a second one the workspace
does not know, a Vault token (and a wrong and a policy-limited one), an
AppRole secret ID, a token offered on the command line, a service principal's
OAuth client secret (and a wrong one) and every access token the workspace
mints from it -- flow through every command and every provider (env, Vault
by VAULT_TOKEN, ~/.vault-token and AppRole, the keyring and the kernel
keyring through `dbroker login`, OAuth M2M from the environment, Vault, a
plaintext profile and the keyring) at every
log level, against the local workspace and Vault doubles, a real
gnome-keyring-daemon and the real kernel keyring, including
runs that fail (wrong token, Vault 403/sealed/500, workspace 500s, timeouts,
TLS errors, malformed specs). Every run has HOME, TMPDIR, the XDG directories
and its working directory in fresh temporary directories, and runs under
`strace -f` recording every buffer written or sent in full. For every run,
no canary in any form (secret_forms.encodings: raw, base64 at offsets 0/1/2,
URL, JSON-escaped) may appear in stdout, stderr, the --log-file, any file
created or modified under the temporary directories, or any syscall buffer.
Also checked: /proc/<pid>/cmdline, environ and limits and the process's
dumpability while dbroker waits on a slow request, and (heap_scan.c) the
library's own memory after resolve + create + teardown.

Run by ctest with DBROKER_BIN, DBR_HEAP_SCAN, DBR_SOURCE_DIR and
DBR_BINARY_DIR set. Needs strace, dbus-run-session and gnome-keyring-daemon
(scripts/bootstrap installs them)."""
import json
import os
import re
import secrets
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import types
import unittest

sys.dont_write_bytecode = True
SRC = os.environ.get("DBR_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(SRC, "tests", "doubles"))
import kernel_keys  # noqa: E402
import keyring_session  # noqa: E402
import vault  # noqa: E402
import workspace  # noqa: E402
from proc_probe import mem_probe, without_ptrace_cap  # noqa: E402
from secret_forms import leaks, needles  # noqa: E402

BIN = os.environ.get("DBROKER_BIN", "dbroker")
HEAP_SCAN = os.environ.get("DBR_HEAP_SCAN", "")
PLUGIN_DIR = os.path.join(os.environ.get("DBR_BINARY_DIR", os.path.dirname(os.path.dirname(
    os.path.abspath(BIN)))), "plugins")
SANITIZER_VARS = ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS")
IS_ROOT = os.geteuid() == 0

# --- the canaries: distinct and random per run --------------------------------
TOKEN = "dapi" + secrets.token_hex(16)          # the workspace knows this one
WRONG_TOKEN = "dapi" + secrets.token_hex(16)    # and not this one
ARGV_TOKEN = "dapi" + secrets.token_hex(16)     # offered on the command line
VAULT_TOKEN = "hvs." + secrets.token_urlsafe(24)
LIMITED_VAULT_TOKEN = "hvs." + secrets.token_urlsafe(24)  # may read secret/data/other only
WRONG_VAULT_TOKEN = "hvs." + secrets.token_urlsafe(24)    # unknown to Vault
# an AppRole secret ID whose URL-encoded and JSON-escaped ("\/") forms differ
# from the raw bytes
SECRET_ID = secrets.token_hex(10) + "/" + secrets.token_urlsafe(12) + "+="
# a service principal's OAuth client secret, of no known shape: only its
# registration with the masker can hide it (its id is not secret)
CLIENT_ID = "6c0ffee0-" + secrets.token_hex(2) + "-4000-8000-" + secrets.token_hex(6)
CLIENT_SECRET = "sp-" + secrets.token_urlsafe(24)
WRONG_CLIENT_SECRET = "sp-" + secrets.token_urlsafe(24)
CANARIES = {"Databricks token": TOKEN, "wrong Databricks token": WRONG_TOKEN,
            "token offered in argv": ARGV_TOKEN, "Vault token": VAULT_TOKEN,
            "limited Vault token": LIMITED_VAULT_TOKEN, "wrong Vault token": WRONG_VAULT_TOKEN,
            "AppRole secret ID": SECRET_ID, "OAuth client secret": CLIENT_SECRET,
            "wrong OAuth client secret": WRONG_CLIENT_SECRET}
ROLE_ID = "dbroker-leak-role"
SCIM_ME = "/api/2.0/preview/scim/v2/Me"
# children of `dbroker exec`: through the proxy, or straight to the workspace
CURL_PROXY = 'curl -sS -H "Authorization: Bearer $DATABRICKS_TOKEN" "$DATABRICKS_HOST' + \
    SCIM_ME + '"'
CURL_DIRECT = 'curl -sS --cacert {ca} -H "Authorization: Bearer $DATABRICKS_TOKEN" ' \
    '"$DATABRICKS_HOST' + SCIM_ME + '"'
# a Secret Service session with an AES-encrypted transport, as libsecret opens it
KEYRING_WIRE = [b"OpenSession", b"dh-ietf1024-sha256-aes128-cbc-pkcs7"]

# --- strace -------------------------------------------------------------------
# every syscall that writes or sends a buffer; prctl and the rlimit calls to
# see the hardening happen
TRACED = ("write,writev,pwrite64,pwritev,pwritev2,sendto,sendmsg,sendmmsg,vmsplice,"
          "mq_timedsend,prctl,prlimit64,setrlimit")
# `-e write=all` dumps every byte those calls wrote, as lines
# " | 00000  68 65 6c 6c 6f 0a   hello.  |": offset, then 16 hex bytes in
# columns 10..58
DUMP_LINE = re.compile(r"^ \| [0-9a-f]{5}  ")
DUMPABLE_OFF = re.compile(r"prctl\(PR_SET_DUMPABLE, SUID_DUMP_DISABLE\) = 0")
DUMPABLE_ON = re.compile(r"prctl\(PR_SET_DUMPABLE, (?!SUID_DUMP_DISABLE)")
CORE_ZERO = re.compile(r"(?:prlimit64\(0, |setrlimit\()RLIMIT_CORE, "
                       r"\{rlim_cur=0, rlim_max=0\}.*= 0$", re.M)


def strace_cmd(prefix):
    return ["strace", "-f", "-ff", "-qq", "-o", prefix, "-e", "trace=" + TRACED,
            "-e", "write=all", "-s", "0"]


def read_traces(directory):
    """{file name: (bytes written or sent, in order; the syscall lines)} for
    each traced thread (strace -ff writes one file per thread)."""
    out = {}
    for name in sorted(os.listdir(directory)):
        data, calls = bytearray(), []
        with open(os.path.join(directory, name), encoding="ascii", errors="replace") as f:
            for line in f:
                if DUMP_LINE.match(line):
                    data += bytes.fromhex("".join(line[10:59].split()))
                else:
                    calls.append(line.rstrip("\n"))
        out[name] = (bytes(data), calls)
    return out


# --- files --------------------------------------------------------------------
def snapshot(root):
    """{path: signature} of every regular file under root."""
    out = {}
    for d, _, files in os.walk(root):
        for name in files:
            path = os.path.join(d, name)
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                continue
            if stat.S_ISREG(st.st_mode):
                out[path] = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    return out


def changed_files(root, before):
    after = snapshot(root)
    return sorted(p for p, sig in after.items() if before.get(p) != sig)


def write_file(path, text, mode=0o600):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


class Scenario:
    """One dbroker run. provider: how the credential is supplied (see
    LeakTest.provider); args: the command, formatted with the values setup()
    returns ({cluster}, {spec}, ...); expect: the exit code, or "nonzero";
    level: "error".."trace" (--log-level) or "--debug"; ca: the --ca-cert
    for the workspace ("ca", "other_ca", or None for the system store);
    logs: the run logs something at debug level (the log file is not empty);
    wire: byte strings the syscall trace must show (the channel is seen);
    files: paths (under the sandbox) of which some file must be written."""

    def __init__(self, name, provider, args, expect=0, level="--debug", log_file=True,
                 stdin=None, env=None, setup=None, ca="ca", logs=True, wire=(), files=()):
        self.name, self.provider, self.args, self.expect = name, provider, args, expect
        self.level, self.log_file, self.stdin, self.logs = level, log_file, stdin, logs
        self.env, self.setup, self.ca, self.wire = env or {}, setup, ca, wire
        self.files = files


class LeakTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        missing = [t for t in ("strace",) + keyring_session.TOOLS if not shutil.which(t)]
        if missing:
            raise RuntimeError(f"the leak audit needs {', '.join(missing)}: run scripts/bootstrap")
        # the doubles, their TLS material and the traces live outside the
        # directories dbroker sees (their files hold the canaries on purpose)
        cls.infra = tempfile.mkdtemp(prefix="dbr-leak-infra-")
        cls.addClassCleanup(shutil.rmtree, cls.infra, ignore_errors=True)
        cls.sandbox = tempfile.mkdtemp(prefix="dbr-leak-")
        cls.addClassCleanup(shutil.rmtree, cls.sandbox, ignore_errors=True)
        cls.runs = 0
        cls.issued = {}  # Vault tokens issued by AppRole logins: canaries too
        cls.ws = workspace.start_workspace(cls.infra, [(TOKEN, "me@example.com")],
                                           pending_seconds=0.3, terminating_seconds=0.3)
        cls.addClassCleanup(cls.ws.stop)
        cls.v = vault.start_vault(
            cls.infra, tls_dir=cls.ws.tls_dir,
            tokens={VAULT_TOKEN: {}, LIMITED_VAULT_TOKEN: {"allow": ["secret/data/other"]}},
            secrets_={"secret/db": {"token": TOKEN, "host": cls.ws.url},
                      "secret/wrong": {"token": WRONG_TOKEN, "host": cls.ws.url},
                      "secret/sp": {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                                    "host": cls.ws.url}},
            approles={ROLE_ID: {"secret_id": SECRET_ID, "allow": ["secret/data/db"]}})
        cls.addClassCleanup(cls.v.stop)
        cls.ca = cls.ws.ca_file
        cls.other_ca = os.path.join(cls.ws.tls_dir, "other-ca.pem")
        # the keyring daemon's home is under the sandbox: its files are
        # checked like dbroker's
        kr = os.path.join(cls.sandbox, "keyring-daemon")
        kr_env = {"PATH": "/usr/bin:/bin", "HOME": os.path.join(kr, "home"),
                  "XDG_RUNTIME_DIR": os.path.join(kr, "run")}
        for sub, var in (("config", "XDG_CONFIG_HOME"), ("data", "XDG_DATA_HOME"),
                         ("cache", "XDG_CACHE_HOME")):
            kr_env[var] = os.path.join(kr, "home", sub)
        for path in kr_env.values():
            if path.startswith(kr):
                os.makedirs(path, mode=0o700, exist_ok=True)
        cls.keyring = keyring_session.KeyringSession(kr_env, cls.infra)
        cls.addClassCleanup(cls.keyring.stop)
        # the kernel keyring is per uid, not per directory: the kernel runs
        # store into this process's own new session keyring
        # (kernel_keyring = session), which its children share and which
        # goes away with it
        why = kernel_keys.available()
        if why:
            raise RuntimeError(f"the leak audit needs the kernel keyring: {why}")
        kernel_keys.join_new_session()

    # --- a run's surroundings ---------------------------------------------------

    def fresh_dirs(self, name):
        cls = type(self)
        cls.runs += 1
        base = os.path.join(self.sandbox, "%02d-%s" % (cls.runs, re.sub(r"\W+", "-", name)))
        d = types.SimpleNamespace(base=base)
        for attr, sub in (("home", "home"), ("tmp", "tmp"), ("cwd", "cwd"),
                          ("config", "xdg/config"), ("data", "xdg/data"),
                          ("cache", "xdg/cache"), ("state", "xdg/state"),
                          ("runtime", "xdg/runtime")):
            setattr(d, attr, os.path.join(base, sub))
            os.makedirs(getattr(d, attr), mode=0o700)
        return d

    def base_env(self, d):
        env = {"PATH": "/usr/bin:/bin", "HOME": d.home, "TMPDIR": d.tmp,
               "XDG_CONFIG_HOME": d.config, "XDG_DATA_HOME": d.data,
               "XDG_CACHE_HOME": d.cache, "XDG_STATE_HOME": d.state,
               "XDG_RUNTIME_DIR": d.runtime, "DBROKER_PLUGIN_DIR": PLUGIN_DIR}
        for k in SANITIZER_VARS:
            if k in os.environ:
                env[k] = os.environ[k]
        return env

    def provider(self, name, d):
        """(global args, env, stdin) for a way of supplying the credential;
        writes the files it needs into d."""
        cfg = os.path.join(d.home, ".databrickscfg")
        vault_env = {"VAULT_ADDR": self.v.url, "VAULT_CACERT": self.ca}
        if name in ("env", "env-wrong"):
            tok = TOKEN if name == "env" else WRONG_TOKEN
            return ["--chain", "env"], {"DATABRICKS_TOKEN": tok,
                                        "DATABRICKS_HOST": self.ws.url}, None
        if name in ("vault", "vault-file", "vault-wrong-secret"):
            path = "secret/wrong" if name == "vault-wrong-secret" else "secret/db"
            write_file(cfg, f"[DEFAULT]\nvault_path = {path}\n")
            if name == "vault-file":
                write_file(os.path.join(d.home, ".vault-token"), VAULT_TOKEN + "\n")
            else:
                vault_env["VAULT_TOKEN"] = VAULT_TOKEN
            return ["--chain", "vault"], vault_env, None
        if name in ("approle", "approle-stdin"):
            sid = "-" if name == "approle-stdin" else "~/secret-id"
            write_file(cfg, f"[DEFAULT]\nvault_path = secret/db\nvault_role_id = {ROLE_ID}\n"
                       f"vault_secret_id_file = {sid}\n")
            if name == "approle":
                write_file(os.path.join(d.home, "secret-id"), SECRET_ID + "\n")
                return ["--chain", "vault"], vault_env, None
            return ["--chain", "vault"], vault_env, SECRET_ID + "\n"
        if name == "keyring":
            write_file(cfg, f"[DEFAULT]\nhost = {self.ws.url}\n")
            bus = {"DBUS_SESSION_BUS_ADDRESS": self.keyring.address}
            return ["--chain", "keyring"], bus, None
        if name == "kernel":  # no D-Bus at all
            write_file(cfg, f"[DEFAULT]\nhost = {self.ws.url}\nkernel_keyring = session\n")
            return ["--chain", "kernel"], {}, None
        # a service principal (OAuth M2M): access tokens minted in memory
        if name in ("m2m-env", "m2m-env-wrong"):
            sec = CLIENT_SECRET if name == "m2m-env" else WRONG_CLIENT_SECRET
            return ["--chain", "env"], {"DATABRICKS_CLIENT_ID": CLIENT_ID,
                                        "DATABRICKS_CLIENT_SECRET": sec,
                                        "DATABRICKS_HOST": self.ws.url}, None
        if name == "m2m-vault":
            write_file(cfg, "[DEFAULT]\nvault_path = secret/sp\n")
            return ["--chain", "vault"], dict(vault_env, VAULT_TOKEN=VAULT_TOKEN), None
        if name == "m2m-profile":
            write_file(cfg, f"[DEFAULT]\nhost = {self.ws.url}\nclient_id = {CLIENT_ID}\n"
                       f"client_secret = {CLIENT_SECRET}\n")
            return ["--chain", "profile"], {}, None
        if name == "m2m-keyring":  # its own profile: the token's item stays
            write_file(cfg, f"[sp]\nhost = {self.ws.url}\n")
            return ["-p", "sp", "--chain", "keyring"], {
                "DBUS_SESSION_BUS_ADDRESS": self.keyring.address}, None
        raise ValueError(name)

    def prepare(self, name, prov):
        """Fresh doubles state and directories for one run: (dirs, global
        args, environment, stdin) with the credential supplied by prov."""
        self.ws.reset()
        self.ws.admin("POST", "oauth", {"clients": [
            {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "user": "leak-sp"}]})
        self.v.reset()
        d = self.fresh_dirs(name)
        gargs, penv, stdin = self.provider(prov, d)
        env = self.base_env(d)
        env.update(penv)
        return d, gargs, env, stdin

    def all_needles(self):
        return needles(dict(CANARIES, **self.issued))

    def redact(self, data):
        """data (bytes) as text with every canary form replaced by its label:
        safe to put in a failure message."""
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
        for n, label in sorted(self.all_needles().items(), key=lambda x: -len(x[0])):
            text = text.replace(n.decode(), f"<{label}>")
        return text

    def learn_issued_tokens(self):
        """Vault tokens that AppRole logins handed out, workspace tokens that
        `exec --mint` minted, and access tokens the workspace minted for the
        service principal become canaries too."""
        known = set(CANARIES.values()) | set(self.issued.values())
        for tok in self.ws.admin("GET", "oauth")["access_tokens"]:
            if tok not in known:
                type(self).issued[f"minted access token #{len(self.issued)}"] = tok
                known.add(tok)
        for r in self.v.requests():
            for k, val in r["headers"]:
                if k.lower() == "x-vault-token" and val not in known:
                    type(self).issued[f"issued Vault token #{len(self.issued)}"] = val
                    known.add(val)
        for r in self.ws.requests():
            for k, val in r["headers"]:
                tok = val[len("Bearer "):]
                if k.lower() == "authorization" and tok.startswith("dapi") and \
                        tok not in known:
                    type(self).issued[f"minted workspace token #{len(self.issued)}"] = tok
                    known.add(tok)

    # --- one run and its checks -------------------------------------------------

    def run_scenario(self, sc):
        d, gargs, env, pstdin = self.prepare(sc.name, sc.provider)
        values = {"ws": self.ws.url, "ca": self.ca, "other_ca": self.other_ca}
        if sc.setup:
            values.update(sc.setup(self, d) or {})
        for k, val in sc.env.items():
            if val is None:
                env.pop(k, None)
            else:
                env[k] = val.format(**values)
        level = ["--debug"] if sc.level == "--debug" else ["--log-level", sc.level]
        log_path = os.path.join(d.home, "dbroker.log")
        args = level + (["--log-file", log_path] if sc.log_file else []) + gargs
        if sc.ca:
            args += ["--ca-cert", values[sc.ca]]
        args += [a.format(**values) for a in sc.args]
        stdin = sc.stdin if sc.stdin is not None else (pstdin or "")
        # LeakSanitizer cannot work under ptrace (the other tests run it);
        # without ASan the variable means nothing
        env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") + ":detect_leaks=0").lstrip(":")
        trace_dir = os.path.join(self.infra, f"trace-{self.runs}")
        os.mkdir(trace_dir)
        before = snapshot(self.sandbox)
        p = subprocess.run(strace_cmd(os.path.join(trace_dir, "t")) + [BIN] + args, env=env,
                           cwd=d.cwd, input=stdin.encode(),
                           capture_output=True, timeout=120)
        self.learn_issued_tokens()
        out = "\n".join(self.redact(x)[-1500:] for x in (p.stdout, p.stderr))
        if sc.expect == "nonzero":
            self.assertNotEqual(p.returncode, 0, f"{sc.name}: exit 0\n{out}")
        else:
            self.assertEqual(p.returncode, sc.expect, f"{sc.name}: exit code\n{out}")
        channels = {"stdout": p.stdout, "stderr": p.stderr}
        if sc.log_file:
            with open(log_path, "rb") as f:
                channels["--log-file"] = f.read()
            if sc.logs and sc.level in ("--debug", "debug", "trace"):
                self.assertTrue(channels["--log-file"], f"{sc.name}: the log file is empty")
        traces = read_traces(trace_dir)
        shutil.rmtree(trace_dir)
        self.check_hardening_traced(sc.name, traces)
        # the trace holds every buffer in full: what the run printed, and what
        # the scenario says went out
        wire = b"\n".join(data for data, _ in traces.values())
        for want in [l for l in p.stdout.splitlines() if l.strip()] + list(sc.wire):
            self.assertIn(want, wire, f"{sc.name}: not in the syscall trace")
        for name, (data, _) in traces.items():
            channels[f"syscalls of {name}"] = data
        files = changed_files(self.sandbox, before)
        for want in sc.files:
            self.assertTrue(any(want in os.path.relpath(f, self.sandbox) for f in files),
                            f"{sc.name}: no file {want}* was written")
        self.check_channels(sc.name, channels, files)
        return p, traces

    def check_channels(self, name, channels, files):
        found_needles = self.all_needles()
        for path in files:
            with open(path, "rb") as f:
                channels["file " + os.path.relpath(path, self.sandbox)] = f.read()
        found = {ch: leaks(data, found_needles) for ch, data in channels.items()}
        leaked = "; ".join(f"{ch}: {', '.join(labels)}" for ch, labels in found.items() if labels)
        if leaked:
            self.fail(f"{name}: a canary leaked into {leaked}")

    def check_hardening_traced(self, name, traces):
        """The trace of a run that got as far as start-up shows the process
        made itself undumpable and set a 0/0 core limit, and never undid
        either (the heap_scan and /proc tests check the state itself)."""
        calls = "\n".join(line for _, c in traces.values() for line in c)
        self.assertRegex(calls, DUMPABLE_OFF, f"{name}: no PR_SET_DUMPABLE 0")
        self.assertNotRegex(calls, DUMPABLE_ON, f"{name}: dumpable again")
        self.assertRegex(calls, CORE_ZERO, f"{name}: no RLIMIT_CORE 0/0")

    # --- /proc while dbroker waits on a slow request --------------------------------

    def each_provider(self, provs, check):
        for prov in provs:
            with self.subTest(prov):
                if prov in ("keyring", "kernel"):  # a token to find (others log out)
                    self.run_scenario(self.login_scenario(prov))
                check(prov)

    def test_proc_while_waiting(self):
        self.each_provider(("env", "vault", "keyring", "kernel"), self.proc_while_waiting)

    def proc_while_waiting(self, prov):
        d, gargs, env, _ = self.prepare(f"proc-{prov}", prov)
        log_path = os.path.join(d.home, "dbroker.log")
        cmd = [BIN, "--debug", "--log-file", log_path, "--ca-cert", self.ca] + gargs + [
            "api", "GET", SCIM_ME]
        self.ws.add_fault("slow", path="scim/v2/Me", seconds=3)
        before = snapshot(self.sandbox)
        # the control: a dumpable process with the same uid and capabilities
        twin = subprocess.Popen(["sleep", "60"], preexec_fn=without_ptrace_cap)
        try:
            seen = {"control": mem_probe(twin.pid)}
        finally:
            twin.kill()
            twin.wait()
        p = subprocess.Popen(cmd, env=env, cwd=d.cwd, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             preexec_fn=without_ptrace_cap)
        try:
            # in flight: the workspace has the request and has not answered yet
            deadline = time.monotonic() + 60
            while not any(r["status"] is None for r in self.ws.requests(path="scim/v2/Me")):
                self.assertIsNone(p.poll(), "dbroker ended before its request was in flight")
                self.assertLess(time.monotonic(), deadline, "the request never arrived")
                time.sleep(0.05)
            for name in ("cmdline", "environ", "limits"):
                try:
                    with open(f"/proc/{p.pid}/{name}", "rb") as f:
                        seen[name] = f.read()
                except PermissionError:
                    # not root: an undumpable process's environ is root's
                    # to read, and what we cannot read, no one of our uid can
                    if IS_ROOT or name != "environ":
                        raise
                    seen[name] = None
            seen["probe"] = mem_probe(p.pid)
            self.assertIsNone(p.poll(), "dbroker ended while /proc was being read")
        finally:
            out, err = p.communicate(timeout=120)
        self.assertEqual(p.returncode, 0, self.redact(err)[-1500:])
        # what was read is dbroker's own, with the environment it was given
        self.assertIn(BIN.encode(), seen["cmdline"])
        if seen["environ"] is not None:
            self.assertIn(("HOME=" + d.home).encode(), seen["environ"])
        self.assertRegex(seen["limits"].decode(), r"(?m)^Max core file size\s+0\s+0\s")
        self.assertEqual(seen["control"], "open", "the probe cannot tell a dumpable process")
        self.assertTrue(seen["probe"].startswith("denied"),
                        f"dbroker is dumpable while it holds the token: {seen['probe']}")
        with open(log_path, "rb") as f:
            log = f.read()
        self.check_channels(f"/proc ({prov})", {
            "/proc/<pid>/cmdline": seen["cmdline"], "/proc/<pid>/environ": seen["environ"] or b"",
            "stdout": out, "stderr": err, "--log-file": log},
            changed_files(self.sandbox, before))

    # --- the library's own memory after teardown -----------------------------------

    def test_heap_after_teardown(self):
        self.assertTrue(HEAP_SCAN and os.access(HEAP_SCAN, os.X_OK), "DBR_HEAP_SCAN is not set")
        self.each_provider(("env", "vault", "approle", "keyring", "kernel", "m2m-env"),
                           self.heap_scan)

    def heap_scan(self, prov):
        d, gargs, env, _ = self.prepare(f"heap-{prov}", prov)
        # the raw credential first (the token, or the service principal's
        # client secret): the self-check plants needle 0
        first = CLIENT_SECRET if prov.startswith("m2m") else TOKEN
        forms = needles({"Databricks token": TOKEN, "Vault token": VAULT_TOKEN,
                         "AppRole secret ID": SECRET_ID, "OAuth client secret": CLIENT_SECRET})
        order = [first.encode()] + [n for n in forms if n != first.encode()]
        longest = max(map(len, order))
        mask = bytes(secrets.choice(range(1, 256)) for _ in range(longest))
        env["DBR_LEAK_MASK"] = mask.hex()
        env["DBR_LEAK_NEEDLES"] = ",".join(bytes(a ^ b for a, b in zip(n, mask)).hex()
                                           for n in order)
        env["DBR_LEAK_PLANT"] = "0"
        before = snapshot(self.sandbox)
        p = subprocess.run([HEAP_SCAN, gargs[1], self.ca], env=env, cwd=d.cwd,
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=300)
        err = self.redact(p.stderr)
        self.assertEqual(p.returncode, 0, "\n".join(
            l for l in err.splitlines() if l.startswith("heap_scan:")) or err[-3000:])
        for line in ("self-check before: planted canary found",
                     "with the credential held: ", "after teardown: no canary in memory",
                     "self-check after: planted canary found", "heap_scan: ok"):
            self.assertIn(line, err)
        self.check_channels(f"heap_scan ({prov})", {"stdout": p.stdout, "stderr": p.stderr},
                            changed_files(self.sandbox, before))

    # --- the scenarios ------------------------------------------------------------

    def test_commands_providers_and_failures(self):
        for sc in self.scenarios():
            with self.subTest(sc.name):
                self.run_scenario(sc)
        self.assertTrue(self.issued, "no AppRole login handed out a Vault token to look for")
        self.assertTrue([k for k in self.issued if k.startswith("minted")],
                        "no 'exec --mint' run minted a workspace token to look for")

    def make_cluster(self, d):
        r = self.ws.call("POST", "/api/2.1/clusters/create", token=TOKEN, body={
            "cluster_name": "leak", "spark_version": "15.4.x-scala2.12",
            "node_type_id": "i3.xlarge", "num_workers": 1})
        self.assertEqual(r.status, 200, r)
        return {"cluster": r.json["cluster_id"]}

    @staticmethod
    def spec_file(text):
        def setup(self, d):
            path = os.path.join(d.cwd, "cluster.json")
            write_file(path, text)
            return {"spec": path}
        return setup

    @staticmethod
    def faults(where, *faults):
        def setup(self, d):
            (self.ws if where == "ws" else self.v).add_faults(*faults)
        return setup

    @staticmethod
    def login_scenario(prov="keyring"):
        if prov == "kernel":
            # add_key hands the token to the kernel: no write, no send, no file
            return Scenario("login (kernel, token on stdin)", "kernel",
                            ["login", "--store", "kernel", "--ttl", "10m", "--host", "{ws}"],
                            stdin=TOKEN + "\n", logs=False)
        # libsecret talks to the daemon over an encrypted session: the token
        # goes out AES-encrypted inside the D-Bus message; the daemon writes
        # it to its keyring file, encrypted with the keyring's password
        return Scenario("login (keyring, token on stdin)", "keyring",
                        ["login", "--host", "{ws}"], stdin=TOKEN + "\n", logs=False,
                        wire=KEYRING_WIRE + [b"CreateItem"],
                        files=["keyring-daemon/home/data/keyrings/"])

    def scenarios(self):
        S = Scenario
        me = ["api", "GET", SCIM_ME]
        good_spec = self.spec_file(json.dumps({
            "cluster_name": "leak-spec", "spark_version": "15.4.x-scala2.12",
            "node_type_id": "i3.xlarge", "num_workers": 0,
            "spark_conf": {"spark.master": "local[*, 4]",
                           "spark.databricks.cluster.profile": "singleNode"},
            "custom_tags": {"ResourceClass": "SingleNode"}}))
        out = [
            # the keyring first: login stores the token that the later
            # keyring runs resolve; logout comes last
            self.login_scenario(),
            self.login_scenario("kernel"),
            S("login --verify", "keyring", ["login", "--verify", "--host", "{ws}"],
              level="trace", stdin=TOKEN + "\n"),
            S("login --verify, wrong token", "keyring", ["login", "--verify", "--host", "{ws}"],
              expect=5, stdin=WRONG_TOKEN + "\n"),
        ]
        # every provider at every log level, each run a different command
        commands = [
            (["auth", "describe", "--check"], None),
            (me, None),
            (["clusters", "list"], None),
            (["clusters", "create", "--no-wait"], None),
            (["clusters", "get", "{cluster}"], LeakTest.make_cluster),
            (["-o", "json", "auth", "describe", "--check"], None),
        ]
        levels = ["error", "warn", "info", "debug", "trace", "--debug"]
        for pi, prov in enumerate(["env", "vault", "approle", "keyring", "kernel"]):
            for li, level in enumerate(levels):
                args, setup = commands[(pi + li) % len(commands)]
                out.append(S(f"{prov} at {level}: {' '.join(args[:3])}", prov, args,
                             level=level, setup=setup))
        out += [
            # --- every command -----------------------------------------------------------
            S("auth describe (text)", "vault-file", ["auth", "describe"]),
            S("auth describe -o json, secret ID on stdin", "approle-stdin",
              ["-o", "json", "auth", "describe", "--check"], level="trace"),
            S("clusters create, waiting", "env", ["clusters", "create", "--name", "leak-wait"]),
            S("clusters create --json @file", "vault",
              ["clusters", "create", "--no-wait", "--json", "@{spec}"], level="trace",
              setup=good_spec),
            S("clusters create --json - (stdin)", "approle",
              ["clusters", "create", "--no-wait", "--json", "-"], level="trace",
              stdin=json.dumps({"cluster_name": "x", "spark_version": "15.4.x-scala2.12",
                                "node_type_id": "i3.xlarge", "num_workers": 2})),
            S("clusters create --dry-run", "keyring", ["clusters", "create", "--dry-run"],
              logs=False),
            S("clusters create, inline JSON and flags", "keyring",
              ["clusters", "create", "--no-wait", "--json", '{{"cluster_name": "inline", '
               '"spark_version": "15.4.x-scala2.12", "node_type_id": "i3.xlarge", '
               '"num_workers": 1}}', "--autotermination-minutes", "30", "--name", "leak"],
              level="trace"),
            S("auth describe (keyring)", "keyring", ["-o", "json", "auth", "describe"],
              wire=KEYRING_WIRE + [b"GetSecret"]),
            S("clusters delete --wait", "env", ["clusters", "delete", "{cluster}", "--wait"],
              level="trace", setup=LeakTest.make_cluster),
            S("clusters delete (keyring)", "keyring", ["clusters", "delete", "{cluster}"],
              setup=LeakTest.make_cluster),
            S("api POST --json", "vault", ["api", "POST", "/api/2.1/clusters/delete",
                                           "--json", '{{"cluster_id": "{cluster}"}}'],
              setup=LeakTest.make_cluster),
            S("clusters get, unknown id", "env", ["clusters", "get", "0000-000000-nothere0"],
              expect=6),
            # --- credentials refused ----------------------------------------------------
            S("wrong token (403)", "env-wrong", ["clusters", "list"], expect=5),
            S("wrong token from Vault (403)", "vault-wrong-secret", me, expect=5,
              level="trace"),
            S("workspace 401", "env", me, expect=5,
              setup=self.faults("ws", {"kind": "error", "status": 401,
                                       "error_code": "UNAUTHENTICATED"})),
            S("Vault: wrong Vault token (403)", "vault", me, expect=5,
              env={"VAULT_TOKEN": WRONG_VAULT_TOKEN}),
            S("Vault: policy denies (403)", "vault", me, expect=5, level="trace",
              env={"VAULT_TOKEN": LIMITED_VAULT_TOKEN}),
            S("Vault: AppRole refused", "approle", me, expect=5,
              setup=lambda self, d: write_file(os.path.join(d.home, "secret-id"),
                                               SECRET_ID[::-1] + "\n")),
            S("token offered as an argument", "env", me + ["--token", ARGV_TOKEN], expect=2,
              log_file=False),
            # --- servers failing --------------------------------------------------------
            S("Vault sealed", "vault", me, expect="nonzero", env={"VAULT_MAX_RETRIES": "0"},
              setup=self.faults("vault", {"kind": "sealed", "count": -1})),
            S("Vault 500", "approle", me, expect="nonzero", level="trace",
              env={"VAULT_MAX_RETRIES": "1"},
              setup=self.faults("vault", {"kind": "500", "count": -1})),
            # a read is retried on 500 within the retry window: a short one
            S("workspace 500", "vault", ["--retry-window", "2s", "clusters", "list"], expect=7,
              setup=self.faults("ws", {"kind": "500", "count": -1})),
            S("workspace 500 on create: outcome unknown", "env",
              ["clusters", "create", "--no-wait"], expect=10,
              setup=self.faults("ws", {"kind": "500", "path": "clusters/create"})),
            S("workspace 429 then 503, retried", "env", me, level="trace",
              setup=self.faults("ws", {"kind": "429", "retry_after": 0},
                                {"kind": "503"})),
            S("workspace 503 on create, retried", "keyring", ["clusters", "create",
                                                              "--no-wait"],
              setup=self.faults("ws", {"kind": "503", "path": "clusters/create"})),
            # --- timeouts -----------------------------------------------------------------
            S("Vault timeout", "vault", me, expect=7,
              env={"VAULT_CLIENT_TIMEOUT": "1", "VAULT_MAX_RETRIES": "0"},
              setup=self.faults("vault", {"kind": "slow", "seconds": 3, "count": 1})),
            S("clusters create --timeout", "env", ["clusters", "create", "--timeout", "1s"],
              expect=7, level="trace",
              setup=lambda self, d: self.ws.configure(pending_seconds=30)),
            # --- TLS ------------------------------------------------------------------------
            S("workspace CA not trusted", "env", me, expect=8, ca="other_ca"),
            S("workspace CA from the system store", "keyring", ["api", "GET",
                                                                "/api/2.1/clusters/list"],
              expect=8, level="trace", ca=None),
            S("Vault CA not trusted", "vault", me, expect=8,
              env={"VAULT_CACERT": "{other_ca}"}),
            # --- specs ----------------------------------------------------------------------
            S("malformed spec JSON", "env", ["clusters", "create", "--json", "@{spec}"],
              expect=2, setup=self.spec_file('{"cluster_name": "x",\n  "num_workers": ,}\n')),
            S("invalid spec", "vault", ["clusters", "create", "--json", "@{spec}"],
              expect=2, level="trace",
              setup=self.spec_file('{"cluster_name": "x", "num_workers": 1}\n')),
            # --- exec: the proxy, a minted token, the real one -------------------------------
            # the child's own writes are in the trace too: it never prints a canary
            S("exec (proxy), curl as the child", "env", ["exec", "--", "sh", "-c", CURL_PROXY]),
            S("exec (proxy), the child shows its environment", "approle",
              ["exec", "--", "sh", "-c", "env | grep ^DATABRICKS_; " + CURL_PROXY],
              level="trace"),
            S("exec (proxy), upstream TLS failure", "vault",
              ["exec", "--", "sh", "-c", CURL_PROXY], ca="other_ca"),
            S("exec --mint, the child calls the workspace", "keyring",
              ["exec", "--mint", "5m", "--", "sh", "-c", CURL_DIRECT], level="trace"),
            S("exec --mint, revocation fails", "env",
              ["exec", "--mint", "5m", "--", "sh", "-c", CURL_DIRECT], expect="nonzero",
              setup=self.faults("ws", {"kind": "500", "path": "token/delete", "count": 3})),
            S("exec --pass-token", "vault", ["exec", "--pass-token", "--", "sh", "-c",
                                             CURL_DIRECT]),
            S("tokens list", "env", ["tokens", "list"]),
            # --- a service principal (OAuth M2M) ------------------------------------------
            S("m2m env: auth describe --check", "m2m-env", ["auth", "describe", "--check"],
              level="trace"),
            S("m2m env: clusters create, refreshed while waiting", "m2m-env",
              ["clusters", "create", "--name", "leak-m2m"],
              setup=lambda self, d: self.ws.admin("POST", "oauth", {"lifetime": 1})),
            S("m2m env: 401, one refresh", "m2m-env", me, level="trace",
              setup=self.faults("ws", {"kind": "error", "status": 401,
                                       "error_code": "UNAUTHENTICATED"})),
            S("m2m vault: clusters list", "m2m-vault", ["clusters", "list"], level="trace"),
            S("m2m profile: api GET", "m2m-profile", me),
            S("m2m: wrong client secret", "m2m-env-wrong", me, expect=5, level="trace"),
            S("m2m: token endpoint on another host", "m2m-env", me, expect=5,
              setup=lambda self, d: self.ws.admin("POST", "oauth", {"discovery": "elsewhere"})),
            S("m2m: client secret offered as an argument", "m2m-env",
              me + ["--client-secret", WRONG_CLIENT_SECRET], expect=2, log_file=False),
            S("login --oauth-m2m --verify (keyring)", "m2m-keyring",
              ["login", "--oauth-m2m", "--client-id", CLIENT_ID, "--verify", "--host", "{ws}"],
              level="trace", stdin=CLIENT_SECRET + "\n"),
            S("m2m keyring: clusters create", "m2m-keyring", ["clusters", "create", "--no-wait"],
              level="trace"),
            S("logout (m2m keyring)", "m2m-keyring", ["logout"], logs=False),
            # --- the keyring once more, then empty -----------------------------------------
            S("login --store kernel --verify", "kernel",
              ["login", "--store", "kernel", "--verify", "--host", "{ws}"], level="trace",
              stdin=TOKEN + "\n"),
            S("clusters create (kernel)", "kernel", ["clusters", "create", "--no-wait"],
              level="trace"),
            S("logout", "keyring", ["logout"], level="trace", logs=False),
            S("keyring empty after logout", "keyring", ["auth", "describe"], expect=3),
            S("logout --store kernel", "kernel", ["logout", "--store", "kernel"],
              level="trace", logs=False),
            S("kernel keyring empty after logout", "kernel", ["auth", "describe"], expect=3),
        ]
        return out


if __name__ == "__main__":
    unittest.main(verbosity=2)
