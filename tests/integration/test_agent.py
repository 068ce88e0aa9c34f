"""`dbroker agent` end to end: a real agent, started as users start it
(eval "$(dbroker agent start)": detached), on a real Unix socket, with the
HTTPS workspace double and the token in the Vault double. Commands through
the agent while the client never holds the token nor loads libcurl or
libcrypto, one
Vault read for many first uses, --reread, --ttl, lock/forget/stop, signals,
the status report, falling back and opting out, a second agent refused, a
stale socket replaced, the /tmp fallback, a service principal minting once
for many clients, a workspace echoing the token, systemd socket activation
and --confirm without a terminal. The protocol attacks, the process
hardening and the other-user tests are in test_agent_attacks.py.
Run by ctest with DBROKER_BIN, DBR_SOURCE_DIR and DBR_BINARY_DIR set."""
import base64
import fcntl
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import termios
import threading
import time
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from agent_harness import (BIN, CALL, CLIENT_SECRET, ENV_TOKEN, OPEN,  # noqa: E402
                           R_CALL, R_ERROR, R_OK, SCIM_ME, SP_USER, T_AUTH_TYPE, T_HOST,
                           T_MESSAGE, T_METHOD, T_PATH, T_PROFILE, T_RC, T_SOURCE, T_STATUS,
                           TOKEN, TOKEN2,
                           AgentCase, as_int, as_text, frame, i64, proc_status, read_msg,
                           scan_memory, text, wait_for)
from pty_read import read_pty  # noqa: E402
from secret_forms import encodings, needles  # noqa: E402

TASK = {"task_key": "main", "notebook_task": {"notebook_path": "/Shared/etl"},
        "existing_cluster_id": "1234-567890-abcde123"}


