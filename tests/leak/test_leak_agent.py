"""The shared-host leak audit with `dbroker agent` (test_leak.py audits every
command and provider without one).

One user's agent holds the Databricks token it read from Vault, and that
user's commands go through it. The canaries, random per run: the token and
the Vault token. No form of them (secret_forms.encodings) may appear in:
- any buffer the agent or a client wrote or sent (strace -f, the agent
  traced from its start to its exit), their stdout, stderr and log files,
  or any file created or changed under the sandbox (HOME, TMPDIR, the XDG
  directories, the socket's directory) or in /dev/shm;
- while a client waits on a slow answer: the argv of any process on the
  machine, the environment of any process on the machine (for the Vault
  token: of the agent and the client, the processes dbroker started), the
  client's readable memory (the agent's, the control, holds the token);
  and another local user can open none of the agent's and the client's
  environment, maps or memory.
Also: the agent makes itself undumpable with a 0/0 core limit, relays the
answers (seen in its trace), and exits 0 on `agent stop`.

Run by ctest with DBROKER_BIN, DBR_SOURCE_DIR and DBR_BINARY_DIR set; needs
strace; the other-user part needs root."""
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("DBR_SOURCE_DIR", os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(SRC, "tests", "integration"))
from agent_harness import (EVAL_PID, EVAL_SOCK, SCIM_ME, TOKEN, VAULT_TOKEN,  # noqa: E402
                           become_subreaper, wait_for)
from local_user import LocalUser  # noqa: E402
from proc_probe import scan_memory  # noqa: E402
from secret_forms import leaks, needles  # noqa: E402
from test_leak import (BIN, CORE_ZERO, DUMPABLE_OFF, DUMPABLE_ON, IS_ROOT,  # noqa: E402
                       PLUGIN_DIR, SANITIZER_VARS, changed_files, read_traces, snapshot,
                       strace_cmd, write_file)
import vault  # noqa: E402
import workspace  # noqa: E402

CANARIES = {"Databricks token": TOKEN, "Vault token": VAULT_TOKEN}
# run as the other user: what it can open of a process, and its argv
OBSERVER = r"""
import sys
for pid in sys.argv[1:]:
    for name in ("environ", "maps", "mem", "cmdline"):
        try:
            with open(f"/proc/{pid}/{name}", "rb") as f:
                data = f.read(1 << 20) if name != "mem" else b""
            print(pid, name, "read", data.hex())
        except OSError as e:
            print(pid, name, "denied", e.errno)
"""


class AgentLeakTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not shutil.which("strace"):
            raise RuntimeError("the leak audit needs strace: run scripts/bootstrap")
        become_subreaper()
        # the doubles and the traces (which hold the canaries on purpose)
        # live outside the sandbox dbroker sees
        cls.infra = tempfile.mkdtemp(prefix="dbr-leak-agent-infra-")
        cls.addClassCleanup(shutil.rmtree, cls.infra, ignore_errors=True)
        cls.ws = workspace.start_workspace(cls.infra, [(TOKEN, "me@example.com")])
        cls.addClassCleanup(cls.ws.stop)
        cls.v = vault.start_vault(cls.infra, tls_dir=cls.ws.tls_dir, tokens={VAULT_TOKEN: {}},
                                  secrets_={"secret/db": {"token": TOKEN, "host": cls.ws.url}})
        cls.addClassCleanup(cls.v.stop)

    def setUp(self):
        # a home as Debian makes them (0755), XDG_RUNTIME_DIR as systemd does
        self.sandbox = tempfile.mkdtemp(prefix="dbr-leak-agent-")
        self.addCleanup(shutil.rmtree, self.sandbox, ignore_errors=True)
        os.chmod(self.sandbox, 0o755)
        self.home = os.path.join(self.sandbox, "home")
        self.env = {"PATH": "/usr/bin:/bin", "HOME": self.home,
                    "DBROKER_PLUGIN_DIR": PLUGIN_DIR}
        for var, sub, mode in (("TMPDIR", "tmp", 0o700), ("XDG_CONFIG_HOME", "config", 0o755),
                               ("XDG_DATA_HOME", "data", 0o755),
                               ("XDG_CACHE_HOME", "cache", 0o755),
                               ("XDG_STATE_HOME", "state", 0o755),
                               ("XDG_RUNTIME_DIR", "run", 0o700)):
            self.env[var] = os.path.join(self.home, sub)
            os.makedirs(self.env[var], mode=mode)
        os.chmod(self.home, 0o755)
        self.cwd = self.env["TMPDIR"]
        for k in SANITIZER_VARS:
            if k in os.environ:
                self.env[k] = os.environ[k]
        # LeakSanitizer cannot work under ptrace
        self.env["ASAN_OPTIONS"] = (self.env.get("ASAN_OPTIONS", "") +
                                    ":detect_leaks=0").lstrip(":")
        write_file(os.path.join(self.home, ".databrickscfg"),
                   f"[DEFAULT]\nvault_path = secret/db\nca_cert = {self.ws.ca_file}\n")
        self.needles = needles(CANARIES)
        self.token_only = needles({"Databricks token": TOKEN})
        self.runs = 0

    def check(self, what, channels, found_in=None):
        found = {ch: leaks(data, found_in or self.needles) for ch, data in channels.items()}
        leaked = "; ".join(f"{ch}: {', '.join(lbl)}" for ch, lbl in found.items() if lbl)
        if leaked:
            self.fail(f"{what}: a canary leaked into {leaked}")

    def traced(self, name):
        self.runs += 1
        d = os.path.join(self.infra, f"trace-{self.runs}-{name}")
        os.mkdir(d)
        return d

    def start_agent(self):
        """The agent under strace -f from its start; (pid, socket, strace)."""
        trace = self.traced("agent")
        log = os.path.join(self.home, "agent.log")
        env = dict(self.env, VAULT_ADDR=self.v.url, VAULT_CACERT=self.ws.ca_file,
                   VAULT_TOKEN=VAULT_TOKEN)
        err = open(os.path.join(self.infra, "strace-agent.err"), "wb")
        self.addCleanup(err.close)
        st = subprocess.Popen(strace_cmd(os.path.join(trace, "t")) + [
            BIN, "--debug", "--log-file", log, "agent", "start"], env=env, cwd=self.cwd,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err)
        out, end = b"", time.monotonic() + 60
        while b"echo dbroker agent pid" not in out and time.monotonic() < end:
            if select.select([st.stdout], [], [], 1)[0]:
                out += os.read(st.stdout.fileno(), 4096)
        text = out.decode()
        sock, pid = EVAL_SOCK.search(text), EVAL_PID.search(text)
        self.assertTrue(sock and pid, text)
        return int(pid.group(1)), sock.group(1), st, trace, log

    @staticmethod
    def stop(pid, strace):
        """After a failure: the agent and its tracer do not outlive the test."""
        if strace.poll() is None:
            try:
                os.kill(pid, signal.SIGTERM)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
            strace.wait(timeout=60)
        strace.stdout.close()

    def client(self, n, *args):
        """One traced command through the agent; its channels checked."""
        trace = self.traced(f"client-{n}")
        log = os.path.join(self.home, f"client-{n}.log")
        p = subprocess.run(strace_cmd(os.path.join(trace, "t")) + [
            BIN, "--debug", "--log-file", log] + list(args), env=self.env, cwd=self.cwd,
            stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr[-1500:])
        traces = read_traces(trace)
        wire = b"\n".join(data for data, _ in traces.values())
        for line in [l for l in p.stdout.splitlines() if l.strip()]:
            self.assertIn(line, wire, f"{args}: not in the syscall trace")
        with open(log, "rb") as f:
            channels = {"stdout": p.stdout, "stderr": p.stderr, "--log-file": f.read()}
        if args[-2:] != ("agent", "status") and args[-1] != "stop":
            self.assertIn(b"through the agent", channels["--log-file"])
        channels.update({f"syscalls of {k}": data for k, (data, _) in traces.items()})
        self.check(f"client {' '.join(args)}", channels)
        return p

    def test_agent_and_clients_leak_nothing(self):
        before, shm = snapshot(self.sandbox), snapshot("/dev/shm")
        pid, sock, strace, agent_trace, agent_log = self.start_agent()
        self.addCleanup(self.stop, pid, strace)
        p = self.client(0, "clusters", "create", "--no-wait")
        cid = json.loads(p.stdout)["cluster_id"]
        for i, args in enumerate([["api", "GET", SCIM_ME], ["clusters", "list"],
                                  ["-o", "json", "clusters", "get", cid],
                                  ["--log-level", "trace", "api", "GET",
                                   "/api/2.1/clusters/list"],
                                  ["-o", "json", "agent", "status"]]):
            self.client(i + 1, *args)
        self.while_a_client_waits(pid)
        self.client(9, "agent", "stop")
        strace.wait(timeout=60)
        _, status = os.waitpid(pid, 0)
        self.assertEqual(os.waitstatus_to_exitcode(status), 0)
        self.assertFalse(os.path.exists(sock))
        # everything the agent wrote or sent, from its start to its exit
        traces = read_traces(agent_trace)
        calls = "\n".join(line for _, c in traces.values() for line in c)
        self.assertRegex(calls, DUMPABLE_OFF)
        self.assertNotRegex(calls, DUMPABLE_ON)
        self.assertRegex(calls, CORE_ZERO)
        wire = b"\n".join(data for data, _ in traces.values())
        self.assertIn(b'"userName": "me@example.com"', wire)  # it relayed the answers
        with open(agent_log, "rb") as f:
            log = f.read()
        self.assertIn(b"agent: resolved profile 'DEFAULT' (pat, from 'vault'", log)
        channels = {f"syscalls of the agent's {k}": data for k, (data, _) in traces.items()}
        channels["the agent's --log-file"] = log
        # every file written under the sandbox and in /dev/shm
        for path in changed_files(self.sandbox, before) + changed_files("/dev/shm", shm):
            try:
                with open(path, "rb") as f:
                    channels["file " + path] = f.read(64 << 20)
            except OSError:
                continue
        self.check("the agent", channels)
        self.assertEqual(len(self.v.requests(path="secret/data/db")), 1)

    def while_a_client_waits(self, agent):
        self.ws.add_fault("slow", path="scim/v2/Me", seconds=5)
        c = subprocess.Popen([BIN, "api", "GET", SCIM_ME], env=self.env, cwd=self.cwd,
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        try:
            wait_for("the slow request", lambda: any(
                r["status"] is None for r in self.ws.requests(path="scim/v2/Me")))
            seen = self.every_process(agent, c.pid)
            in_client, scanned = scan_memory(c.pid, self.needles)
            observed = self.observe_as_another_user(agent, c.pid)
            self.assertIsNone(c.poll(), "the client ended while it was being looked at")
        finally:
            out, err = c.communicate(timeout=60)
        self.assertEqual(c.returncode, 0, err[-1500:])
        in_agent, _ = scan_memory(agent, self.token_only)
        self.assertGreater(seen, 10)
        self.assertEqual(in_client, [], "the token in the client's memory")
        self.assertGreater(scanned, 1 << 20)
        self.assertIn("Databricks token (raw)", in_agent)  # the control
        self.check("the waiting client", {"stdout": out, "stderr": err})
        for who, name, how, data in observed:
            if name == "cmdline":
                self.assertEqual(how, "read")
                self.check(f"{who}'s cmdline, read by another user", {"cmdline": data})
            else:
                self.assertEqual(how, "denied", f"another user read the {who}'s {name}")

    def every_process(self, agent, client):
        """argv and environment of every process: how many were read."""
        n = 0
        for pid in [p for p in os.listdir("/proc") if p.isdigit()]:
            ch = {}
            for name in ("cmdline", "environ"):
                try:
                    with open(f"/proc/{pid}/{name}", "rb") as f:
                        ch[f"/proc/{pid}/{name}"] = f.read()
                except OSError:  # gone, or not ours to read
                    continue
            n += 1 if ch else 0
            own = int(pid) in (agent, client)
            self.check(f"process {pid}", ch, None if own else self.token_only)
        return n

    def observe_as_another_user(self, agent, client):
        if not IS_ROOT:
            return []
        user = LocalUser("dbrlk")
        try:
            r = user.run("/usr/bin/python3", "-c", OBSERVER, str(agent), str(client))
        finally:
            user.remove()
        self.assertEqual(r.returncode, 0, r.stderr)
        out = []
        for line in r.stdout.splitlines():
            pid, name, how, data = (line.split() + [""])[:4]
            who = "agent" if int(pid) == agent else "client"
            out.append((who, name, how, bytes.fromhex(data) if how == "read" else b""))
        self.assertEqual(len(out), 8, r.stdout)
        return out


if __name__ == "__main__":
    unittest.main(verbosity=2)
