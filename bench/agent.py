#!/usr/bin/python3
"""Benchmark `dbroker agent`: one process holds the credential (read from
Vault) and signs every request for its clients over a Unix socket. Against
the local HTTPS workspace and Vault doubles (tests/doubles), with baselines
measured in the same run:

  1. a warm agent: `dbroker clusters get ID` through the agent (which keeps
     its TLS connection to the workspace open) versus curl sending the same
     GET with the token (read from a 0600 header file), and, for context,
     `dbroker --no-agent clusters get ID`, which reads the token from Vault
     itself. The order rotates every round; the first round is dropped.
     Goal: agent client <= 1.05x curl (median of the per-round ratios).
  2. the client's peak RSS (GNU time's %M), from the same runs.
     Goal: <= 4 MiB.
  3. N (default 64) concurrent clients against a fresh agent, stopped
     (SIGSTOP) until all N have connected, so they all wait for its one
     resolution; then the same N as independent `--no-agent` runs that each
     read Vault. Every Vault read answers after --vault-delay (0.5 s) and
     every workspace answer after --hold (1 s), on both sides, so the calls
     overlap. Counted: Vault reads (the agent's must be exactly 1), the
     agent's VmHWM and VmRSS (/proc), the sum of the clients' peak RSS (GNU
     time). Goals: agent <= 32 MiB; the independent runs' summed peak RSS
     at least 5x the agent's VmHWM + its clients' summed peak RSS. Summed
     RSS counts every shared library page once per process, so the
     physical memory is estimated too: each process's private pages
     (sampled every 0.1 s from /proc, the largest kept) plus the shared
     ones once.

It exits non-zero only when something fails functionally (a command fails,
a client did not go through the agent, the agent read Vault more than once
or died), never because of a timing or a memory figure.

usage: bench/agent.py [--runs N] [--clients N] [--op get|list] [--vault-delay S]
                      [--hold S] [--bin PATH] [--plugin-dir DIR] [--only warm|concurrent]
"""
import argparse
import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.dont_write_bytecode = True
sys.path.insert(0, HERE)
from procmem import children, physical, private_and_rss, status_kib  # noqa: E402
from timed import paired, peak_rss, ratios, require, show, start  # noqa: E402
sys.path.insert(0, os.path.join(ROOT, "tests", "doubles"))
import vault  # noqa: E402
import workspace  # noqa: E402
from workspace_client import write_private  # noqa: E402

SECRET_PATH = "secret/bench/agent"   # mount "secret/" (KV v2) + "bench/agent"
READ_PATH = "/v1/secret/data/bench/agent"
GOAL_WALL = 1.05
GOAL_CLIENT_MIB = 4
GOAL_AGENT_MIB = 32
GOAL_SAVING = 5


def mib(kib):
    return kib / 1024


def verdict(ok):
    return "met" if ok else "NOT met"


