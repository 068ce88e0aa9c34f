"""What the `dbroker agent` tests share: the HTTPS workspace and Vault
doubles (the token lives in Vault, as users keep it), a private home and
XDG_RUNTIME_DIR per test, an agent started the way users start it (eval
line, detached, reaped by this process as the child subreaper so its exit
status is seen), clients with no credential of their own, the agent
protocol spoken by hand (and, from tests/doubles, another local user and
the /proc probes).

Standard library only; tests run it with DBROKER_BIN, DBR_SOURCE_DIR and
DBR_BINARY_DIR set."""
import ctypes
import json
import os
import re
import secrets
import shutil
import signal
import socket
import struct
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
from local_user import LocalUser  # noqa: E402,F401
from proc_probe import mem_probe, scan_memory, without_ptrace_cap  # noqa: E402,F401
from secret_forms import encodings  # noqa: E402

BIN = os.environ.get("DBROKER_BIN", "dbroker")
PLUGIN_DIR = os.path.join(os.environ.get("DBR_BINARY_DIR", os.path.dirname(os.path.dirname(
    os.path.abspath(BIN)))), "plugins")
IS_ROOT = os.geteuid() == 0
SANITIZER_VARS = ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS")

TOKEN = "dapi" + secrets.token_hex(16)        # in Vault: what the agent holds
TOKEN2 = "dapi" + secrets.token_hex(16)       # the rotated one
ENV_TOKEN = "dapi" + secrets.token_hex(16)    # a client's own, from its environment
VAULT_TOKEN = "hvs." + secrets.token_urlsafe(24)
CLIENT_ID = "5eed0a9e-" + secrets.token_hex(2) + "-4000-8000-" + secrets.token_hex(6)
CLIENT_SECRET = "sp-" + secrets.token_urlsafe(24)
SP_USER = "agent-sp"
SECRETS = [TOKEN, TOKEN2, ENV_TOKEN, VAULT_TOKEN, CLIENT_SECRET]
SCIM_ME = "/api/2.0/preview/scim/v2/Me"
EVAL_SOCK = re.compile(r"^DBROKER_AGENT_SOCK='([^']+)'; export DBROKER_AGENT_SOCK;$", re.M)
EVAL_PID = re.compile(r"^DBROKER_AGENT_PID=(\d+); export DBROKER_AGENT_PID;$", re.M)

# agent protocol 1 (src/net/agent_proto.h)
OPEN, CALL, STATUS, LOCK, FORGET, STOP = 1, 2, 3, 4, 5, 6
R_OK, R_ERROR, R_CALL = 0x81, 0x82, 0x83
T_PROFILE, T_METHOD, T_PATH, T_BODY, T_FLAGS, T_FORWARD = 1, 2, 3, 4, 5, 11
T_HEADERS, T_RC, T_MESSAGE, T_STATUS, T_HOST, T_AUTH_TYPE, T_SOURCE = 10, 32, 33, 34, 43, 44, 45
AGENT_MSG_MAX = 16 * 1024 * 1024 + 1024 * 1024
PR_SET_CHILD_SUBREAPER = 36


