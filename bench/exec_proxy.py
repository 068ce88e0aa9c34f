#!/usr/bin/python3
"""Benchmark `dbroker exec`, each number a ratio against a baseline measured
in the same run, against the local HTTPS workspace double:

  1. latency: a Python requests client makes N sequential clusters/get
     calls (one session, so keep-alive where the server allows it) through
     the exec proxy, versus the same client calling the workspace directly
     with the token. The client times only its loop. Goal: <= 1.10x.
     Also shown: the same with a new connection per call on both sides.
  2. dbroker's own memory while it proxies: the client reads its parent's
     (dbroker's) VmHWM and VmRSS from /proc after its loop. Goal: <= 16 MiB.
  3. masked output: `dbroker exec -- cat FILE` (masked) versus
     `dbroker exec --no-mask -- cat FILE` on 256 MiB of log-like text (from
     bench_mask --generate), both read by `cat > /dev/null` through a pipe,
     and both written to a regular file in memory (/dev/shm; every byte
     checked: all of them unmasked, a little less masked). Goal: masked
     >= 0.5x unmasked. Also written to /dev/null, for context: dbroker hands
     /dev/null to the child, so nothing is masked there in either run.

Runs are paired and alternate their order; medians of the per-pair ratios
are printed. It never fails on a timing.

With --floor (and socat installed), the keep-alive latency runs also
measure the same client through socat relaying its bytes to the workspace
over TLS (one kept connection, no HTTP parsing, no signing): what any
proxy in that place costs on this machine, for scale.

usage: bench/exec_proxy.py [--runs N] [--calls N] [--bytes N] [--bin PATH]
                           [--bench-mask PATH] [--only latency|throughput] [--floor]
"""
import argparse
import atexit
import json
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(ROOT, "tests", "doubles"))
import workspace  # noqa: E402

CLIENT = r'''
import json, os, sys, time
import requests
host, tok = os.environ["DATABRICKS_HOST"], os.environ["DATABRICKS_TOKEN"]
verify = os.environ.get("BENCH_CA") or True
cid, n, fresh = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "fresh"
s = requests.Session()
hdr = {"Authorization": "Bearer " + tok}
def get():
    c = requests if fresh else s
    r = c.get(host + "/api/2.1/clusters/get", params={"cluster_id": cid}, headers=hdr,
              verify=verify, timeout=60)
    assert r.status_code == 200, r.text
get()  # warm-up: connection, first request
t0 = time.perf_counter()
for _ in range(n):
    get()
dt = time.perf_counter() - t0
mem = {}
if os.environ.get("BENCH_PARENT"):
    with open("/proc/%d/status" % os.getppid()) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmHWM", "VmRSS"):
                mem[k] = int(v.split()[0])
print(json.dumps({"seconds": dt, "mem": mem}))
'''