class Agent:
    """`dbroker agent start --foreground --socket PATH` as a child."""

    def __init__(self, bin_path, env, directory):
        self.sock = os.path.join(directory, "agent.sock")
        self.log = os.path.join(directory, "agent.log")
        self.bin, self.env = bin_path, env
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [bin_path, "agent", "start", "--foreground", "--socket", self.sock],
                env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log)
        # the eval line comes once it listens
        line = self.proc.stdout.readline().decode()
        self.proc.stdout.close()
        if "DBROKER_AGENT_SOCK=" not in line:
            self.fail("did not start")

    def fail(self, what):
        with open(self.log, errors="replace") as f:
            sys.exit(f"the agent {what}: {f.read()[-1500:]}")

    def memory(self):
        """{VmHWM, VmRSS} in KiB, from /proc."""
        if self.proc.poll() is not None:
            self.fail(f"died ({self.proc.returncode})")
        return status_kib(self.proc.pid, ("VmHWM", "VmRSS"))

    def wait_queued(self, n, timeout=120):
        """Until n connections wait in the socket's accept queue."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            out = subprocess.run(["ss", "-xlH", "src", self.sock], capture_output=True,
                                 text=True).stdout.split()
            if len(out) > 2 and int(out[2]) >= n:
                return
            time.sleep(0.05)
        self.proc.send_signal(signal.SIGCONT)
        sys.exit(f"{n} clients did not connect to the agent within {timeout} s")

    def status(self):
        p = subprocess.run([self.bin, "-o", "json", "agent", "status"], capture_output=True,
                           text=True, env=dict(self.env, DBROKER_AGENT_SOCK=self.sock))
        if p.returncode != 0:
            self.fail(f"did not answer 'agent status' ({p.returncode}: {p.stderr[:300]})")
        return json.loads(p.stdout)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Bench:
    """The doubles, the profile and the commands."""

    def __init__(self, args, tmp):
        self.args, self.tmp = args, tmp
        self.token = "dapi" + secrets.token_hex(16)
        vtoken = "hvs." + secrets.token_urlsafe(24)
        self.ws = workspace.start_workspace(tmp, [self.token], pending_seconds=3600)
        self.v = vault.start_vault(tmp, tokens={vtoken: {}},
                                   secrets_={SECRET_PATH: [{"token": self.token,
                                                            "host": self.ws.url}]},
                                   mounts={"secret/": {"version": 2}})
        home = os.path.join(tmp, "home")
        os.makedirs(home, mode=0o700)
        # no token in the profile: the host and the token come from Vault
        write_private(os.path.join(home, ".databrickscfg"),
                      f"[DEFAULT]\nca_cert = {self.ws.ca_file}\nvault_addr = {self.v.url}\n"
                      f"vault_path = {SECRET_PATH}\nvault_kv_version = 2\n")
        base = {"PATH": "/usr/bin:/bin", "HOME": home, "DBROKER_PLUGIN_DIR": args.plugin_dir}
        # the agent and the independent runs read Vault; the clients cannot
        self.agent_env = dict(base, VAULT_TOKEN=vtoken, VAULT_CACERT=self.ws.ca_file)
        self.client_base = base
        self.cid = self.ws.call("POST", "/api/2.1/clusters/create", token=self.token, body={
            "cluster_name": "bench", "spark_version": "15.4.x-scala2.12",
            "node_type_id": "i3.xlarge", "num_workers": 1}).json["cluster_id"]
        self.hdr = os.path.join(tmp, "auth-header")
        write_private(self.hdr, "Authorization: Bearer %s\n" % self.token)

    def stop(self):
        self.ws.stop()
        self.v.stop()

    def client_env(self, agent):
        return dict(self.client_base, DBROKER_AGENT_SOCK=agent.sock)

    def no_agent_env(self, agent):
        return dict(self.agent_env, DBROKER_AGENT_SOCK=agent.sock)

    def dbroker_cmd(self, no_agent=False):
        op = ["clusters", "get", self.cid] if self.args.op == "get" else ["clusters", "list"]
        return [self.args.bin] + (["--no-agent"] if no_agent else []) + op

    def api_path(self):
        return "/api/2.1/clusters/" + self.args.op

    def curl_cmd(self):
        query = "?cluster_id=" + self.cid if self.args.op == "get" else ""
        return [self.args.curl, "-sS", "--fail-with-body", "--cacert", self.ws.ca_file,
                "-H", "@" + self.hdr, "-A", "dbroker/bench", "-o", os.devnull,
                self.ws.url + self.api_path() + query]

    def vault_reads(self):
        return sum(1 for r in self.v.requests() if r["path"] == READ_PATH)


def check_through_agent(b, agent):
    """Once, untimed: the client answers with the cluster and says that the
    agent holds the credential."""
    p = subprocess.run([b.args.bin, "--debug"] + b.dbroker_cmd()[1:], env=b.client_env(agent),
                       capture_output=True, text=True, timeout=120)
    if (p.returncode != 0 or b.cid not in p.stdout
            or "credential held by the agent" not in p.stderr or b.token in p.stderr):
        sys.exit(f"the client did not get the cluster through the agent ({p.returncode}): "
                 f"{p.stdout[:300]} {p.stderr[-800:]}")


def warm(b):
    """1 and 2: a warm agent against curl (and the agent-less run)."""
    args = b.args
    d = os.path.join(b.tmp, "warm")
    os.makedirs(d)
    agent = Agent(args.bin, b.agent_env, d)
    try:
        b.v.clear_requests()
        check_through_agent(b, agent)  # resolves, connects: the agent is warm
        reads = b.vault_reads()
        walls, rss = paired([("agent", b.dbroker_cmd(), b.client_env(agent)),
                             ("curl", b.curl_cmd(), b.client_base),
                             ("no-agent", b.dbroker_cmd(True), b.no_agent_env(agent))],
                            args.runs, os.path.join(d, "rss"))
        st = agent.status()
        mem = agent.memory()
    finally:
        agent.stop()
    prof = st["profiles"][0] if st.get("profiles") else {}
    if reads != 1 or st.get("resolutions") != 1 or prof.get("reads") != 1:
        sys.exit(f"the warm agent read Vault {reads} time(s), status {st}: expected 1")
    print(f"== warm agent: `{' '.join(['dbroker'] + b.dbroker_cmd()[1:])}`, "
          f"{args.runs} rounds (+1 dropped), order rotating")
    for name in ("curl", "agent", "no-agent"):
        show(name, walls, rss, width=9)
    agent_r, agent_p = ratios(walls, "agent", "curl")
    plain_r, plain_p = ratios(walls, "no-agent", "curl")
    print(f"agent/curl:    {agent_r:.3f} (median of paired ratios {agent_p:.3f}); "
          f"goal <= {GOAL_WALL}: {verdict(agent_p <= GOAL_WALL)}")
    print(f"no-agent/curl: {plain_r:.3f} (median of paired ratios {plain_p:.3f}); "
          f"context: reads Vault and opens its own TLS connection every run")
    client = statistics.median(rss["agent"])
    print(f"client peak RSS: median {mib(client):.2f} MiB, max {mib(max(rss['agent'])):.2f} "
          f"(curl {mib(statistics.median(rss['curl'])):.2f}); goal <= {GOAL_CLIENT_MIB} MiB: "
          f"{verdict(max(rss['agent']) <= GOAL_CLIENT_MIB * 1024)}")
    print(f"agent after {prof.get('calls')} calls: VmHWM {mib(mem['VmHWM']):.2f} MiB, "
          f"VmRSS {mib(mem['VmRSS']):.2f} MiB; Vault reads 1")


def batch(b, cmd, env, n, d, agent=None):
    """n concurrent runs of cmd, each under GNU time, launched from a thread.
    With agent, it is stopped (SIGSTOP) until all n have connected, so they
    all arrive at once. Every 0.1 s the private memory and RSS of each run
    (not of GNU time) and of the agent are read, and each one's largest kept.
    Exits if a run fails or answers without the cluster. Returns ([peak RSS
    KiB], {pid: (private KiB, RSS KiB)})."""
    os.makedirs(d)
    procs = []

    def launch():
        for i in range(n):
            out = open(os.path.join(d, f"out.{i}"), "wb")
            err = open(os.path.join(d, f"err.{i}"), "wb")
            procs.append((start(cmd, env, os.path.join(d, f"rss.{i}"), stdout=out,
                                stderr=err), out, err))

    launcher = threading.Thread(target=launch)
    if agent:
        agent.proc.send_signal(signal.SIGSTOP)
    launcher.start()
    if agent:
        launcher.join()
        agent.wait_queued(n)
        agent.proc.send_signal(signal.SIGCONT)
    mem = {}
    while launcher.is_alive() or any(p.poll() is None for p, _, _ in list(procs)):
        pids = [agent.proc.pid] if agent else []
        for pid in pids + [c for p, _, _ in list(procs) for c in children(p.pid)]:
            m = private_and_rss(pid)
            if m and m > mem.get(pid, (0, 0)):
                mem[pid] = m
        time.sleep(0.1)
    launcher.join()
    for i, (p, out, err) in enumerate(procs):
        p.wait()
        out.close()
        err.close()
        with open(os.path.join(d, f"out.{i}"), errors="replace") as f:
            got = f.read()
        if p.returncode != 0 or b.cid not in got:
            with open(os.path.join(d, f"err.{i}"), errors="replace") as f:
                sys.exit(f"client {i} of {n} failed ({p.returncode}): {f.read()[-800:]}")
    return [peak_rss(os.path.join(d, f"rss.{i}")) for i in range(n)], mem


def concurrent(b):
    """3: N clients at once against a fresh agent, then N independent runs."""
    args, n = b.args, b.args.clients
    d = os.path.join(b.tmp, "concurrent")
    os.makedirs(d)
    # every Vault read and every workspace answer is late, so the clients
    # overlap: they arrive during the one resolution, and all their calls
    # are in flight at once (and likewise for the independent runs)
    b.v.add_fault("slow", path=READ_PATH, seconds=args.vault_delay, count=-1)
    b.ws.add_fault("slow", path=b.api_path(), seconds=args.hold, count=-1)
    agent = Agent(args.bin, b.agent_env, d)
    try:
        idle = agent.memory()
        b.v.clear_requests()
        clients, mem_a = batch(b, b.dbroker_cmd(), b.client_env(agent), n,
                               os.path.join(d, "agent"), agent)
        reads_a = b.vault_reads()
        mem = agent.memory()
        st = agent.status()
    finally:
        agent.stop()
    prof = st["profiles"][0] if st.get("profiles") else {}
    if reads_a != 1 or st.get("resolutions") != 1 or prof.get("calls") != n:
        sys.exit(f"{n} clients: the agent read Vault {reads_a} time(s) and served "
                 f"{prof.get('calls')} calls (status {st}): expected 1 read and {n} calls")
    b.v.clear_requests()
    alone, mem_i = batch(b, b.dbroker_cmd(True), b.no_agent_env(agent), n,
                         os.path.join(d, "alone"))
    reads_i = b.vault_reads()
    b.v.clear_faults()
    b.ws.clear_faults()

    agent_kib, sum_c, sum_i = mem["VmHWM"], sum(clients), sum(alone)
    saving = sum_i / (agent_kib + sum_c)
    print(f"== {n} concurrent clients on first use (Vault answers after {args.vault_delay:g} s, "
          f"the workspace after {args.hold:g} s)")
    print(f"through a fresh agent (stopped until all {n} had connected): Vault reads "
          f"{reads_a} (goal 1: met)")
    print(f"  agent VmHWM {mib(agent_kib):.2f} MiB, VmRSS after {mib(mem['VmRSS']):.2f} MiB "
          f"(idle before: {mib(idle['VmRSS']):.2f}); goal <= {GOAL_AGENT_MIB} MiB: "
          f"{verdict(agent_kib <= GOAL_AGENT_MIB * 1024)}")
    print(f"  clients' peak RSS: sum {mib(sum_c):.1f} MiB (median "
          f"{mib(statistics.median(clients)):.2f}, max {mib(max(clients)):.2f})")
    print(f"  agent VmHWM + clients' peak RSS: {mib(agent_kib + sum_c):.1f} MiB")
    print(f"independent (--no-agent): Vault reads {reads_i}")
    print(f"  peak RSS: sum {mib(sum_i):.1f} MiB (median {mib(statistics.median(alone)):.2f}, "
          f"max {mib(max(alone)):.2f})")
    print(f"independent / (agent + clients), summed peak RSS: {saving:.2f}; "
          f"goal >= {GOAL_SAVING}: {verdict(saving >= GOAL_SAVING)}")
    phys_a, phys_i = physical(mem_a), physical(mem_i)
    print(f"physical memory, estimated (each process's private pages, the shared ones once; "
          f"{len(mem_a)} and {len(mem_i)} processes seen): agent + clients "
          f"{mib(phys_a):.1f} MiB, independent {mib(phys_i):.1f} MiB; ratio "
          f"{phys_i / phys_a:.2f}")
    print(f"  private pages: agent {mib(mem_a[agent.proc.pid][0]):.2f} MiB, client median "
          f"{mib(statistics.median(m[0] for pid, m in mem_a.items() if pid != agent.proc.pid)):.2f}"
          f", independent run median {mib(statistics.median(m[0] for m in mem_i.values())):.2f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=21)
    ap.add_argument("--clients", type=int, default=64)
    ap.add_argument("--op", choices=("get", "list"), default="get")
    ap.add_argument("--vault-delay", type=float, default=0.5,
                    help="seconds every Vault read takes in the concurrent part")
    ap.add_argument("--hold", type=float, default=1,
                    help="seconds every workspace answer takes in the concurrent part")
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "release", "bin", "dbroker"))
    ap.add_argument("--plugin-dir", default=None,
                    help="the build's plugins dir (default: <bin>/../../plugins)")
    ap.add_argument("--only", choices=("warm", "concurrent"))
    args = ap.parse_args()
    if args.runs < 1 or args.clients < 1:
        sys.exit("--runs and --clients must be at least 1")
    args.curl, _ = require("curl", "ss")
    args.bin = os.path.abspath(args.bin)
    args.plugin_dir = os.path.abspath(args.plugin_dir or os.path.join(
        os.path.dirname(os.path.dirname(args.bin)), "plugins"))
    if not os.path.exists(os.path.join(args.plugin_dir, "vault.so")):
        sys.exit(f"no vault.so in {args.plugin_dir} (build it, or pass --plugin-dir)")
    tmp = tempfile.mkdtemp(prefix="dbr-bench-agent-")
    b = None
    try:
        b = Bench(args, tmp)
        if args.only != "concurrent":
            warm(b)
        if args.only != "warm":
            concurrent(b)
    finally:
        if b:
            b.stop()
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
