"""`dbroker agent` attacked: malformed and oversized protocol messages from a
raw socket client, requests aimed at another host, a client that hangs up,
the agent process as an observer sees it (dumpable? core limit, locked
memory, working directory, inherited descriptors, environment, signals),
and another real local user: connecting to the agent through a loosened
socket, and planting a socket for our clients. Run by ctest with
DBROKER_BIN, DBR_SOURCE_DIR and DBR_BINARY_DIR set; the other-user tests
need root (useradd, setpriv)."""
import os
import resource
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from agent_harness import (AGENT_MSG_MAX, BIN, CALL, CLIENT_SECRET, ENV_TOKEN,  # noqa: E402
                           IS_ROOT, OPEN, R_CALL, R_ERROR, R_OK, SCIM_ME, STATUS, T_FLAGS,
                           T_FORWARD, T_HEADERS, T_MESSAGE, T_METHOD, T_PATH, T_PROFILE,
                           T_RC, T_STATUS, TOKEN, VAULT_TOKEN, AgentCase, LocalUser, as_int,
                           as_text, field, frame, headers, i64, mem_probe, proc_status,
                           read_msg, text, wait_for, without_ptrace_cap)
from secret_forms import needles  # noqa: E402

DBR_E_INVAL, DBR_E_NO_PROFILE, DBR_E_TOO_LARGE = -2, -7, -11
MAX_CLIENTS = 256  # DBR_AGENT_DEFAULT_MAX_CLIENTS
# run as the other user (Debian's python3: the other user cannot reach ours)
RAW_CLIENT = r"""
import os, socket, struct, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sys.argv[1])
print("connected", os.getpid(), flush=True)
# what the agent says first (a refusal carries the reason), then whether a
# request (status) gets anything more
data = b""
try:
    data = s.recv(65536)
    s.sendall(struct.pack(">I", 2) + bytes([1, 3]))
    rest = s.recv(65536)
except (ConnectionResetError, BrokenPipeError):
    rest = b""
if not data:
    print("closed")
else:
    print("answer type %d%s, then %s" % (data[5], " (serves uid)" if b"serves uid" in data else "",
                                         "closed" if not rest else "more"))
"""
LISTENER = r"""
import os, socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o777)
s.listen(4)
s.settimeout(60)
print("listening", flush=True)
got = 0
for _ in range(int(sys.argv[2])):
    c, _ = s.accept()
    c.settimeout(20)
    while True:
        d = c.recv(65536)
        if not d:
            break
        got += len(d)
    c.close()
print("received", got, flush=True)
"""


def call(profile, method, path, *extra):
    return frame(CALL, text(T_PROFILE, profile), text(T_METHOD, method), text(T_PATH, path),
                 *extra)


