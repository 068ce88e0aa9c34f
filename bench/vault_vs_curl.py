#!/usr/bin/python3
"""Benchmark: chain resolution through Vault, `dbroker --chain vault auth
describe` (resolve the Databricks token from a KV v2 secret and stop: no
workspace call), versus curl reading the same secret from the same local
HTTPS Vault double (tests/doubles/vault.py), in one run.

Fairness: on a KV v2 mount dbroker normally sends the mounts preflight
(GET /v1/sys/internal/ui/mounts/<path>) and then the read. By default the
profile pins `vault_kv_version = 2`, so dbroker sends one request, the same
GET /v1/secret/data/<path> curl sends. With --detect the profile does not
pin it, dbroker sends both requests, and curl sends the same two in one
process; both reuse one TLS connection for the second request. With
--unpinned dbroker sends both and curl only the read: the preflight's cost
is dbroker's own and is counted against it. The mode, the request paths and
the number of connections dbroker used are checked once against the
double's log and printed.

curl sends `X-Vault-Request: true` and reads the `X-Vault-Token` header from
a 0600 header file (-H @file), never argv; dbroker gets the token from
VAULT_TOKEN.

Runs are paired (the order alternates within each pair, so neither tool
always gets the warm cache), the first pair is a warm-up and dropped, and
medians are compared: wall time ratio dbroker/curl (ratio of the medians and
median of the per-pair ratios) and peak RSS of each process (GNU time's %M).
Both tools run under /usr/bin/time, so its small fork/exec cost is in both
columns. Goal (recorded in bench/README.md): wall time within 1.2x of curl.
This script reports; it never fails on a timing (it exits non-zero only if a
command fails or the requests are not the expected ones).

usage: bench/vault_vs_curl.py [--runs N] [--bin PATH] [--plugin-dir DIR] [--detect|--unpinned]
"""
import argparse
import hashlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.dont_write_bytecode = True
sys.path.insert(0, HERE)
from timed import paired, ratios, require, show  # noqa: E402
sys.path.insert(0, os.path.join(ROOT, "tests", "doubles"))
import vault  # noqa: E402

