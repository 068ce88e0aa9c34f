#!/usr/bin/python3
"""Benchmark: `dbroker clusters create --no-wait` (or, with --op get,
`dbroker clusters get ID`) versus curl sending the identical request to the
same local HTTPS workspace double, in one run. Then, untimed: one
`clusters create` that waits until RUNNING, and how many TLS connections
(handshakes) its create and polls used (goal: 1, the server allows
keep-alive).

Runs are paired (the order alternates within each pair, so neither tool
always gets the warm cache), and medians are compared: wall time ratio
dbroker/curl and peak RSS of each process (GNU time's %M). Both tools run
under /usr/bin/time, so its small fork/exec cost is in both columns.
Goals (recorded in bench/README.md): create within 1.15x of curl, get within
1.05x, peak RSS no more than curl's + 1 MiB. This script reports; it never
fails on a timing.

usage: bench/create_vs_curl.py [--runs N] [--bin PATH] [--op create|get]
"""
import argparse
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.dont_write_bytecode = True
sys.path.insert(0, HERE)
from timed import paired, ratios, require, show  # noqa: E402
sys.path.insert(0, os.path.join(ROOT, "tests", "doubles"))
import workspace  # noqa: E402
from workspace_client import write_private  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=21)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "release", "bin", "dbroker"))
    ap.add_argument("--op", choices=("create", "get"), default="create")
    args = ap.parse_args()
    goal = 1.15 if args.op == "create" else 1.05
    curl, = require("curl")

    tmp = tempfile.mkdtemp(prefix="dbr-bench-")
    token = "dapi" + secrets.token_hex(16)
    ws = workspace.start_workspace(tmp, [token], pending_seconds=3600)
    try:
        home = os.path.join(tmp, "home")
        os.makedirs(home, mode=0o700)
        env = {"PATH": "/usr/bin:/bin", "HOME": home, "DBROKER_PLUGIN_DIR": home,
               "DATABRICKS_HOST": ws.url}
        # the exact body dbroker sends (the default template), for curl
        p = subprocess.run([args.bin, "clusters", "create", "--dry-run"], env=env,
                           capture_output=True, text=True, check=True)
        template = json.loads(p.stdout)
        # curl reads the Authorization header from a 0600 file, not argv
        hdr = os.path.join(tmp, "auth-header")
        write_private(hdr, "Authorization: Bearer %s\n" % token)
        body_path = os.path.join(tmp, "body.json")
        rss_file = os.path.join(tmp, "rss")

        cluster_id = ws.call("POST", "/api/2.1/clusters/create", template,
                             token=token).json["cluster_id"]

        def dbroker_cmd(idem):
            if args.op == "get":
                return [args.bin, "--chain", "env", "--ca-cert", ws.ca_file, "clusters",
                        "get", cluster_id]
            return [args.bin, "--chain", "env", "--ca-cert", ws.ca_file, "clusters",
                    "create", "--no-wait", "--idempotency-token", idem]

        def curl_cmd(i):
            if args.op == "get":
                return [curl, "-sS", "--fail-with-body", "--cacert", ws.ca_file, "-H",
                        "@" + hdr, "-A", "dbroker/bench", "-o", os.devnull,
                        ws.url + "/api/2.1/clusters/get?cluster_id=" + cluster_id]
            with open(body_path, "w") as f:
                json.dump(dict(template, idempotency_token=secrets.token_hex(16)), f)
            return [curl, "-sS", "--fail-with-body", "--cacert", ws.ca_file, "-H", "@" + hdr,
                    "-H", "Content-Type: application/json", "-A", "dbroker/bench",
                    "--data-binary", "@" + body_path, "-o", os.devnull,
                    ws.url + "/api/2.1/clusters/create"]

        results, rss = paired([
            ("dbroker", lambda i: dbroker_cmd(secrets.token_hex(16)),
             dict(env, DATABRICKS_TOKEN=token)),
            ("curl", curl_cmd, env)], args.runs, rss_file)
        created = len(ws.clusters())
        # untimed: create and wait until RUNNING; count the connections
        ws.configure(pending_seconds=2)
        ws.clear_requests()
        subprocess.run([args.bin, "--chain", "env", "--ca-cert", ws.ca_file, "clusters",
                        "create"], env=dict(env, DATABRICKS_TOKEN=token), check=True,
                       capture_output=True)
        reqs = ws.requests()
        waited = (len(reqs), len({r["conn"] for r in reqs}))
    finally:
        ws.stop()
        shutil.rmtree(tmp)

    print(f"op: {args.op}; runs: {args.runs} pairs (clusters created: {created})")
    show("curl", results, rss)
    show("dbroker", results, rss)
    of_medians, of_pairs = ratios(results, "dbroker", "curl")
    print(f"ratio dbroker/curl: {of_medians:.3f} (median of paired ratios {of_pairs:.3f});"
          f" goal <= {goal}")
    extra = statistics.median(rss["dbroker"]) - statistics.median(rss["curl"])
    print(f"dbroker peak RSS - curl's: {extra / 1024:+.2f} MiB (goal <= +1 MiB: "
          f"{'met' if extra <= 1024 else 'NOT met'})")
    print(f"create + wait until RUNNING: {waited[0]} requests over {waited[1]} TLS "
          f"connection(s) (goal: 1)")


if __name__ == "__main__":
    main()