def become_subreaper():
    """Orphaned descendants (the detached agent) become our children, so
    their exit status can be waited for."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def wait_for(what, cond, timeout=30):
    end = time.monotonic() + timeout
    while True:
        got = cond()
        if got:
            return got
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


# --- the agent protocol by hand ----------------------------------------------------

def field(tag, data):
    return bytes([tag]) + struct.pack(">I", len(data)) + data


def text(tag, s):
    return field(tag, s.encode() + b"\0")


def i64(tag, v):
    return field(tag, struct.pack(">q", v))


def headers(tag, pairs):
    return field(tag, b"".join(struct.pack(">I", len(k)) + k.encode() +
                               struct.pack(">I", len(v)) + v.encode() for k, v in pairs))


def frame(mtype, *fields, version=1):
    payload = bytes([version, mtype]) + b"".join(fields)
    return struct.pack(">I", len(payload)) + payload


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def read_msg(sock):
    """(type, {tag: bytes}) of the next message, or None when the agent
    closed the connection."""
    try:
        head = recv_exact(sock, 4)
        if head is None:
            return None
        payload = recv_exact(sock, struct.unpack(">I", head)[0])
    except ConnectionResetError:
        return None
    if payload is None:
        return None
    fields, at = {}, 2
    while at < len(payload):
        tag, n = payload[at], struct.unpack(">I", payload[at + 1:at + 5])[0]
        fields[tag] = payload[at + 5:at + 5 + n]
        at += 5 + n
    return payload[1], fields


def as_int(b):
    return struct.unpack(">q", b)[0]


def as_text(b):
    return b[:-1].decode()


# --- /proc -------------------------------------------------------------------------

def proc_status(pid):
    with open(f"/proc/{pid}/status") as f:
        return dict(line.split(":\t", 1) for line in f.read().splitlines() if ":\t" in line)


# --- a running agent ---------------------------------------------------------------

class Agent:
    def __init__(self, pid, sock, eval_text, log, proc=None):
        self.pid, self.sock, self.eval_text, self.log, self.proc = pid, sock, eval_text, log, proc
        self.status = None  # the wait status, once reaped

    def alive(self):
        return self.reap(block=False) is None

    def reap(self, block=True, timeout=30):
        """The exit status (os.waitpid's), or None while it runs."""
        if self.status is not None:
            return self.status
        if self.proc is not None:
            try:
                self.proc.wait(timeout=timeout if block else 0.001)
            except subprocess.TimeoutExpired:
                if block:
                    raise
                return None
            rc = self.proc.returncode
            self.status = (-rc) if rc < 0 else rc << 8
            return self.status
        end = time.monotonic() + timeout
        while True:
            pid, st = os.waitpid(self.pid, os.WNOHANG)
            if pid == self.pid:
                self.status = st
                return st
            if not block:
                return None
            if time.monotonic() > end:
                raise AssertionError(f"the agent (pid {self.pid}) did not exit")
            time.sleep(0.02)

    def exit_code(self, timeout=30):
        st = self.reap(timeout=timeout)
        return os.waitstatus_to_exitcode(st)

    def log_text(self):
        try:
            with open(self.log, encoding="utf-8", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""


class AgentCase(unittest.TestCase):
    """Doubles for the class; a sandbox, an agent and clients per test."""

    @classmethod
    def setUpClass(cls):
        become_subreaper()
        cls.tmp = tempfile.mkdtemp(prefix="dbr-agent-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, ignore_errors=True)
        os.chmod(cls.tmp, 0o755)
        cls.ws = workspace.start_workspace(cls.tmp, [(TOKEN, "me@example.com"),
                                                     (TOKEN2, "me@example.com"),
                                                     (ENV_TOKEN, "env@example.com")],
                                           pending_seconds=0.2, terminating_seconds=0.2)
        cls.addClassCleanup(cls.ws.stop)
        cls.v = vault.start_vault(cls.tmp, tls_dir=cls.ws.tls_dir, tokens={VAULT_TOKEN: {}},
                                  secrets_={"secret/db": {"token": TOKEN, "host": cls.ws.url},
                                            "secret/other": {"token": TOKEN,
                                                             "host": cls.ws.url},
                                            "secret/sp": {"client_id": CLIENT_ID,
                                                          "client_secret": CLIENT_SECRET,
                                                          "host": cls.ws.url}})
        cls.addClassCleanup(cls.v.stop)

    def setUp(self):
        self.ws.reset()
        self.ws.admin("POST", "oauth", {"clients": [
            {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "user": SP_USER}]})
        self.v.reset()
        self.dir = tempfile.mkdtemp(dir=self.tmp)
        self.home = os.path.join(self.dir, "home")
        self.run_dir = os.path.join(self.dir, "run")
        self.san_dir = os.path.join(self.dir, "sanitizer")
        for d in (self.home, self.run_dir, self.san_dir):
            os.makedirs(d, mode=0o700)
        self.cfg = os.path.join(self.home, ".databrickscfg")
        with open(self.cfg, "w") as f:
            for name, path in (("DEFAULT", "secret/db"), ("other", "secret/other"),
                               ("sp", "secret/sp")):
                f.write(f"[{name}]\nvault_path = {path}\nca_cert = {self.ws.ca_file}\n")
        os.chmod(self.cfg, 0o600)
        self.agents = []
        self.addCleanup(self.stop_agents)

    # --- environments --------------------------------------------------------------

    def sanitizer_env(self):
        env = {k: os.environ[k] for k in SANITIZER_VARS if k in os.environ}
        for k, name in (("ASAN_OPTIONS", "asan"), ("UBSAN_OPTIONS", "ubsan")):
            if k in env:  # reports of detached processes go to files
                env[k] += ":log_path=" + os.path.join(self.san_dir, name)
        return env

    def agent_env(self, **extra):
        env = {"PATH": "/usr/bin:/bin", "HOME": self.home, "XDG_RUNTIME_DIR": self.run_dir,
               "DBROKER_PLUGIN_DIR": PLUGIN_DIR, "VAULT_ADDR": self.v.url,
               "VAULT_CACERT": self.ws.ca_file, "VAULT_TOKEN": VAULT_TOKEN}
        env.update(self.sanitizer_env())
        env.update(extra)
        return {k: v for k, v in env.items() if v is not None}

    def client_env(self, resolve=False, **extra):
        """A client's environment: no credential of its own, unless resolve
        (Vault's variables, as for the agent)."""
        env = self.agent_env() if resolve else dict(
            {"PATH": "/usr/bin:/bin", "HOME": self.home, "XDG_RUNTIME_DIR": self.run_dir},
            **self.sanitizer_env())
        env.update(extra)
        return {k: v for k, v in env.items() if v is not None}

    # --- the agent ---------------------------------------------------------------------

    def start_agent(self, *start_args, globals_=(), env=None, pass_fds=(), log=True,
                    preexec_fn=None):
        """`dbroker [globals] agent start [start_args]` as users run it: the
        eval line on stdout, the agent detached. Returns an Agent."""
        logf = os.path.join(self.dir, "agent-%d.log" % len(self.agents))
        cmd = [BIN] + (["--log-file", logf, "--log-level", "debug"] if log else []) + \
            list(globals_) + ["agent", "start"] + list(start_args)
        p = subprocess.run(cmd, env=env or self.agent_env(), capture_output=True, text=True,
                           timeout=60, pass_fds=pass_fds, preexec_fn=preexec_fn)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assert_no_secret(p.stdout, p.stderr)
        sock, pid = EVAL_SOCK.search(p.stdout), EVAL_PID.search(p.stdout)
        self.assertTrue(sock and pid, p.stdout)
        agent = Agent(int(pid.group(1)), sock.group(1), p.stdout, logf)
        self.agents.append(agent)
        return agent

    def start_foreground(self, *start_args, globals_=(), env=None, cmd_prefix=(), pipes=True,
                         **kw):
        """The agent in the foreground (Popen; stdio pipes unless pipes is
        False and kw says where)."""
        logf = os.path.join(self.dir, "agent-%d.log" % len(self.agents))
        cmd = list(cmd_prefix) + [BIN, "--log-file", logf, "--log-level", "debug"] + \
            list(globals_) + ["agent", "start", "--foreground"] + list(start_args)
        if pipes:
            kw.update(stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        proc = subprocess.Popen(cmd, env=env or self.agent_env(), **kw)
        agent = Agent(proc.pid, None, "", logf, proc)
        self.agents.append(agent)
        return agent

    def stop_agents(self):
        """Stop what a test left running (SIGTERM); every agent must have
        exited 0 (also under ASan/UBSan, whose reports land in files)."""
        problems = []
        for a in self.agents:
            if a.alive():
                os.kill(a.pid, signal.SIGTERM)
            try:
                code = a.exit_code(timeout=20)
            except AssertionError:
                os.kill(a.pid, signal.SIGKILL)
                a.reap()
                code = "hung after SIGTERM"
            if a.proc is not None:
                a.proc.communicate()
            if code != 0 and not getattr(a, "killed", False):
                problems.append(f"agent {a.pid} exited {code}: {a.log_text()[-1500:]}")
        for name in sorted(os.listdir(self.san_dir)):
            with open(os.path.join(self.san_dir, name), errors="replace") as f:
                problems.append(f"{name}: {f.read()[-3000:]}")
        if problems:
            self.fail("\n".join(problems))

    # --- clients -------------------------------------------------------------------------

    def assert_no_secret(self, *texts):
        for t in texts:
            if isinstance(t, bytes):
                t = t.decode("utf-8", "replace")
            for s in SECRETS:
                for form in encodings(s):
                    self.assertNotIn(form, t)

    def dbr(self, *args, env=None, stdin="", timeout=120):
        p = subprocess.run([BIN] + list(args), env=env or self.client_env(), input=stdin,
                           capture_output=True, text=True, timeout=timeout)
        self.assert_no_secret(p.stdout, p.stderr)
        return p

    def ok(self, *args, **kw):
        p = self.dbr(*args, **kw)
        self.assertEqual(p.returncode, 0, f"{args}: {p.stderr}")
        return p

    def many(self, n, *args, env=None):
        """n clients at once; all must succeed. Returns [(stdout, stderr)]."""
        procs = [subprocess.Popen([BIN] + list(args), env=env or self.client_env(),
                                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(n)]
        outs = []
        for p in procs:
            out, err = p.communicate(timeout=120)
            self.assert_no_secret(out, err)
            self.assertEqual(p.returncode, 0, err)
            outs.append((out, err))
        return outs

    def status(self, env=None):
        return json.loads(self.ok("-o", "json", "agent", "status", env=env).stdout)

    def held(self, env=None):
        return {p["profile"]: p for p in self.status(env)["profiles"]}

    def vault_reads(self, path="secret/data/db"):
        return len(self.v.requests(path=path))

    def bearers(self, path=None):
        """The bearer tokens the workspace received on /api/ calls."""
        out = []
        for r in self.ws.requests(path=path):
            if r["path"].startswith("/api/"):
                out += [v[len("Bearer "):] for k, v in r["headers"]
                        if k.lower() == "authorization"]
        return out

    def connect(self, path):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(20)
        s.connect(path)
        return s