def med(xs):
    return statistics.median(xs)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_relay(ws):
    """socat relaying plain TCP on a loopback port to the workspace over
    verified TLS; returns (process, url)."""
    port = free_port()
    ws_port = ws.url.rsplit(":", 1)[1]
    proc = subprocess.Popen(
        ["socat", f"TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork,nodelay",
         f"OPENSSL:127.0.0.1:{ws_port},cafile={ws.ca_file},verify=1,commonname=127.0.0.1,"
         "nodelay"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.02)
    return proc, f"http://127.0.0.1:{port}"


def latency(args, ws, env, tmp, cid, fresh):
    client = os.path.join(tmp, "client.py")
    with open(client, "w") as f:
        f.write(CLIENT)
    mode = "fresh" if fresh else "session"
    direct_env = dict(env, DATABRICKS_HOST=ws.url, BENCH_CA=ws.ca_file)
    proxy_env = dict(env, DATABRICKS_HOST=ws.url, BENCH_PARENT="1")
    direct_cmd = ["python3", client, cid, str(args.calls), mode]
    proxy_cmd = [args.bin, "--chain", "env", "--ca-cert", ws.ca_file, "exec", "--",
                 "python3", client, cid, str(args.calls), mode]
    relay = None
    if args.floor and not fresh and shutil.which("socat"):
        relay, relay_url = start_relay(ws)
    elif args.floor and not fresh:
        print("  (--floor: socat is not installed, no relay measured)")
    kinds = ("direct", "proxy") + (("relay",) if relay else ())
    d, p, ratios, hwm, rss, r, relay_ratios = [], [], [], [], [], [], []
    try:
        for i in range(args.runs):
            pair = {}
            for which in (kinds if i % 2 == 0 else kinds[::-1]):
                if which == "direct":
                    cmd, e = direct_cmd, direct_env
                elif which == "proxy":
                    cmd, e = proxy_cmd, proxy_env
                else:
                    cmd, e = direct_cmd, dict(env, DATABRICKS_HOST=relay_url)
                e = dict(e, DATABRICKS_TOKEN=args.token)
                out = subprocess.run(cmd, env=e, capture_output=True, text=True, check=True)
                pair[which] = json.loads(out.stdout)
            d.append(pair["direct"]["seconds"])
            p.append(pair["proxy"]["seconds"])
            ratios.append(p[-1] / d[-1])
            hwm.append(pair["proxy"]["mem"]["VmHWM"])
            rss.append(pair["proxy"]["mem"]["VmRSS"])
            if relay:
                r.append(pair["relay"]["seconds"])
                relay_ratios.append(r[-1] / d[-1])
    finally:
        if relay:
            relay.terminate()
            relay.wait()
    print(f"{args.calls} sequential clusters/get, {mode} connections, {args.runs} pairs:")
    print(f"  direct  median {med(d) * 1000:8.1f} ms  ({med(d) / args.calls * 1000:.2f} ms/call)")
    print(f"  proxy   median {med(p) * 1000:8.1f} ms  ({med(p) / args.calls * 1000:.2f} ms/call)")
    print(f"  proxy/direct: median of paired ratios {med(ratios):.3f}, "
          f"ratio of medians {med(p) / med(d):.3f}   (goal <= 1.10)")
    if relay:
        print(f"  relay   median {med(r) * 1000:8.1f} ms  ({med(r) / args.calls * 1000:.2f} "
              f"ms/call)  socat, TLS bytes only")
        print(f"  relay/direct: median of paired ratios {med(relay_ratios):.3f}, "
              f"ratio of medians {med(r) / med(d):.3f}   (the floor, for scale)")
    print(f"  dbroker while proxying: VmHWM median {med(hwm) / 1024:.2f} MiB "
          f"(max {max(hwm) / 1024:.2f}), VmRSS median {med(rss) / 1024:.2f} MiB   "
          f"(goal <= 16 MiB)")


def throughput(args, ws, env, tmp):
    data = os.path.join(tmp, "out.txt")
    if args.bench_mask and os.path.exists(args.bench_mask):
        with open(data, "wb") as f:
            subprocess.run([args.bench_mask, "--generate", str(args.bytes)], stdout=f,
                           check=True)
        what = "bench_mask --generate"
    else:
        line = (b"2026-01-01T00:00:00Z INFO request GET /api/2.1/clusters/get?cluster_id="
                b"1234-567890-abcde123 200 12 ms {\"state\": \"RUNNING\"}\n")
        with open(data, "wb") as f:
            f.write(line * (args.bytes // len(line)))
        what = "repeated log lines"
    size = os.path.getsize(data)
    base = [args.bin, "--chain", "env", "--ca-cert", ws.ca_file, "exec"]
    e = dict(env, DATABRICKS_HOST=ws.url, DATABRICKS_TOKEN=args.token)
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else tmp
    out_file = os.path.join(tempfile.mkdtemp(prefix="dbr-bench-out-", dir=shm), "out")
    atexit.register(shutil.rmtree, os.path.dirname(out_file), ignore_errors=True)
    sinks = {"pipe": "a pipe (cat > /dev/null)", "file": f"a regular file ({shm})",
             "devnull": "/dev/null (handed to the child: context)"}
    for sink in ("pipe", "file", "devnull"):
        times = {"masked": [], "unmasked": []}
        ratios = []
        for i in range(args.runs):
            pair = {}
            for which in (("masked", "unmasked") if i % 2 == 0 else ("unmasked", "masked")):
                cmd = base + (["--no-mask"] if which == "unmasked" else []) + ["--", "cat", data]
                t0 = time.perf_counter()
                if sink == "pipe":
                    a = subprocess.Popen(cmd, env=e, stdout=subprocess.PIPE)
                    b = subprocess.Popen(["cat"], stdin=a.stdout, stdout=subprocess.DEVNULL)
                    a.stdout.close()
                    b.wait()
                    rc = a.wait()
                elif sink == "file":
                    with open(out_file, "wb") as f:
                        rc = subprocess.run(cmd, env=e, stdout=f).returncode
                else:
                    rc = subprocess.run(cmd, env=e, stdout=subprocess.DEVNULL).returncode
                pair[which] = time.perf_counter() - t0
                if rc != 0:
                    sys.exit(f"dbroker exec failed ({rc})")
                if sink == "file":  # all of it, or (masked) a little less
                    got = os.path.getsize(out_file)
                    if (got != size) if which == "unmasked" else not size * 0.9 < got <= size:
                        sys.exit(f"{which} output to a file: {got} bytes of {size}")
            for k in pair:
                times[k].append(pair[k])
            ratios.append(pair["unmasked"] / pair["masked"])
        m, u = med(times["masked"]), med(times["unmasked"])
        print(f"child output, {size / 2**20:.0f} MiB of {what}, to {sinks[sink]}, "
              f"{args.runs} pairs:")
        print(f"  unmasked median {u * 1000:8.1f} ms ({size / u / 1e9:.2f} GB/s)")
        print(f"  masked   median {m * 1000:8.1f} ms ({size / m / 1e9:.2f} GB/s)")
        print(f"  masked/unmasked throughput: median of paired ratios {med(ratios):.3f}   "
              f"{'(context)' if sink == 'devnull' else '(goal >= 0.5)'}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--calls", type=int, default=100)
    ap.add_argument("--bytes", type=int, default=256 * 1024 * 1024)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "release", "bin", "dbroker"))
    ap.add_argument("--bench-mask", default=os.path.join(ROOT, "build", "release", "bench",
                                                         "bench_mask"))
    ap.add_argument("--only", choices=("latency", "throughput"))
    ap.add_argument("--floor", action="store_true",
                    help="also measure a socat TLS relay in the proxy's place")
    args = ap.parse_args()
    args.token = "dapi" + secrets.token_hex(16)
    tmp = tempfile.mkdtemp(prefix="dbr-bench-exec-")
    ws = workspace.start_workspace(tmp, [args.token], pending_seconds=3600)
    try:
        home = os.path.join(tmp, "home")
        os.makedirs(home, mode=0o700)
        env = {"PATH": "/usr/bin:/bin", "HOME": home, "DBROKER_PLUGIN_DIR": home}
        r = ws.call("POST", "/api/2.1/clusters/create", token=args.token, body={
            "cluster_name": "bench", "spark_version": "15.4.x-scala2.12",
            "node_type_id": "i3.xlarge", "num_workers": 1})
        cid = r.json["cluster_id"]
        if args.only != "throughput":
            latency(args, ws, env, tmp, cid, fresh=False)
            latency(args, ws, env, tmp, cid, fresh=True)
        if args.only != "latency":
            throughput(args, ws, env, tmp)
    finally:
        ws.stop()
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