class ProtocolTest(AgentCase):
    def ask(self, s, data):
        s.sendall(data)
        return read_msg(s)

    def test_malformed_messages_close_only_that_connection(self):
        a = self.start_agent()
        keep = self.connect(a.sock)  # a well-behaved client, connected throughout
        self.assertEqual(self.ask(keep, frame(STATUS))[0], R_OK)
        cut = frame(OPEN, text(T_PROFILE, "DEFAULT"))
        cut = struct.pack(">I", len(cut) - 5) + cut[4:-1]
        bad = [("a length prefix of 4 GiB", b"\xff\xff\xff\xff" + b"x" * 64, DBR_E_TOO_LARGE),
               ("one byte over the cap", struct.pack(">I", AGENT_MSG_MAX + 1), DBR_E_TOO_LARGE),
               ("an empty frame", b"\0\0\0\0", DBR_E_INVAL),
               ("protocol version 2", frame(STATUS, version=2), DBR_E_INVAL),
               ("no type", frame(0), DBR_E_INVAL),
               ("a field cut short", cut, DBR_E_INVAL),
               ("a field twice", frame(OPEN, text(T_PROFILE, "a"), text(T_PROFILE, "b")),
                DBR_E_INVAL)]
        for name, data, rc in bad:
            with self.subTest(name):
                with self.connect(a.sock) as s:
                    m = self.ask(s, data)
                    self.assertEqual((m[0], as_int(m[1][T_RC])), (R_ERROR, rc))
                    self.assertIn("not dbroker's agent protocol 1", as_text(m[1][T_MESSAGE]))
                    self.assertIsNone(read_msg(s), "the connection stays open")
        self.assertEqual(a.log_text().count("closing the connection"), len(bad))
        # well-framed requests it refuses: answered, the connection stays
        refused = [
            ("an unknown type", frame(0x7f), "unknown request type"),
            ("a call without a path", frame(CALL, text(T_PROFILE, "DEFAULT"),
                                            text(T_METHOD, "GET")), "a malformed call request"),
            ("a profile without its NUL", frame(OPEN, field(T_PROFILE, b"DEFAULT")),
             "a missing or malformed profile name"),
            ("a profile with a line break", frame(OPEN, text(T_PROFILE, "DEF\nAULT")),
             "a missing or malformed profile name"),
            ("a profile with brackets", frame(OPEN, text(T_PROFILE, "x]\n[DEFAULT")),
             "a missing or malformed profile name"),
            ("flags nobody knows", call("DEFAULT", "GET", SCIM_ME, i64(T_FLAGS, 1 << 20)),
             "a malformed call request"),
            ("a timeout of the wrong size", call("DEFAULT", "GET", SCIM_ME,
                                                 field(6, b"\0\0\0\1")), "malformed"),
            ("a header with CR LF", call("DEFAULT", "GET", SCIM_ME, i64(T_FORWARD, 1), headers(
                T_HEADERS, [("X-A", "v\r\nX-Injected: 1")])), "malformed request headers"),
        ]
        with self.connect(a.sock) as s:
            for name, data, want in refused:
                with self.subTest(name):
                    m = self.ask(s, data)
                    self.assertEqual(m[0], R_ERROR)
                    self.assertIn(want, as_text(m[1][T_MESSAGE]))
            m = self.ask(s, frame(OPEN, text(T_PROFILE, "nosuch")))
            self.assertEqual((m[0], as_int(m[1][T_RC])), (R_ERROR, DBR_E_NO_PROFILE))
            self.assertEqual(self.ask(s, frame(STATUS))[0], R_OK)
        self.assertEqual(self.v.requests(), [])
        self.assertEqual(self.ws.requests(), [])
        # half a frame, then gone; a client gone before its answer
        with self.connect(a.sock) as s:
            s.sendall(frame(STATUS)[:3])
        self.ws.add_fault("slow", path="scim/v2/Me", seconds=1)
        with self.connect(a.sock) as s:
            s.sendall(call("DEFAULT", "GET", SCIM_ME))
            wait_for("the call in flight", lambda: self.ws.requests(path="scim/v2/Me"))
            # gone before the answer
        wait_for("the answer nobody takes", lambda: all(
            r["status"] for r in self.ws.requests(path="scim/v2/Me")))
        # the agent lives on, and so does the first connection
        self.assertEqual(self.ask(keep, frame(STATUS))[0], R_OK)
        m = self.ask(keep, call("DEFAULT", "GET", SCIM_ME))
        self.assertEqual((m[0], as_int(m[1][T_RC]), as_int(m[1][T_STATUS])), (R_CALL, 0, 200))
        keep.close()
        self.ok("api", "GET", SCIM_ME)
        self.assertTrue(a.alive())

    def test_requests_go_only_to_the_workspace_of_the_profile(self):
        a = self.start_agent()
        self.ok("api", "GET", SCIM_ME)
        self.v.clear_requests()
        self.ws.clear_requests()
        vhost = self.v.url[len("https://"):]
        refused = [self.v.url + "/v1/secret/data/db", "@" + vhost + "/v1/secret/data/db",
                   "/api/2.0/../../v1/secret/data/db", ".evil.example/api/2.0/x"]
        forwarded = ["@" + vhost + "/v1/secret/data/db", "https://" + vhost + "/v1/sys"]
        sent = ["//" + vhost + "/v1/secret/data/db", "/v1/secret/data/db"]
        with self.connect(a.sock) as s:
            for path in refused:
                m = self.ask(s, call("DEFAULT", "GET", path))
                self.assertEqual((m[0], as_int(m[1][T_RC])), (R_CALL, DBR_E_INVAL), path)
            for path in forwarded:
                m = self.ask(s, call("DEFAULT", "GET", path, i64(T_FORWARD, 1)))
                self.assertEqual((m[0], as_int(m[1][T_RC])), (R_CALL, DBR_E_INVAL), path)
            for path in sent:
                m = self.ask(s, call("DEFAULT", "GET", path, i64(T_FORWARD, 1), headers(
                    T_HEADERS, [("Host", vhost), ("X-Forwarded-Host", vhost)])))
                self.assertEqual((m[0], as_int(m[1][T_RC])), (R_CALL, 0), path)
        # nothing reached Vault; what went out went to the workspace, signed
        self.assertEqual(self.v.requests(), [])
        self.assertEqual(len(self.ws.requests()), len(sent))
        for r in self.ws.requests():
            self.assertTrue(r["path"].endswith("/v1/secret/data/db"), r["path"])
        self.assertEqual(self.bearers(), [])  # not /api/ paths: look at them all
        for r in self.ws.requests():
            self.assertIn(["Authorization", "Bearer " + TOKEN], r["headers"])