GOAL = 1.2
SECRET_PATH = "secret/bench/db"      # mount "secret/" (KV v2) + "bench/db"
HOST = "https://adb-1234.5.azuredatabricks.net"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=21)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "release", "bin", "dbroker"))
    ap.add_argument("--plugin-dir", default=None,
                    help="the build's plugins dir (default: <bin>/../../plugins, "
                         "i.e. build/release/plugins)")
    ap.add_argument("--detect", action="store_true",
                    help="do not pin vault_kv_version: dbroker sends the mounts preflight "
                         "and the read, and curl sends the same two requests")
    ap.add_argument("--unpinned", action="store_true",
                    help="do not pin vault_kv_version: dbroker sends the mounts preflight "
                         "and the read (one connection), curl one GET of the secret; "
                         "goal <= 1.10x")
    args = ap.parse_args()
    goal = 1.10 if args.unpinned else GOAL
    if args.runs < 1:
        sys.exit("--runs must be at least 1")
    curl, = require("curl")
    bin_path = os.path.abspath(args.bin)
    plugin_dir = os.path.abspath(args.plugin_dir or os.path.join(
        os.path.dirname(os.path.dirname(bin_path)), "plugins"))
    if not os.path.exists(os.path.join(plugin_dir, "vault.so")):
        sys.exit(f"no vault.so in {plugin_dir} (build the vault plugin, or pass --plugin-dir)")

    tmp = tempfile.mkdtemp(prefix="dbr-bench-vault-")
    vtoken = "hvs." + secrets.token_urlsafe(24)
    dtoken = "dapi" + secrets.token_hex(16)
    v = vault.start_vault(tmp, tokens={vtoken: {}},
                          secrets_={SECRET_PATH: [{"token": dtoken, "host": HOST}]},
                          mounts={"secret/": {"version": 2}})
    try:
        home = os.path.join(tmp, "home")
        os.makedirs(home, mode=0o700)
        prof = {"vault_path": SECRET_PATH}
        if not (args.detect or args.unpinned):
            prof["vault_kv_version"] = "2"
        with open(os.path.join(home, ".databrickscfg"), "w") as f:
            f.write("[DEFAULT]\n" + "".join(f"{k} = {val}\n" for k, val in prof.items()))
        env = {"PATH": "/usr/bin:/bin", "HOME": home}
        denv = dict(env, DBROKER_PLUGIN_DIR=plugin_dir, VAULT_ADDR=v.url,
                    VAULT_CACERT=v.ca_file, VAULT_TOKEN=vtoken)
        # curl reads the X-Vault-Token header from a 0600 file, not argv
        hdr = os.path.join(tmp, "vault-header")
        vault.write_private(hdr, "X-Vault-Token: %s\n" % vtoken)
        rss_file = os.path.join(tmp, "rss")

        mount, rest = SECRET_PATH.split("/", 1)
        read_path = f"/v1/{mount}/data/{rest}"
        pre_path = f"/v1/sys/internal/ui/mounts/{SECRET_PATH}"
        expected = [pre_path, read_path] if args.detect else [read_path]
        expected_d = [pre_path, read_path] if args.unpinned else expected

        dbroker_cmd = [bin_path, "--chain", "vault", "auth", "describe"]
        curl_cmd = [curl, "-sS", "--fail-with-body", "--cacert", v.ca_file,
                    "-H", "@" + hdr, "-H", "X-Vault-Request: true", "-A", "dbroker/bench"]
        if args.detect:
            curl_cmd += ["-o", os.devnull, v.url + pre_path]
        curl_cmd += ["-o", os.devnull, v.url + read_path]

        # check once (untimed) that both send exactly the expected requests
        # and that dbroker resolved the token from Vault
        fp = "sha256:" + hashlib.sha256(dtoken.encode()).hexdigest()[:8]
        v.clear_requests()
        p = subprocess.run(dbroker_cmd + ["-o", "json"], env=denv, capture_output=True,
                           text=True, stdin=subprocess.DEVNULL)
        if p.returncode != 0:
            sys.exit(f"dbroker failed ({p.returncode}): {p.stderr[:500]}")
        cred = json.loads(p.stdout)["credential"]
        if cred.get("source") != "vault" or cred.get("token_fingerprint") != fp:
            sys.exit(f"dbroker did not resolve the token from Vault: {cred}")
        got_d = [r["path"] for r in v.requests()]
        conns_d = len({r["conn"] for r in v.requests()})
        v.clear_requests()
        p = subprocess.run(curl_cmd, env=env, capture_output=True, stdin=subprocess.DEVNULL)
        if p.returncode != 0:
            sys.exit(f"curl failed ({p.returncode}): {p.stderr.decode()[:500]}")
        reqs = v.requests()
        got_c = [r["path"] for r in reqs]
        for r in reqs:
            h = {k.lower(): val for k, val in r["headers"]}
            if h.get("x-vault-request") != "true" or h.get("x-vault-token") != vtoken:
                sys.exit("curl did not send X-Vault-Request / X-Vault-Token")
        if got_d != expected_d or got_c != expected:
            sys.exit(f"unexpected requests: dbroker {got_d}, curl {got_c}, expected "
                     f"{expected_d} and {expected}")
        v.clear_requests()

        results, rss = paired([("dbroker", dbroker_cmd, denv), ("curl", curl_cmd, env)],
                              args.runs, rss_file)
        n_reqs = len(v.requests())
    finally:
        v.stop()
        shutil.rmtree(tmp)

    if args.unpinned:
        mode = ("unpinned: vault_kv_version not pinned; dbroker sends the mounts preflight + "
                "the read, curl one GET of the secret")
    elif args.detect:
        mode = ("detect: vault_kv_version not pinned; dbroker sends the mounts preflight + "
                "the read, curl the same two")
    else:
        mode = ("pinned: vault_kv_version = 2 in the profile; one GET each, "
                "no mounts preflight")
    print(f"mode: {mode}")
    print(f"requests per run: dbroker {' + '.join(expected_d)} over {conns_d} TLS "
          f"connection(s); curl {' + '.join(expected)}")
    print(f"runs: {args.runs} pairs + 1 warm-up pair dropped (Vault requests served: {n_reqs})")
    show("curl", results, rss)
    show("dbroker", results, rss)
    of_medians, of_pairs = ratios(results, "dbroker", "curl")
    print(f"ratio dbroker/curl: {of_medians:.3f} (median of paired ratios "
          f"{of_pairs:.3f}); goal <= {goal}")


if __name__ == "__main__":
    main()
