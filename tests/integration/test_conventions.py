"""The conventions dbroker shares with the official Databricks CLI, against
the local HTTPS workspace double: `help CMD`, `version`, text tables and
JSON for lists, every page of a list, `clusters delete` waiting, durations
such as 1h30m, `api GET --json` as the query string, `-o json` for login
and logout, and the configuration files people already have (quoted
values, long lines, hosts with a query). Run by ctest with DBROKER_BIN and
DBR_SOURCE_DIR set."""
import json
import os
import re
import secrets
import subprocess
import sys
import unittest

sys.dont_write_bytecode = True
SRC = os.environ.get("DBR_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("DBR_BINARY_DIR", "")
sys.path.insert(0, os.path.join(SRC, "tests", "doubles"))
from workspace_case import WorkspaceCase  # noqa: E402
from secret_forms import encodings  # noqa: E402

BIN = os.environ.get("DBROKER_BIN", "dbroker")


def task(key):
    return {"task_key": key, "notebook_task": {"notebook_path": "/Jobs/" + key},
            "existing_cluster_id": "1234-567890-abcde123"}


class ConventionsTest(WorkspaceCase):
    PREFIX = "dbr-conv-"
    PENDING_SECONDS = 0.2
    TERMINATING_SECONDS = 0.6

    def run_dbr(self, *args, env=None, chain="env", stdin=None, timeout=60):
        cmd = [BIN, "--ca-cert", self.ws.ca_file] + (["--chain", chain] if chain else [])
        p = subprocess.run(cmd + list(args), env=env or self.env(), input=stdin,
                           capture_output=True, text=True, timeout=timeout)
        for t in (p.stdout, p.stderr):
            for form in encodings(self.token):
                self.assertNotIn(form, t)
        return p

    def create(self, n, **extra):
        ids = []
        for i in range(n):
            p = self.run_dbr("clusters", "create", "--no-wait", "--name", "c-%02d" % i)
            self.assertEqual(p.returncode, 0, p.stderr)
            ids.append(json.loads(p.stdout)["cluster_id"])
        return ids

    # --- help and version ------------------------------------------------------------

    def test_help_command_and_version(self):
        for args, first in ((("clusters",), "usage: dbroker [global options] clusters <subcommand>"),
                            (("clusters", "delete"), "usage: dbroker [global options] clusters delete"),
                            (("jobs", "list"), "usage: dbroker [global options] jobs list"),
                            (("api",), "usage: dbroker [global options] api METHOD PATH")):
            p = self.run_dbr("help", *args)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertTrue(p.stdout.startswith(first), p.stdout)
            self.assertEqual(p.stdout, self.run_dbr(*args, "--help").stdout)
        p = self.run_dbr("help", "frobnicate")
        self.assertEqual(p.returncode, 2)
        self.assertIn("unknown command 'frobnicate'", p.stderr)
        p = self.run_dbr("help")
        self.assertIn("help CMD", p.stdout)
        self.assertIn("version", p.stdout)
        for args in (("help", "help"), ("help", "--help"), ("help", "-h")):
            q = self.run_dbr(*args)
            self.assertEqual((q.returncode, q.stdout), (0, p.stdout), args)
        p = self.run_dbr("version")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"^dbroker \d+\.\d+\.\d+\n$")
        p = self.run_dbr("-o", "json", "version")
        out = json.loads(p.stdout)
        self.assertRegex(out["version"], r"^\d+\.\d+\.\d+$")
        self.assertEqual(out["plugin_dir"], self.home)  # DBROKER_PLUGIN_DIR
        self.assertEqual(self.run_dbr("version", "extra").returncode, 2)

    # --- tables and JSON --------------------------------------------------------------

    def test_clusters_list_and_get_tables(self):
        p = self.run_dbr("clusters", "list")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, "ID  Name  State\n")
        p = self.run_dbr("-o", "json", "clusters", "list")
        self.assertEqual(json.loads(p.stdout), {"clusters": []})
        ids = self.create(2)
        p = self.run_dbr("clusters", "list")
        lines = p.stdout.splitlines()
        self.assertRegex(lines[0], r"^ID {20}Name  State$")
        self.assertEqual(len(lines), 3)
        for line in lines[1:]:
            self.assertRegex(line, r"^\d{4}-\d{6}-[a-z0-9]{8}  c-0[01]  (PENDING|RUNNING)$")
        self.assertEqual({line.split()[0] for line in lines[1:]}, set(ids))
        p = self.run_dbr("clusters", "get", ids[0])
        self.assertEqual(p.returncode, 0, p.stderr)
        rows = dict(re.split(r"\s{2,}", line, maxsplit=1) for line in p.stdout.splitlines())
        self.assertEqual(rows["ID"], ids[0])
        self.assertEqual(rows["Name"], "c-00")
        self.assertIn(rows["State"], ("PENDING", "RUNNING"))
        self.assertEqual(rows["Workers"], "0")
        self.assertEqual(rows["Creator"], "me@example.com")
        self.assertRegex(rows["Autotermination"], r"^(\d+m|never)$")
        p = self.run_dbr("-o", "json", "clusters", "get", ids[0])
        self.assertEqual(json.loads(p.stdout)["cluster_id"], ids[0])

    def test_table_cells_are_masked_and_on_one_line(self):
        # a name with a newline and the token in it: one line, token masked
        with open(os.path.join(SRC, "tests", "doubles", "seed_cluster.json")) as f:
            spec = dict(json.load(f), cluster_name="a\nb " + self.token)
        p = self.run_dbr("clusters", "create", "--no-wait", "--json", "-", stdin=json.dumps(spec))
        self.assertEqual(p.returncode, 0, p.stderr)
        p = self.run_dbr("clusters", "list")  # run_dbr checks that no form of it is there
        self.assertEqual(len(p.stdout.splitlines()), 2)
        self.assertIn("a?b ", p.stdout)

    def test_clusters_list_follows_every_page(self):
        ids = self.create(7)
        self.ws.configure(list_page_size=3)  # the service pages unasked
        self.ws.clear_requests()
        p = self.run_dbr("-o", "json", "clusters", "list")
        self.assertEqual(p.returncode, 0, p.stderr)
        out = json.loads(p.stdout)
        self.assertEqual(sorted(c["cluster_id"] for c in out["clusters"]), sorted(ids))
        self.assertNotIn("has_more", out)
        reqs = self.ws.requests(path="clusters/list")
        self.assertEqual(len(reqs), 3)
        self.assertNotIn("page_token", reqs[0]["query"])
        self.assertIn("page_token", reqs[1]["query"])
        # --limit stops early and asks for no more than it needs
        self.ws.configure(list_page_size=0)
        self.ws.clear_requests()
        p = self.run_dbr("-o", "json", "clusters", "list", "--limit", "4")
        out = json.loads(p.stdout)
        self.assertEqual((len(out["clusters"]), out["has_more"]), (4, True))
        reqs = self.ws.requests(path="clusters/list")
        self.assertEqual([r["query"].get("page_size") for r in reqs], ["4"])
        p = self.run_dbr("-o", "json", "clusters", "list", "--limit", "7")
        self.assertEqual(json.loads(p.stdout), {"clusters": json.loads(p.stdout)["clusters"]})
        self.assertEqual(len(json.loads(p.stdout)["clusters"]), 7)
        p = self.run_dbr("clusters", "list", "--limit", "2")
        self.assertEqual(len(p.stdout.splitlines()), 3)
        for bad in ("0", "-1", "x", ""):
            p = self.run_dbr("clusters", "list", "--limit", bad)
            self.assertEqual(p.returncode, 2, bad)
            self.assertIn("invalid --limit", p.stderr)

    def test_jobs_tables(self):
        jid = self.ws.create_job("nightly etl", [task("main")])
        self.ws.create_job("hourly", [task("main")])
        p = self.run_dbr("jobs", "list")
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = p.stdout.splitlines()
        self.assertRegex(lines[0], r"^ID\s+Name$")
        self.assertIn(re.sub(r"\s+", " ", "%d nightly etl" % jid),
                      [re.sub(r"\s+", " ", line) for line in lines[1:]])
        jobs = json.loads(self.run_dbr("-o", "json", "jobs", "list").stdout)["jobs"]
        self.assertEqual(len(lines), len(jobs) + 1)
        # the columns line up: every row's name starts where the header's does
        col = lines[0].index("Name")
        self.assertTrue(all(line[col - 2:col] == "  " and line[col] != " "
                            for line in lines[1:]), lines)
        p = self.run_dbr("jobs", "run-now", str(jid))
        self.assertEqual(p.returncode, 0, p.stderr)
        run = json.loads(p.stdout)
        p = self.run_dbr("jobs", "list-runs")
        lines = p.stdout.splitlines()
        self.assertRegex(lines[0], r"^Job ID\s+Run ID\s+Result State\s+URL$")
        self.assertEqual(lines[1].split(), [str(jid), str(run["run_id"]), "SUCCESS",
                                            run["run_page_url"]])
        p = self.run_dbr("-o", "json", "jobs", "list-runs")
        self.assertEqual(json.loads(p.stdout)["runs"][0]["run_id"], run["run_id"])

    # --- waits and durations -----------------------------------------------------------

    def test_delete_waits_until_terminated(self):
        cid = self.create(1)[0]
        p = self.run_dbr("clusters", "delete", cid)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout)["state"], "TERMINATED")
        self.assertGreaterEqual(len(self.ws.requests(path="clusters/get")), 1)
        cid = self.create(1)[0]
        self.ws.clear_requests()
        p = self.run_dbr("clusters", "delete", cid, "--no-wait")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout)["state"], "TERMINATING")
        self.assertEqual(self.ws.requests(path="clusters/get"), [])
        # the wait is bounded by --timeout
        cid = self.create(1)[0]
        self.ws.configure(terminating_seconds=30)
        p = self.run_dbr("clusters", "delete", cid, "--timeout", "1s")
        self.assertEqual(p.returncode, 7, p.stderr)
        self.assertEqual(json.loads(p.stdout)["cluster_id"], cid)

    def test_durations_as_the_official_cli_writes_them(self):
        for good in ("90s", "20m", "1h30m", "1.5h", "2h45m10s", "500ms", "90"):
            p = self.run_dbr("clusters", "create", "--dry-run", "--timeout", good)
            self.assertEqual(p.returncode, 0, good + ": " + p.stderr)
            p = self.run_dbr("--retry-window", good, "clusters", "list")
            self.assertEqual(p.returncode, 0, good + ": " + p.stderr)
        for bad in ("1h30", "h", "1x", "-5m", "1 h", "", "0"):
            p = self.run_dbr("clusters", "create", "--dry-run", "--timeout", bad)
            self.assertEqual(p.returncode, 2, bad)
            self.assertIn("invalid --timeout", p.stderr)
        p = self.run_dbr("jobs", "run-now", "1", "--dry-run", "--timeout", "1h30m")
        self.assertEqual(p.returncode, 0, p.stderr)
        # past 30 days (a wait that long is a typo; a deadline of now + a
        # number near the largest long would overflow)
        for cmd in (["clusters", "create", "--dry-run"], ["jobs", "run-now", "1", "--dry-run"],
                    ["clusters", "delete", "1234-567890-abcde123"],
                    ["jobs", "cancel-run", "1", "--wait"]):
            for bad in ("31d", "9223372036854775s"):
                p = self.run_dbr(*cmd, "--timeout", bad)
                self.assertEqual(p.returncode, 2, cmd[:2] + [bad, p.stderr])
                self.assertIn(f"invalid --timeout '{bad}'", p.stderr)
                self.assertIn("(at most 30d)", p.stderr)
        self.assertEqual(self.run_dbr("clusters", "create", "--dry-run", "--timeout",
                                      "30d").returncode, 0)
        self.assertEqual(self.run_dbr("jobs", "run-now", "1", "--dry-run", "--timeout",
                                      "30").returncode, 0)

    # --- api ---------------------------------------------------------------------------

    def test_api_get_json_is_the_query_string(self):
        cid = self.create(1)[0]
        self.ws.clear_requests()
        p = self.run_dbr("api", "GET", "/api/2.1/clusters/get", "--json",
                         json.dumps({"cluster_id": cid}))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout)["cluster_id"], cid)
        req = self.ws.requests(path="clusters/get")[0]
        self.assertEqual(req["query"], {"cluster_id": cid})
        self.assertEqual(req["body"], "")
        # lists repeat the key; escaping; an existing query is extended
        self.ws.clear_requests()
        p = self.run_dbr("api", "GET", "/api/2.1/clusters/list?x=1", "--json",
                         '{"page_size": 5, "ids": ["a b", "c&d"], "on": true, "no": null}')
        self.assertEqual(p.returncode, 0, p.stderr)
        target = self.ws.requests(path="clusters/list")[0]["target"]
        self.assertTrue(target.endswith("/clusters/list?x=1&page_size=5&ids=a%20b&ids=c%26d"
                                        "&on=true"), target)
        for bad, why in (('[1]', "give a JSON object"), ('{"a": {"b": 1}}', "'a' must be")):
            p = self.run_dbr("api", "GET", "/api/2.1/clusters/list", "--json", bad)
            self.assertEqual(p.returncode, 2, bad)
            self.assertIn(why, p.stderr)
        # POST keeps --json as the body
        self.ws.clear_requests()
        p = self.run_dbr("api", "POST", "/api/2.1/clusters/delete", "--json",
                         json.dumps({"cluster_id": cid}))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.ws.requests(path="clusters/delete")[0]["json"], {"cluster_id": cid})

    def test_api_fragment_is_a_usage_error(self):
        p = self.run_dbr("api", "GET", "/api/2.1/clusters/list#frag")
        self.assertEqual(p.returncode, 2)
        self.assertIn("the path has a fragment", p.stderr)
        self.assertEqual(self.ws.requests(), [])

    # --- configuration files people have ---------------------------------------------

    def test_profile_with_quotes_long_lines_and_a_browser_url(self):
        cfg = os.path.join(self.home, ".databrickscfg")
        resource = ("/subscriptions/%s/resourceGroups/rg/providers/Microsoft.Databricks/"
                    "workspaces/" % secrets.token_hex(16)) + "w" * 4200
        with open(cfg, "w") as f:
            f.write('[DEFAULT]\nhost = "%s/?o=1234567890#notebook/1"\ntoken = "%s"\n'
                    "azure_workspace_resource_id = %s\n" % (self.ws.url, self.token, resource))
        os.chmod(cfg, 0o600)
        env = self.env(DATABRICKS_HOST=None, DATABRICKS_TOKEN=None)
        p = self.run_dbr("-o", "json", "auth", "describe", env=env, chain="profile")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout)["credential"]["host"], self.ws.url)
        p = self.run_dbr("-o", "json", "clusters", "list", env=env, chain="profile")
        self.assertEqual(p.returncode, 0, p.stderr)
        auth = [v for k, v in self.ws.requests()[0]["headers"] if k.lower() == "authorization"]
        self.assertEqual(auth, ["Bearer " + self.token])  # the token without its quotes

    # --- login and logout with -o json ------------------------------------------------

    def test_login_logout_json(self):
        plugins = os.path.join(BUILD, "plugins")
        if not os.path.exists(os.path.join(plugins, "kernel.so")):
            self.skipTest("kernel.so is not built")
        profile = "conv-" + secrets.token_hex(4)
        env = self.env(DBROKER_PLUGIN_DIR=plugins, DATABRICKS_HOST=None, DATABRICKS_TOKEN=None)
        cfg = os.path.join(self.home, ".databrickscfg")
        with open(cfg, "w") as f:
            # the key's lifetime written as the official CLI writes durations
            f.write("[%s]\nhost = %s\nkernel_ttl = 1h30m\n" % (profile, self.ws.url))
        os.chmod(cfg, 0o600)
        p = self.run_dbr("-p", profile, "-o", "json", "login", "--store", "kernel", "--verify",
                         env=env, chain=None, stdin=self.token + "\n")
        if p.returncode == 4 and "keyring" in p.stderr and "not" in p.stderr:
            self.skipTest("no kernel keyring here: " + p.stderr.strip())
        self.assertEqual(p.returncode, 0, p.stderr)
        out = json.loads(p.stdout)
        self.assertEqual((out["stored"], out["store"], out["profile"], out["host"]),
                         (True, "kernel", profile, self.ws.url))
        self.assertEqual((out["verified"], out["user"]), (True, "me@example.com"))
        self.assertTrue(out["fingerprint"])
        self.addCleanup(self.run_dbr, "-p", profile, "logout", "--store", "kernel", env=env,
                        chain=None)
        p = self.run_dbr("-p", profile, "-o", "json", "logout", "--store", "kernel", env=env,
                         chain=None)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout), {"removed": True, "profile": profile,
                                                "store": "kernel"})
        p = self.run_dbr("-p", profile, "-o", "json", "logout", "--store", "kernel", env=env,
                         chain=None)
        self.assertEqual(p.returncode, 0, p.stderr)
        out = json.loads(p.stdout)
        self.assertFalse(out["removed"])
        self.assertTrue(out["reason"])
        # text stays text
        p = self.run_dbr("-p", profile, "logout", "--store", "kernel", env=env, chain=None)
        self.assertTrue(p.stdout.startswith("nothing removed: "), p.stdout)


if __name__ == "__main__":
    unittest.main()