class ExhaustionTest(AgentCase):
    def hold(self, path, n):
        """n idle connections to the agent, accepted (closed at cleanup)."""
        held = []
        self.addCleanup(lambda: [s.close() for s in held])
        for _ in range(n):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(path)  # blocking: waits while the agent accepts the burst
            held.append(s)
        return held

    def test_a_client_past_the_most_at_once_is_told_why(self):
        a = self.start_agent()
        held = self.hold(a.sock, MAX_CLIENTS)
        wait_for("every connection accepted", lambda: self.status_raw(a.sock) is None)
        for args in (["api", "GET", SCIM_ME], ["agent", "status"]):
            with self.subTest(args[0]):
                p = self.dbr(*args)
                self.assertEqual(p.returncode, 1, p.stderr)
                self.assertIn(f"the agent serves at most {MAX_CLIENTS} connections at once and "
                              "has that many: try again when fewer commands run, or run this "
                              "one with --no-agent", p.stderr)
        self.assertIn("too many clients at once", a.log_text())
        self.assertEqual(self.ws.requests(), [])
        held.pop().close()
        wait_for("a free place", lambda: self.dbr("api", "GET", SCIM_ME).returncode == 0)

    def test_out_of_descriptors_connections_are_told_why_without_spinning(self):
        def few_fds():
            resource.setrlimit(resource.RLIMIT_NOFILE, (32, 32))

        a = self.start_agent(preexec_fn=few_fds)
        held = self.hold(a.sock, 40)  # more than it can open
        wait_for("a connection turned away", lambda: self.status_raw(a.sock) is None)

        def cpu_ticks():
            with open(f"/proc/{a.pid}/stat") as f:
                st = f.read().rsplit(")", 1)[1].split()
            return int(st[11]) + int(st[12])  # utime + stime

        before = cpu_ticks()
        time.sleep(1)
        self.assertLess(cpu_ticks() - before, 20, "the agent spins on accept")
        p = self.dbr("api", "GET", SCIM_ME, timeout=60)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("the agent has no file descriptor left for another connection (it may "
                      "open 32): try again when fewer commands run, or run this one with "
                      "--no-agent; 'ulimit -n' before 'agent start' raises the limit", p.stderr)
        self.assertIn("out of file descriptors", a.log_text())
        for s in held:
            s.close()
        wait_for("a free descriptor", lambda: self.dbr("api", "GET", SCIM_ME).returncode == 0)

    def test_a_full_queue_of_connections_is_waited_for_a_bounded_time(self):
        # the agent stopped (Ctrl-Z on --foreground, a debugger) while
        # clients keep connecting: its listen queue fills up
        a = self.start_agent()
        os.kill(a.pid, signal.SIGSTOP)
        self.addCleanup(os.kill, a.pid, signal.SIGCONT)
        queued = []
        self.addCleanup(lambda: [s.close() for s in queued])
        while True:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.setblocking(False)
            try:
                s.connect(a.sock)
            except BlockingIOError:
                s.close()
                break
            queued.append(s)
        for args in (["agent", "status"], ["api", "GET", SCIM_ME],
                     ["agent", "start", "--socket", a.sock]):
            with self.subTest(args[0] + " " + args[1]):
                t0 = time.monotonic()
                p = self.dbr(*args, env=self.agent_env(), timeout=60)
                self.assertLess(time.monotonic() - t0, 30)
                self.assertEqual(p.returncode, 7, p.stderr)
                self.assertIn("the agent's queue of connections stayed full for 10 s (the agent "
                              "is stopped, hung or overloaded): resume it (kill -CONT) or kill "
                              "it and start another; or run the command with --no-agent",
                              p.stderr)
        os.kill(a.pid, signal.SIGCONT)
        for s in queued:
            s.close()
        self.ok("api", "GET", SCIM_ME)

    def test_a_stopped_agent_is_named_as_the_likely_cause(self):
        # stopped with room in its queue: the connection is made, no answer
        # comes; the control request gives up after its 10 s saying what
        # to do (before: only "the agent did not answer in time")
        a = self.start_agent()
        os.kill(a.pid, signal.SIGSTOP)
        self.addCleanup(os.kill, a.pid, signal.SIGCONT)
        p = self.dbr("agent", "status", env=self.agent_env(), timeout=60)
        self.assertEqual(p.returncode, 7, p.stderr)
        self.assertIn("the agent did not answer within 10 s (it may be stopped or hung: resume "
                      "it with kill -CONT, or kill it and start another; or run the command "
                      "with --no-agent)", p.stderr)
        os.kill(a.pid, signal.SIGCONT)
        self.ok("agent", "status")

    def status_raw(self, path):
        """The status answer on a new connection, or None when the agent
        turned it away."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect(path)
            s.settimeout(20)
            try:
                s.sendall(frame(STATUS))
            except BrokenPipeError:
                pass
            m = read_msg(s)
            return None if m is None or m[0] == R_ERROR else m


class ProcessTest(AgentCase):
    def test_the_agent_process_is_hardened(self):
        # descriptors it inherits: a low one and one past 1024
        path = os.path.join(self.dir, "inherited")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        high = min(resource.getrlimit(resource.RLIMIT_NOFILE)[0] - 1, 4000)
        os.dup2(fd, 9, inheritable=True)
        os.dup2(fd, high, inheritable=True)
        self.addCleanup(os.close, 9)
        self.addCleanup(os.close, high)
        os.close(fd)
        canary = "canary-" + os.urandom(8).hex()
        env = self.agent_env(DATABRICKS_TOKEN=ENV_TOKEN, DATABRICKS_CLIENT_SECRET=CLIENT_SECRET,
                             DBR_UNRELATED=canary)
        a = self.start_agent(env=env, pass_fds=(9, high))
        # what it was started with is not what it serves: the profile's
        # credential, from Vault
        self.ok("api", "GET", SCIM_ME)
        self.assertEqual(self.held()["DEFAULT"]["source"], "vault")
        self.assertEqual(self.bearers(), [TOKEN])
        st = proc_status(a.pid)
        # (also under ASan: dbroker locks by system call, not its no-op mlock())
        self.assertGreater(int(st["VmLck"].split()[0]), 0, "no memory locked")
        with open(f"/proc/{a.pid}/limits") as f:
            self.assertRegex(f.read(), r"(?m)^Max core file size\s+0\s+0\s")
        self.assertEqual(os.readlink(f"/proc/{a.pid}/cwd"), "/")
        fds = {int(n): os.readlink(f"/proc/{a.pid}/fd/{n}") for n in os.listdir(
            f"/proc/{a.pid}/fd")}
        self.assertNotIn(path, fds.values(), fds)
        self.assertEqual([fds[0], fds[1], fds[2]], ["/dev/null"] * 3)
        caught, ignored = int(st["SigCgt"], 16), int(st["SigIgn"], 16)
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT, signal.SIGQUIT,
                    signal.SIGUSR1):
            self.assertTrue(caught & (1 << (sig - 1)), signal.Signals(sig).name)
        self.assertTrue(ignored & (1 << (signal.SIGPIPE - 1)))
        # not dumpable: a same-uid process without CAP_SYS_PTRACE cannot
        # open its memory, though it can open a dumpable twin's
        twin = subprocess.Popen(["sleep", "60"], preexec_fn=without_ptrace_cap)
        try:
            self.assertEqual(mem_probe(twin.pid), "open")
        finally:
            twin.kill()
            twin.wait()
        self.assertTrue(mem_probe(a.pid).startswith("denied"), "the agent is dumpable")
        if not IS_ROOT:
            return  # the environment of an undumpable process is root's to read
        with open(f"/proc/{a.pid}/environ", "rb") as f:
            environ = f.read()
        self.assertIn(b"HOME=" + self.home.encode(), environ)
        self.assertNotIn(b"DBR_UNRELATED", environ)
        found = needles({"env token": ENV_TOKEN, "client secret": CLIENT_SECRET,
                         "Vault token": VAULT_TOKEN, "canary": canary})
        self.assertEqual([lbl for n, lbl in found.items() if n in environ], [])


    @unittest.skipUnless(IS_ROOT, "the environment of an undumpable process is root's to read")
    def test_the_agent_keeps_the_proxy_variables(self):
        # behind a proxy the agent reaches the workspace and Vault the way a
        # command does: libcurl reads these from the agent's environment
        proxies = {"HTTPS_PROXY": "http://proxy.invalid:3128",
                   "https_proxy": "http://proxy.invalid:3129",
                   "ALL_PROXY": "http://proxy.invalid:3130",
                   "all_proxy": "http://proxy.invalid:3131",
                   "NO_PROXY": "vault.invalid", "no_proxy": ".internal.invalid"}
        a = self.start_agent(env=self.agent_env(**proxies))
        self.ok("api", "GET", SCIM_ME)  # loopback: never through a proxy
        with open(f"/proc/{a.pid}/environ", "rb") as f:
            environ = f.read().split(b"\0")
        self.assertEqual([k for k, v in proxies.items() if f"{k}={v}".encode() not in environ],
                         [])


@unittest.skipUnless(IS_ROOT, "needs root to create another local user")
class OtherUserTest(AgentCase):
    def setUp(self):
        super().setUp()
        self.user = LocalUser()
        self.addCleanup(self.user.remove)

    def test_another_user_is_refused_even_through_a_loosened_socket(self):
        a = self.start_agent()
        for d in (self.dir, self.run_dir, os.path.dirname(a.sock)):
            os.chmod(d, 0o711)
        os.chmod(a.sock, 0o666)
        r = self.user.run("/usr/bin/python3", "-c", RAW_CLIENT, a.sock)
        self.assertEqual(r.returncode, 0, r.stderr)
        first, last = r.stdout.split("\n")[:2]
        self.assertTrue(first.startswith("connected "), r.stdout)  # the mode let it in
        # the agent answered only why (an error, not the status asked for)
        # and closed the connection
        self.assertEqual(last, "answer type 130 (serves uid), then closed")
        pid = int(first.split()[1])
        wait_for("the refusal in the log", lambda: "refused a connection" in a.log_text())
        self.assertIn(f"agent: refused a connection from uid {self.user.uid} (pid {pid}): "
                      f"only uid {os.geteuid()} is served", a.log_text())
        # the other user's own dbroker refuses an agent that is not theirs
        env = {"PATH": "/usr/bin:/bin", "HOME": "/", "DBROKER_AGENT_SOCK": a.sock}
        env.update({k: os.environ[k] for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS")
                    if k in os.environ})
        r = self.user.run(BIN, "agent", "status", env=env)
        self.assertEqual(r.returncode, 4, r.stderr)
        self.assertIn(f"it runs as uid {os.geteuid()}, not as you (uid {self.user.uid})",
                      r.stderr)
        st = self.status()
        self.assertEqual(st["clients_refused"], 2)
        self.assertEqual(st["profiles"], [])
        self.assertEqual(self.v.requests(), [])

    def test_our_agent_socket_in_another_users_environment_says_what_to_do(self):
        # after 'su' without '-', XDG_RUNTIME_DIR is still the other account's:
        # its socket cannot even be reached
        a = self.start_agent()
        env = {"PATH": "/usr/bin:/bin", "HOME": "/", "XDG_RUNTIME_DIR": self.run_dir}
        env.update({k: os.environ[k] for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS")
                    if k in os.environ})
        for args in (["api", "GET", SCIM_ME], ["agent", "status"]):
            with self.subTest(args[0]):
                r = self.user.run(BIN, *args, env=env)
                self.assertEqual(r.returncode, 4, r.stderr)
                self.assertIn(f"cannot connect to the agent on '{a.sock}': Permission denied: "
                              "that socket, or a directory above it, is not yours to use "
                              "(XDG_RUNTIME_DIR or DBROKER_AGENT_SOCK may be another user's, "
                              "e.g. after 'su' without '-'): point DBROKER_AGENT_SOCK at your "
                              "own agent, or run the command with --no-agent", r.stderr)
        self.assertEqual(self.status()["clients_served"], 1)

    def test_a_socket_planted_by_another_user_is_refused_before_anything_is_sent(self):
        theirs = tempfile.mkdtemp(dir=self.tmp)
        os.chmod(theirs, 0o755)
        os.chown(theirs, self.user.uid, self.user.gid)
        path = os.path.join(theirs, "agent.sock")
        lst = self.user.popen("/usr/bin/python3", "-c", LISTENER, path, "3",
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
        try:
            self.assertEqual(lst.stdout.readline().strip(), "listening", lst.stderr)
            env = self.client_env(resolve=True, DBROKER_AGENT_SOCK=path)
            for args in (["api", "GET", SCIM_ME], ["agent", "status"]):
                p = self.dbr(*args, env=env)
                self.assertEqual(p.returncode, 4, p.stderr)
                self.assertIn(f"refusing the agent on '{path}': it runs as uid "
                              f"{self.user.uid}", p.stderr)
            # nor does an agent start there
            p = self.dbr("agent", "start", "--socket", path, env=self.agent_env())
            self.assertEqual(p.returncode, 4, p.stderr)
            out, err = lst.communicate(timeout=60)
        finally:
            if lst.poll() is None:
                lst.kill()
                lst.communicate()
        self.assertEqual(out.strip(), "received 0", err)
        self.assertEqual(self.ws.requests(), [])
        self.assertEqual(self.v.requests(), [])


if __name__ == "__main__":
    unittest.main()