class StartTest(AgentCase):
    def test_start_prints_the_eval_line_and_listens_privately(self):
        a = self.start_agent()
        sock_dir = os.path.join(self.run_dir, "dbroker")
        self.assertEqual(a.sock, os.path.join(sock_dir, "agent.sock"))
        # the lines are for eval in sh
        p = subprocess.run(["sh", "-c", 'eval "$1" >/dev/null; printf "%s %s" '
                            '"$DBROKER_AGENT_SOCK" "$DBROKER_AGENT_PID"', "sh", a.eval_text],
                           capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
        self.assertEqual(p.stdout, f"{a.sock} {a.pid}")
        st = os.lstat(sock_dir)
        self.assertTrue(stat.S_ISDIR(st.st_mode))
        self.assertEqual((stat.S_IMODE(st.st_mode), st.st_uid), (0o700, os.geteuid()))
        st = os.lstat(a.sock)
        self.assertTrue(stat.S_ISSOCK(st.st_mode))
        self.assertEqual((stat.S_IMODE(st.st_mode), st.st_uid), (0o600, os.geteuid()))
        # detached: a session of its own, orphaned (so reparented to this
        # subreaper), stdout closed (start_agent's pipe reached EOF)
        self.assertEqual(os.getsid(a.pid), a.pid)
        self.assertEqual(int(proc_status(a.pid)["PPid"]), os.getpid())
        for fd in ("0", "1", "2"):
            self.assertEqual(os.readlink(f"/proc/{a.pid}/fd/{fd}"), "/dev/null")
        # nothing is resolved before it is used
        st = self.status()
        self.assertEqual((st["profiles"], st["resolutions"], st["pid"], st["socket"]),
                         ([], 0, a.pid, a.sock))
        self.assertEqual((st["ttl_s"], st["reread_s"], st["clients_refused"]), (8 * 3600, 3600, 0))
        self.assertEqual(self.v.requests(), [])
        p = self.ok("agent", "status")
        self.assertIn(f"agent pid {a.pid} on {a.sock}", p.stdout)
        self.assertIn("no credential held", p.stdout)

    def test_second_start_refused_stale_socket_replaced_file_kept(self):
        a = self.start_agent()
        p = self.dbr("agent", "start", env=self.agent_env())
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn(f"an agent is already listening on '{a.sock}'", p.stderr)
        self.assertTrue(a.alive())
        self.ok("api", "GET", SCIM_ME)
        # killed without a chance to clean up: its socket stays, and the
        # next start replaces it
        os.kill(a.pid, signal.SIGKILL)
        a.killed = True
        a.reap()
        self.assertTrue(stat.S_ISSOCK(os.lstat(a.sock).st_mode))
        self.assertEqual(self.dbr("agent", "status").returncode, 8)
        b = self.start_agent()
        self.assertEqual(b.sock, a.sock)
        self.assertEqual(json.loads(self.ok("api", "GET", SCIM_ME).stdout)["userName"],
                         "me@example.com")
        self.ok("agent", "stop")
        self.assertEqual(b.exit_code(), 0)
        # a file that is not a socket is never removed to make room
        with open(a.sock, "w") as f:
            f.write("mine\n")
        p = self.dbr("agent", "start", env=self.agent_env())
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn(f"cannot listen on '{a.sock}': something that is not a socket of yours "
                      "is there: remove it, or pass another --socket", p.stderr)
        with open(a.sock) as f:
            self.assertEqual(f.read(), "mine\n")

    def test_start_right_after_stop_is_the_one_that_answers(self):
        # the stopped agent removes its socket before it answers the stop,
        # so it can never remove the next agent's
        for _ in range(8):
            a = self.start_agent()
            self.ok("agent", "stop")
            self.assertFalse(os.path.exists(a.sock))
            b = self.start_agent()
            self.assertEqual(a.exit_code(), 0)
            self.assertTrue(stat.S_ISSOCK(os.lstat(b.sock).st_mode))
            self.assertIn(f"agent pid {b.pid} ", self.ok("agent", "status").stdout)
            self.ok("agent", "stop")
            self.assertEqual(b.exit_code(), 0)

    def test_an_agent_whose_socket_is_gone_stops_and_leaves_the_new_one(self):
        # nobody can reach an agent whose socket was removed: it forgets
        # everything and stops (within seconds), and it never removes the
        # socket another agent has bound there since
        a = self.start_agent()
        self.ok("api", "GET", SCIM_ME)
        os.unlink(a.sock)
        b = self.start_agent()
        self.assertEqual(b.sock, a.sock)
        self.assertEqual(a.exit_code(timeout=20), 0)
        self.assertIn("was removed or replaced: forgetting everything and stopping",
                      a.log_text())
        self.assertTrue(stat.S_ISSOCK(os.lstat(b.sock).st_mode))
        self.assertIn(f"agent pid {b.pid} ", self.ok("agent", "status").stdout)
        # the same when the socket is removed and nothing takes its place
        os.unlink(b.sock)
        self.assertEqual(b.exit_code(timeout=20), 0)
        self.assertFalse(os.path.exists(b.sock))

    def test_relative_socket_path_is_made_absolute(self):
        # relative to where start ran, not to / where the agent works: the
        # eval line works from anywhere, and at exit the agent removes its
        # own socket, not the file the same path names from /
        rel = os.path.join(self.dir.lstrip("/"), "victim.sock")
        victim = "/" + rel
        with open(victim, "w") as f:
            f.write("not the agent's\n")
        cwd = os.path.join(self.dir, "cwd")
        os.makedirs(os.path.join(cwd, os.path.dirname(rel)))
        a = self.start_agent("--socket", rel, preexec_fn=lambda: os.chdir(cwd))
        self.assertEqual(a.sock, os.path.join(cwd, rel))
        self.assertIn(f"agent pid {a.pid} ",
                      self.ok("agent", "status", env=self.client_env(
                          DBROKER_AGENT_SOCK=a.sock)).stdout)
        os.kill(a.pid, signal.SIGTERM)
        self.assertEqual(a.exit_code(), 0)
        self.assertFalse(os.path.exists(a.sock))
        with open(victim) as f:
            self.assertEqual(f.read(), "not the agent's\n")

    def test_without_xdg_runtime_dir_a_private_directory_under_tmp(self):
        a = self.start_agent(env=self.agent_env(XDG_RUNTIME_DIR=None))
        d = os.path.dirname(a.sock)
        self.addCleanup(shutil.rmtree, d, ignore_errors=True)
        self.assertRegex(a.sock, r"^/tmp/dbroker-[A-Za-z0-9]{6}/agent\.\d+\.sock$")
        st = os.lstat(d)
        self.assertTrue(stat.S_ISDIR(st.st_mode))
        self.assertEqual((stat.S_IMODE(st.st_mode), st.st_uid), (0o700, os.geteuid()))
        self.assertEqual(stat.S_IMODE(os.lstat(a.sock).st_mode), 0o600)
        env = self.client_env(XDG_RUNTIME_DIR=None, DBROKER_AGENT_SOCK=a.sock)
        self.ok("api", "GET", SCIM_ME, env=env)
        self.assertEqual(self.held(env)["DEFAULT"]["source"], "vault")
        self.ok("agent", "stop", env=env)
        self.assertEqual(a.exit_code(), 0)
        # the directory it made for itself goes with it
        self.assertFalse(os.path.exists(d))

    def test_durations_out_of_range_are_refused(self):
        # a TTL or re-read past 30 days (before: accepted up to the largest
        # long, and now + it overflowed, so credentials went at once)
        for opt, bad in (("--ttl", "31d"), ("--ttl", "9223372036854775s"), ("--ttl", "0s"),
                         ("--reread", "9223372036854775s")):
            with self.subTest(opt=opt, value=bad):
                p = self.dbr("agent", "start", opt, bad, env=self.agent_env())
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertIn(f"{opt} '{bad}' is not a duration from 1s to 30d", p.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.run_dir, "dbroker", "agent.sock")))

    def test_confirm_without_a_terminal_is_refused(self):
        p = subprocess.run([BIN, "agent", "start", "--confirm", "--foreground"],
                           env=self.agent_env(), capture_output=True, text=True, timeout=60,
                           stdin=subprocess.DEVNULL, start_new_session=True)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("--confirm asks on the agent's terminal, and there is none", p.stderr)
        # nothing is left listening, nor a socket file
        self.assertFalse(os.path.exists(os.path.join(self.run_dir, "dbroker", "agent.sock")))
        p = self.dbr("agent", "start", "--confirm", env=self.agent_env())
        self.assertEqual(p.returncode, 2)
        self.assertIn("add --foreground", p.stderr)

    def test_confirm_asks_on_the_agents_terminal(self):
        master, slave = os.openpty()
        self.addCleanup(os.close, master)

        def own_terminal():
            os.setsid()
            fcntl.ioctl(slave, termios.TIOCSCTTY, 0)

        a = self.start_foreground("--confirm", stdin=slave, stdout=slave, stderr=slave,
                                  preexec_fn=own_terminal, pipes=False)
        os.close(slave)
        sock = os.path.join(self.run_dir, "dbroker", "agent.sock")
        wait_for("the socket", lambda: os.path.exists(sock))
        for answer, code in ((b"y\n", 0), (b"n\n", 5)):
            c = subprocess.Popen([BIN, "api", "GET", SCIM_ME], env=self.client_env(),
                                 stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
            asked = read_pty(master, b"[y/N] ", timeout=30)
            self.assertIn(f"allow process {c.pid} (dbroker) to use profile 'DEFAULT'? "
                          "[y/N] ".encode(), asked)
            os.write(master, answer)
            out, err = c.communicate(timeout=60)
            self.assert_no_secret(out, err)
            self.assertEqual(c.returncode, code, err)
        self.assertIn("did not allow this process", err)
        self.assertIn(f"agent: process {c.pid} refused to use profile 'DEFAULT'", a.log_text())
        self.assertEqual(self.held()["DEFAULT"]["calls"], 1)

    def test_systemd_socket_activation(self):
        if not shutil.which("systemd-socket-activate"):
            self.skipTest("systemd-socket-activate is not installed")
        path = os.path.join(self.run_dir, "activated.sock")
        env = self.agent_env()
        # systemd-socket-activate passes on only what -E names
        prefix = ["systemd-socket-activate", "-l", path] + [x for k in env for x in ("-E", k)]
        a = self.start_foreground(cmd_prefix=prefix, env=env)
        wait_for("the activation socket", lambda: os.path.exists(path))
        env = self.client_env(DBROKER_AGENT_SOCK=path)
        # the first connection starts the agent, which then serves it
        self.assertEqual(json.loads(self.ok("api", "GET", SCIM_ME, env=env).stdout)["userName"],
                         "me@example.com")
        st = self.status(env)
        self.assertEqual((st["pid"], st["profiles"][0]["source"]), (a.pid, "vault"))
        self.assertIn("(socket handed over)", a.log_text())
        self.ok("agent", "stop", env=env)
        self.assertEqual(a.exit_code(), 0)
        # the socket is systemd's to remove, not the agent's
        self.assertTrue(stat.S_ISSOCK(os.lstat(path).st_mode))


class CommandsTest(AgentCase):
    def test_commands_go_through_the_agent(self):
        self.start_agent()
        self.ws.configure_jobs(pending_seconds=0.1, task_seconds=0.1)
        # the client has no Vault variables and no plugins: only the agent
        # can have resolved anything
        out = json.loads(self.ok("clusters", "create", "--name", "via-agent").stdout)
        cid = out["cluster_id"]
        self.assertEqual(out["state"], "RUNNING")
        self.assertIn(cid, self.ok("clusters", "list").stdout)
        self.assertEqual(json.loads(self.ok("-o", "json", "clusters", "get", cid).stdout)
                         ["cluster_name"], "via-agent")
        self.ok("clusters", "delete", cid)
        self.assertEqual(json.loads(self.ok("-o", "json", "clusters", "get", cid).stdout)
                         ["state"], "TERMINATED")
        p = self.ok("--debug", "api", "GET", SCIM_ME)
        self.assertEqual(json.loads(p.stdout)["userName"], "me@example.com")
        self.assertIn("credential held by the agent on", p.stderr)
        self.assertIn("through the agent", p.stderr)
        jid = self.ws.create_job("etl-agent", [TASK])
        self.assertIn("etl-agent", self.ok("jobs", "list").stdout)
        run = json.loads(self.ok("jobs", "run-now", str(jid)).stdout)
        self.assertEqual((run["job_id"], run["result_state"]), (jid, "SUCCESS"))
        # every call carried the token from Vault, read once
        bearers = self.bearers()
        self.assertGreater(len(bearers), 8)
        self.assertEqual(set(bearers), {TOKEN})
        self.assertEqual(self.vault_reads(), 1)
        st = self.status()
        prof = st["profiles"][0]
        self.assertEqual((prof["profile"], prof["source"], prof["auth_type"], prof["host"]),
                         ("DEFAULT", "vault", "pat", self.ws.url))
        self.assertEqual((prof["reads"], prof["calls"], st["resolutions"]), (1, len(bearers), 1))
        self.assertEqual(st["clients_served"], 9)  # eight commands, this status
        self.assertTrue(0 < prof["expires_in_s"] <= 8 * 3600)
        self.assertAlmostEqual(prof["expires_at"] - prof["resolved_at"], 8 * 3600, delta=120)

    def test_client_never_holds_the_token_nor_libcurl_nor_libcrypto(self):
        a = self.start_agent()
        self.ok("api", "GET", SCIM_ME)
        self.ws.add_fault("slow", path="scim/v2/Me", seconds=5)
        c = subprocess.Popen([BIN, "api", "GET", SCIM_ME], env=self.client_env(),
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        forms = needles({"the token": TOKEN})
        try:
            # the answer is in the workspace's hands: the client waits on the agent
            wait_for("the request in flight", lambda: any(
                r["status"] is None for r in self.ws.requests(path="scim/v2/Me")))
            with open(f"/proc/{c.pid}/environ", "rb") as f:
                environ = f.read()
            with open(f"/proc/{c.pid}/maps") as f:
                maps = f.read()
            in_client, scanned = scan_memory(c.pid, forms)
            self.assertIsNone(c.poll(), "the client ended while it was being looked at")
        finally:
            out, err = c.communicate(timeout=60)
        self.assertEqual(c.returncode, 0, err)
        with open(f"/proc/{a.pid}/maps") as f:
            agent_maps = f.read()
        in_agent, _ = scan_memory(a.pid, forms)
        self.assertIn(b"HOME=" + self.home.encode(), environ)
        self.assertEqual([lbl for n, lbl in forms.items() if n in environ], [])
        self.assertNotIn("libcurl", maps)
        self.assertIn("libcurl", agent_maps)  # the agent does the HTTP
        # nor libcrypto: a client holds no secret (libdbroker loads it with
        # the first one, or with libcurl)
        self.assertNotIn("libcrypto", maps)
        self.assertNotIn("libssl", maps)
        self.assertIn("libcrypto", agent_maps)
        self.assertEqual(in_client, [])
        self.assertGreater(scanned, 1 << 20)
        self.assertIn("the token (raw)", in_agent)  # the scan finds it where it is

    def test_exec_signs_through_the_agent(self):
        """dbroker exec's proxy takes the agent as its upstream: the child
        gets a capability, the exec process itself never holds the token
        (nor libcurl), and the workspace sees the token from Vault."""
        self.start_agent()
        probe = ("import os,sys; open(sys.argv[1], 'w').write(open('/proc/%d/maps' % "
                 "os.getppid()).read()); print(os.environ['DATABRICKS_TOKEN'][:7])")
        maps_file = os.path.join(self.dir, "exec-maps")
        p = self.ok("exec", "--", "/bin/sh", "-c",
                    'curl -sS -f -H "Authorization: Bearer $DATABRICKS_TOKEN" '
                    '"$DATABRICKS_HOST/api/2.1/clusters/list" && '
                    'exec /usr/bin/python3 -c "$0" "$1"', probe, maps_file)
        self.assertIn("dbrcap_", p.stdout)  # the child's token is the capability
        self.assertIn("{", p.stdout)
        with open(maps_file) as f:
            exec_maps = f.read()
        self.assertIn("dbroker", exec_maps)  # the maps are dbroker's own
        self.assertNotIn("libcurl", exec_maps)  # the agent did the HTTP
        self.assertEqual(set(self.bearers(path="clusters/list")), {TOKEN})
        self.assertEqual(self.vault_reads(), 1)
        self.assertEqual(self.held()["DEFAULT"]["calls"], 1)

    def test_exec_large_answers_through_the_agent(self):
        """Through the agent an answer arrives whole: a GET's 2xx over the
        proxy's 256 KiB ring is delivered (not a 502), and the requests
        after it on the same connection to the proxy still work."""
        self.start_agent()
        self.ws.add_fault("huge", path="clusters/list", bytes=1024 * 1024)
        curl = ('curl -sS -o big.out -w "%{http_code}\\n" -H "Authorization: Bearer '
                '$DATABRICKS_TOKEN" "$DATABRICKS_HOST/api/2.1/clusters/list" '
                '-o me.out "$DATABRICKS_HOST' + SCIM_ME + '"')
        p = self.ok("exec", "--", "/bin/sh", "-c", "cd " + self.dir + " && " + curl)
        self.assertEqual(p.stdout.split(), ["200", "200"], p.stderr)
        self.assertEqual(os.path.getsize(os.path.join(self.dir, "big.out")), 1024 * 1024)
        with open(os.path.join(self.dir, "me.out")) as f:
            self.assertEqual(json.load(f)["userName"], "me@example.com")
        self.assertEqual(len(self.ws.requests(path="clusters/list")), 1)

    def test_exec_body_over_the_agents_cap(self):
        """A call through the agent carries at most 16 MiB of body: over it
        the child gets a 413 in the workspace's JSON that names the agent's
        limit and what to do (the default --max-body, 64 MiB, is the
        agent's cap here); nothing reaches the workspace."""
        self.start_agent()
        big = os.path.join(self.dir, "big.json")
        with open(big, "wb") as f:
            f.write(b"x" * (20 * 1000 * 1000))
        curl = ('curl -sS -w "\\n%{http_code}" -X PUT -H "Authorization: Bearer '
                '$DATABRICKS_TOKEN" --data-binary @' + big +
                ' "$DATABRICKS_HOST/api/2.0/workspace/import"')
        p = self.ok("exec", "--", "/bin/sh", "-c", curl)
        body, status = p.stdout.rsplit("\n", 1)
        self.assertEqual(status, "413", p.stderr)
        answer = json.loads(body)
        self.assertEqual(answer["error_code"], "RESOURCE_LIMIT_EXCEEDED")
        self.assertIn("(20000000 bytes) is over the 16777216 bytes a call through dbroker's "
                      "agent carries", answer["message"])
        self.assertIn("--no-agent", answer["message"])
        self.assertEqual(self.ws.requests(path="workspace/import"), [])

    def test_exec_survives_an_agent_restart(self):
        """A proxy connection whose agent went away (stopped, started again)
        opens a new connection to the agent for its next request instead of
        failing every request after it."""
        self.start_agent()
        ready, go = os.path.join(self.dir, "ready"), os.path.join(self.dir, "go")
        child = ("import json, os, sys, time, requests\n"
                 "s = requests.Session()\n"
                 "h = {'Authorization': 'Bearer ' + os.environ['DATABRICKS_TOKEN']}\n"
                 "url = os.environ['DATABRICKS_HOST'] + sys.argv[1]\n"
                 "print(s.get(url, headers=h, timeout=30).status_code, flush=True)\n"
                 "open(sys.argv[2], 'w').close()\n"
                 "while not os.path.exists(sys.argv[3]):\n"
                 "    time.sleep(0.05)\n"
                 "print(s.get(url, headers=h, timeout=30).status_code)\n")
        p = subprocess.Popen([BIN, "exec", "--", "python3", "-c", child, SCIM_ME, ready, go],
                             env=self.client_env(), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        try:
            wait_for("the first answer", lambda: os.path.exists(ready))
            self.ok("agent", "stop")
            self.start_agent()
            open(go, "w").close()
            out, err = p.communicate(timeout=60)
        finally:
            if p.poll() is None:
                p.kill()
                p.communicate()
        self.assert_no_secret(out, err)
        self.assertEqual((p.returncode, out.split()), (0, ["200", "200"]), err)
        self.assertEqual(self.bearers(path="scim/v2/Me"), [TOKEN] * 2)

    def test_one_vault_read_for_sixteen_first_uses(self):
        self.start_agent()
        # the read is slow, so the clients ask while it is in flight
        self.v.add_fault("slow", path="secret/data/db", seconds=1)
        self.many(16, "api", "GET", SCIM_ME)
        self.assertEqual(self.vault_reads(), 1)
        self.assertEqual(len(self.v.requests(path="mounts/secret/db")), 1)
        st = self.status()
        self.assertEqual((st["resolutions"], st["profiles"][0]["reads"],
                          st["profiles"][0]["calls"]), (1, 1, 16))
        self.assertEqual(self.bearers(), [TOKEN] * 16)

    def raw_call(self, path, results):
        s = self.connect(self.agents[-1].sock)
        with s:
            s.sendall(frame(CALL, text(T_PROFILE, "DEFAULT"), text(T_METHOD, "GET"),
                            text(T_PATH, path)))
            mtype, f = read_msg(s)
            results.append((mtype, as_int(f[T_RC]), as_int(f.get(T_STATUS, b"\0" * 8))))

    def test_reread_is_one_new_read_for_everyone(self):
        self.start_agent("--reread", "1s")
        self.ok("api", "GET", SCIM_ME)
        self.assertEqual((self.vault_reads(), self.bearers()), (1, [TOKEN]))
        self.v.put("secret/db", {"token": TOKEN2, "host": self.ws.url})  # rotated
        self.ws.clear_requests()
        time.sleep(1.2)  # past --reread
        # eight calls at once (already connected: they arrive together)
        results, threads = [], []
        self.v.add_fault("slow", path="secret/data/db", seconds=0.5)
        for _ in range(8):
            threads.append(threading.Thread(target=self.raw_call, args=(SCIM_ME, results)))
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(results, [(R_CALL, 0, 200)] * 8)
        self.assertEqual(self.vault_reads(), 2)
        self.assertEqual(self.bearers(), [TOKEN2] * 8)
        self.assertEqual(self.held()["DEFAULT"]["reads"], 2)

    def test_ttl_forgets(self):
        a = self.start_agent("--ttl", "2s")
        self.ok("api", "GET", SCIM_ME)
        self.assertEqual(self.status()["ttl_s"], 2)
        wait_for("the TTL", lambda: "reached its TTL: forgotten" in a.log_text())
        self.assertEqual(self.held(), {})
        self.ok("api", "GET", SCIM_ME)
        self.assertEqual(self.vault_reads(), 2)

    def test_lock_forget_and_stop(self):
        a = self.start_agent()
        self.ok("api", "GET", SCIM_ME)
        self.ok("-p", "other", "api", "GET", SCIM_ME)
        self.assertEqual(set(self.held()), {"DEFAULT", "other"})
        p = self.ok("-o", "json", "agent", "forget", "other")
        self.assertEqual(json.loads(p.stdout), {"forgot": "other"})
        self.assertEqual(set(self.held()), {"DEFAULT"})
        self.ok("agent", "lock")
        self.assertEqual(self.held(), {})
        self.assertIn("forgot every credential", a.log_text())
        self.ok("api", "GET", SCIM_ME)  # read again
        self.assertEqual(self.vault_reads(), 2)
        self.ok("agent", "forget")
        self.assertEqual(self.held(), {})
        # nothing held: said so, and still not an error
        p = self.ok("agent", "forget", "nosuch")
        self.assertIn("held no credential of profile 'nosuch': nothing to forget", p.stdout)
        self.assertIn("held no credential: nothing to forget", self.ok("agent", "lock").stdout)
        self.ok("api", "GET", SCIM_ME)
        self.assertIn("forgot every credential", self.ok("agent", "lock").stdout)
        self.assertEqual(json.loads(self.ok("-o", "json", "agent", "lock").stdout),
                         {"locked": True})
        p = self.ok("agent", "stop")
        self.assertIn(f"stopped the agent on '{a.sock}'", p.stdout)
        self.assertEqual(a.exit_code(), 0)
        self.assertFalse(os.path.exists(a.sock))
        self.assertTrue(os.path.isdir(os.path.dirname(a.sock)))
        p = self.dbr("agent", "status")
        self.assertEqual(p.returncode, 8)
        self.assertIn("no agent is listening", p.stderr)

    def test_stop_lets_a_call_in_flight_finish(self):
        # 'agent stop' while a create waits for its answer: the call ends
        # with its answer (before: its connection was shut at once, and the
        # create exited 10, "may have created the cluster"); new calls and
        # idle connections are not kept waiting
        a = self.start_agent()
        self.ok("api", "GET", SCIM_ME)
        self.ws.add_fault("slow", path="clusters/create", seconds=2)
        p = subprocess.Popen([BIN, "clusters", "create", "--name", "in-flight", "--no-wait"],
                             env=self.client_env(), text=True, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        wait_for("the create in flight", lambda: self.ws.requests(path="clusters/create"))
        idle = self.connect(a.sock)  # a connection that sends nothing
        self.addCleanup(idle.close)
        s = self.ok("agent", "stop")
        self.assertIn(f"stopped the agent on '{a.sock}'", s.stdout)
        out, err = p.communicate(timeout=60)
        self.assert_no_secret(out, err)
        self.assertEqual(p.returncode, 0, err)
        (cluster,) = self.ws.clusters()
        self.assertEqual(json.loads(out)["cluster_id"], cluster["cluster_id"])
        self.assertEqual(a.exit_code(timeout=30), 0)
        self.assertEqual(idle.recv(1), b"")  # closed, not left hanging
        self.assertNotIn("still in flight", a.log_text())

    def test_status_text(self):
        self.start_agent()
        self.ok("api", "GET", SCIM_ME)
        p = self.ok("agent", "status")
        self.assertRegex(p.stdout, r"clients served \d+, refused 0; resolutions 1")
        self.assertRegex(p.stdout, r"(?m)^DEFAULT\s+pat\s+vault\s+\d+s\s+1\s+%s$"
                         % re.escape(self.ws.url))


class SignalsTest(AgentCase):
    def test_sigusr1_forgets_and_goes_on(self):
        a = self.start_agent()
        self.ok("api", "GET", SCIM_ME)
        os.kill(a.pid, signal.SIGUSR1)
        wait_for("SIGUSR1 to be handled", lambda: "SIGUSR1: forgetting" in a.log_text())
        self.assertTrue(a.alive())
        self.assertEqual(self.held(), {})
        self.ok("api", "GET", SCIM_ME)
        self.assertEqual(self.vault_reads(), 2)

    def test_terminating_signals_exit_cleanly_and_remove_only_the_socket(self):
        sock_dir = os.path.join(self.run_dir, "dbroker")
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT, signal.SIGQUIT):
            with self.subTest(signal.Signals(sig).name):
                a = self.start_agent()
                self.ok("api", "GET", SCIM_ME)
                keep = [os.path.join(sock_dir, "keep"), os.path.join(self.run_dir, "keep"),
                        os.path.join(self.home, "keep")]
                for k in keep:
                    with open(k, "w") as f:
                        f.write("x")
                os.kill(a.pid, sig)
                self.assertEqual(a.exit_code(), 0)
                self.assertIn(f"agent: signal {int(sig)}: forgetting everything and stopping",
                              a.log_text())
                self.assertFalse(os.path.exists(a.sock))
                for k in keep + [self.cfg, a.log]:
                    self.assertTrue(os.path.isfile(k), k)
                self.assertEqual(stat.S_IMODE(os.lstat(sock_dir).st_mode), 0o700)


    def test_an_agent_killed_mid_call_the_client_says_what_to_do(self):
        a = self.start_agent()
        self.ok("api", "GET", SCIM_ME)
        self.ws.add_fault("slow", path="scim/v2/Me", seconds=5, count=-1)
        cases = [(["api", "GET", SCIM_ME], 1),
                 (["api", "POST", SCIM_ME, "--json", "{}"], 10)]
        for args, code in cases:
            with self.subTest(args[1]):
                a = self.agents[-1] if self.agents[-1].alive() else self.start_agent()
                self.ws.clear_requests()
                p = subprocess.Popen([BIN] + args, env=self.client_env(), text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                wait_for("the call in flight", lambda: self.ws.requests(path="scim/v2/Me"))
                os.kill(a.pid, signal.SIGKILL)
                a.killed = True
                out, err = p.communicate(timeout=60)
                self.assert_no_secret(out, err)
                self.assertEqual(p.returncode, code, err)
                self.assertIn("the other side closed the connection: the agent ended or was "
                              "killed during the call ('dbroker agent status' tells whether "
                              "one runs; without one, commands resolve by themselves)", err)
        # the socket it left: the next command resolves by itself
        self.ok("api", "GET", SCIM_ME, env=self.client_env(resolve=True))

    def test_a_signal_right_after_start_is_not_lost(self):
        # sent before the agent has its handlers: held until it has them
        a = self.start_agent()
        os.kill(a.pid, signal.SIGTERM)
        self.assertEqual(a.exit_code(timeout=15), 0)
        self.assertFalse(os.path.exists(a.sock))
        b = self.start_agent()
        os.kill(b.pid, signal.SIGUSR1)
        wait_for("SIGUSR1 to be handled", lambda: "SIGUSR1: forgetting" in b.log_text())
        self.assertTrue(b.alive())
        self.ok("api", "GET", SCIM_ME)


class FallbackTest(AgentCase):
    def test_agent_failure_names_the_agents_environment(self):
        # the agent was started without the Vault token; the client's own
        # VAULT_TOKEN is not the agent's, and the message says so
        a = self.start_agent(env=self.agent_env(VAULT_TOKEN=None))
        resolve = self.client_env(resolve=True)
        p = self.dbr("api", "GET", SCIM_ME, env=resolve)
        self.assertEqual(p.returncode, 4, p.stderr)
        self.assertIn(f"the agent (pid {a.pid}) could not resolve profile", p.stderr)
        self.assertIn("VAULT_TOKEN", p.stderr)
        self.assertIn("as they were at 'agent start': start it again with what it needs, or "
                      "run the command with --no-agent", p.stderr)
        self.ok("--no-agent", "api", "GET", SCIM_ME, env=resolve)

    def test_a_call_the_agent_refuses_before_sending_is_not_maybe_applied(self):
        # an agent that resolves the profile but refuses every call with an
        # error answer (as the agent does for a request it cannot read, or a
        # profile it cannot resolve): nothing reached the workspace, so it
        # is the agent's error (exit 4), not exit 10 with "may have acted"
        path = os.path.join(self.dir, "refusing.sock")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(path)
        listener.listen(8)
        self.addCleanup(listener.close)
        calls = []

        def serve(conn):
            with conn:
                while (msg := read_msg(conn)) is not None:
                    mtype, fields = msg
                    if mtype == OPEN:
                        conn.sendall(frame(R_OK, text(T_HOST, self.ws.url),
                                           text(T_AUTH_TYPE, "pat"), text(T_SOURCE, "vault")))
                    else:
                        if mtype == CALL:
                            calls.append((as_text(fields[T_METHOD]), as_text(fields[T_PATH])))
                        conn.sendall(frame(R_ERROR, i64(T_RC, -2),
                                           text(T_MESSAGE, "a malformed call request")))

        def accept():
            while True:
                try:
                    conn, _ = listener.accept()
                except OSError:
                    return
                threading.Thread(target=serve, args=(conn,), daemon=True).start()

        threading.Thread(target=accept, daemon=True).start()
        env = self.client_env(DBROKER_AGENT_SOCK=path)
        for cmd, call in (
                (["api", "POST", "/api/2.1/clusters/delete", "--json",
                  '{"cluster_id": "1234-567890-abcde123"}'], ("POST", "/api/2.1/clusters/delete")),
                (["clusters", "create", "--name", "refused"],
                 ("POST", "/api/2.1/clusters/create"))):
            with self.subTest(cmd[0]):
                del calls[:]
                p = self.dbr(*cmd, env=env)
                self.assertEqual(p.returncode, 4, p.stderr)
                self.assertIn("a malformed call request", p.stderr)
                self.assertNotIn("may have acted", p.stderr)
                self.assertNotIn("check whether it did", p.stderr)
                self.assertEqual(calls, [call])
        self.assertEqual(self.ws.requests(), [])

    def test_no_agent_and_opting_out(self):
        resolve = self.client_env(resolve=True)
        # no agent: the command resolves by itself
        p = self.ok("--debug", "api", "GET", SCIM_ME, env=resolve)
        self.assertIn("no agent is listening", p.stderr)
        self.assertEqual(self.vault_reads(), 1)
        # a path that is not a socket is no agent either
        path = os.path.join(self.dir, "not-a-socket")
        with open(path, "w"):
            pass
        self.ok("api", "GET", SCIM_ME, env=dict(resolve, DBROKER_AGENT_SOCK=path))
        self.assertEqual(self.vault_reads(), 2)
        self.start_agent()
        self.ok("api", "GET", SCIM_ME)
        self.assertEqual(self.vault_reads(), 3)
        cases = [
            (["--no-agent"], {}, "--no-agent"),
            (["--ca-cert", self.ws.ca_file], {}, "a TLS option was given"),
            (["--chain", "vault"], {}, "a credential option was given"),
            ([], {"DATABRICKS_HOST": self.ws.url}, "DATABRICKS_* credential variables"),
        ]
        for i, (args, extra, why) in enumerate(cases):
            with self.subTest(why):
                p = self.ok("--debug", *args, "api", "GET", SCIM_ME, env=dict(resolve, **extra))
                self.assertIn("agent: not asked: " + why, p.stderr)
                self.assertEqual(self.vault_reads(), 4 + i)
        # a token of its own in the environment: used, the agent not asked
        self.ws.clear_requests()
        p = self.ok("--debug", "api", "GET", SCIM_ME, env=self.client_env(
            DATABRICKS_TOKEN=ENV_TOKEN, DATABRICKS_HOST=self.ws.url))
        self.assertEqual(json.loads(p.stdout)["userName"], "env@example.com")
        self.assertEqual(self.bearers(), [ENV_TOKEN])
        self.assertEqual(self.held()["DEFAULT"]["calls"], 1)

    def test_settings_in_the_environment_are_not_the_agents(self):
        """DATABRICKS_CONFIG_FILE, DBROKER_CHAIN and DATABRICKS_AUTH_TYPE
        stand for --config-file, --chain and --auth-type: the agent, which
        answers from its own file and chain, is not asked (before: it
        answered DEFAULT from its own file, another workspace's)."""
        self.start_agent()
        mine = os.path.join(self.dir, "mine.cfg")
        with open(mine, "w") as f:
            f.write("[DEFAULT]\nvault_path = secret/other\nca_cert = %s\n" % self.ws.ca_file)
        os.chmod(mine, 0o600)
        resolve = self.client_env(resolve=True)
        self.ok("api", "GET", SCIM_ME, env=dict(resolve, DATABRICKS_CONFIG_FILE=mine))
        self.assertEqual(self.vault_reads("secret/data/other"), 1)
        self.assertNotIn("DEFAULT", self.held())
        for i, extra in enumerate(({"DBROKER_CHAIN": "vault"}, {"DATABRICKS_AUTH_TYPE": "pat"})):
            with self.subTest(extra):
                p = self.ok("--debug", "api", "GET", SCIM_ME, env=dict(resolve, **extra))
                self.assertIn("agent: not asked: a credential setting is in the environment",
                              p.stderr)
                self.assertEqual(self.vault_reads(), 1 + i)
        self.assertNotIn("DEFAULT", self.held())


class ServicePrincipalTest(AgentCase):
    def test_oauth_m2m_minted_and_refreshed_once_for_many_clients(self):
        self.start_agent()
        outs = self.many(16, "-p", "sp", "api", "GET", SCIM_ME)
        self.assertTrue(all(json.loads(o)["userName"] == SP_USER for o, _ in outs))
        view = self.ws.admin("GET", "oauth")
        self.assertEqual(view["token_requests"], 1)
        self.assertEqual(len(view["access_tokens"]), 1)
        self.assertEqual(self.bearers(), view["access_tokens"] * 16)
        self.assertEqual(self.vault_reads("secret/data/sp"), 1)
        prof = self.held()["sp"]
        self.assertEqual((prof["auth_type"], prof["source"], prof["calls"]),
                         ("oauth-m2m", "vault", 16))
        # every access token expires: one refresh serves the next clients
        self.ws.admin("POST", "oauth", {"expire": True})
        outs += self.many(8, "-p", "sp", "api", "GET", SCIM_ME)
        view = self.ws.admin("GET", "oauth")
        self.assertEqual(view["token_requests"], 2)
        self.assertEqual(len(view["access_tokens"]), 2)
        for o, e in outs:
            for tok in view["access_tokens"] + [CLIENT_SECRET]:
                for form in encodings(tok):
                    self.assertNotIn(form, o + e)


class HostileWorkspaceTest(AgentCase):
    def test_an_answer_echoing_the_token_is_withheld(self):
        a = self.start_agent()
        self.ok("api", "GET", SCIM_ME)
        echoes = [json.dumps({"you_sent": "Bearer " + TOKEN}),
                  "seen: " + base64.b64encode(("x" + TOKEN).encode()).decode(),
                  json.dumps({"header": "Authorization: Bearer " + TOKEN})[:-1]]
        for body in echoes:
            with self.subTest(body[:12]):
                self.ws.add_fault("raw", path="scim/v2/Me", body=body,
                                  content_type="application/json")
                p = self.dbr("api", "GET", SCIM_ME)
                self.assertEqual(p.returncode, 6, p.stderr)
                self.assertIn("carried the credential the agent holds, so the agent "
                              "withheld it", p.stderr)
                self.assertEqual(p.stdout, "")
        self.assertEqual(a.log_text().count("carried the credential the agent holds: "
                                            "withheld"), len(echoes))
        # an honest answer still goes through
        self.ok("api", "GET", SCIM_ME)

    def test_echoed_access_token_and_client_secret_are_withheld(self):
        self.start_agent()
        self.ok("-p", "sp", "api", "GET", SCIM_ME)
        tok = self.ws.admin("GET", "oauth")["access_tokens"][0]
        for body in ("Authorization: Bearer " + tok, json.dumps({"access_token": tok}),
                     json.dumps({"client_secret": CLIENT_SECRET}), "token=" + tok):
            with self.subTest(body[:16]):
                self.ws.add_fault("raw", path="scim/v2/Me", body=body)
                p = self.dbr("-p", "sp", "api", "GET", SCIM_ME)
                self.assertEqual(p.returncode, 6, p.stderr)
                self.assertIn("withheld", p.stderr)
                for form in encodings(tok):
                    self.assertNotIn(form, p.stdout + p.stderr)


if __name__ == "__main__":
    unittest.main()
