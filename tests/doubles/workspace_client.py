"""Test-side helper for the workspace double: start_workspace() runs
workspace.py as a subprocess and returns a WorkspaceProcess with API and
admin helpers. Re-exported by workspace.py (import workspace; see its
docstring for the API). Standard library only.
"""

import http.client
import json
import os
import secrets
import signal
import ssl
import subprocess
import sys
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))


class Reply:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None

    def __repr__(self):
        return f"Reply({self.status}, {self.body[:200]!r})"


class AdminError(Exception):
    pass


class WorkspaceProcess:
    """A running double (see start_workspace)."""

    def __init__(self, proc, port, directory, tls_dir, admin_key, plain, stderr_path):
        self.proc, self.port, self.dir, self.tls_dir = proc, port, directory, tls_dir
        self.admin_key, self.plain, self.stderr_path = admin_key, plain, stderr_path
        self.host = "127.0.0.1"
        self.url = f"{'http' if plain else 'https'}://{self.host}:{port}"
        self.ca_file = os.path.join(tls_dir, "ca.pem")
        self.returncode = None

    def ssl_context(self):
        return ssl.create_default_context(cafile=self.ca_file)

    def _connect(self, timeout):
        if self.plain:
            return http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        return http.client.HTTPSConnection(self.host, self.port, timeout=timeout,
                                           context=self.ssl_context())

    def raw_request(self, method, path, body=None, headers=(), timeout=10):
        """One request on a new connection; headers is a list of (k, v) pairs
        (duplicates kept). Returns a Reply; connection errors propagate."""
        conn = self._connect(timeout)
        try:
            conn.putrequest(method, path, skip_accept_encoding=True)
            data = b""
            if body is not None:
                data = body if isinstance(body, bytes) else (
                    body.encode() if isinstance(body, str) else json.dumps(body).encode())
            for k, v in headers:
                conn.putheader(k, v)
            if body is not None or method in ("POST", "PUT", "PATCH"):
                conn.putheader("Content-Length", str(len(data)))
            conn.endheaders(data or None)
            r = conn.getresponse()
            return Reply(r.status, r.headers, r.read())
        finally:
            conn.close()

    def call(self, method, path, body=None, token=None, headers=(), timeout=10):
        """An API call with "Authorization: Bearer token" (if token)."""
        hdrs = list(headers)
        if token is not None:
            hdrs.append(("Authorization", f"Bearer {token}"))
        if body is not None:
            hdrs.append(("Content-Type", "application/json"))
        return self.raw_request(method, path, body, hdrs, timeout)

    def admin(self, method, path, body=None):
        hdrs = [("X-Admin-Key", self.admin_key)] if self.admin_key else []
        r = self.raw_request(method, "/__admin/" + path.lstrip("/"), body, hdrs)
        if not 200 <= r.status < 300:
            raise AdminError(f"{method} {path}: {r.status} {r.body!r}")
        return r.json

    def add_fault(self, kind, path="", **opts):
        return self.admin("POST", "faults", dict(opts, kind=str(kind), path=path))["faults"]

    def add_faults(self, *faults):
        return self.admin("POST", "faults", list(faults))["faults"]

    def faults(self):
        return self.admin("GET", "faults")["faults"]

    def clear_faults(self):
        self.admin("DELETE", "faults")

    def requests(self, path=None, since=None):
        q = {k: v for k, v in (("path", path), ("since", since)) if v is not None}
        return self.admin("GET", "requests" + ("?" + urllib.parse.urlencode(q)
                                               if q else ""))["requests"]

    def clear_requests(self):
        self.admin("DELETE", "requests")

    def clusters(self):
        return self.admin("GET", "clusters")["clusters"]

    def configure(self, **conf):
        return self.admin("POST", "config", conf)

    def create_job(self, name, tasks, **settings):
        """A job in the double's Jobs API (workspace_jobs.py); its job_id."""
        return self.admin("POST", "jobs", dict(settings, name=name, tasks=tasks))["job_id"]

    def runs(self):
        """Every run, with its idempotency_token and all its tasks."""
        return self.admin("GET", "runs")["runs"]

    def configure_jobs(self, **conf):
        return self.admin("POST", "jobs_config", conf)

    def reset(self):
        self.admin("POST", "reset")

    def stderr_text(self):
        with open(self.stderr_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def stop(self, timeout=5):
        if self.returncode is None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.returncode = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.returncode = self.proc.wait()
        return self.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def _tls_fresh(tls_dir):
    """mkca.sh output made within the day (it makes 2-day certificates and
    renews them only when less than an hour is left): skip the 0.4 s check."""
    try:
        return all(time.time() - os.stat(os.path.join(tls_dir, n)).st_mtime < 86400
                   for n in ("ca.pem", "server.pem", "server.key"))
    except OSError:
        return False


def write_private(path, text):
    """Create path (mode 0600; it must not exist yet) holding text. Tokens and
    keys reach a double through such files, never argv."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


def admin_key_args(directory, admin_key):
    """(key, extra argv) for a double's --admin-key-file: admin_key True =
    a random key, a string = that key, None/False = open admin endpoints."""
    if admin_key is True:
        admin_key = secrets.token_hex(16)
    if not admin_key:
        return None, []
    key_file = os.path.join(directory, "admin-key")
    write_private(key_file, admin_key + "\n")
    return admin_key, ["--admin-key-file", key_file]


def spawn_double(cmd, env, directory, what, timeout):
    """Run cmd (which must write its port to directory/port) with stderr in
    directory/stderr.log; wait for the port. Returns (proc, port, stderr
    path); raises RuntimeError with the double's stderr if it does not start."""
    stderr_path = os.path.join(directory, "stderr.log")
    with open(stderr_path, "wb") as err:
        proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL,
                                stdout=err, stderr=err)
    port_file = os.path.join(directory, "port")
    deadline = time.monotonic() + timeout
    while not os.path.exists(port_file):
        if proc.poll() is not None or time.monotonic() > deadline:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            with open(stderr_path, encoding="utf-8", errors="replace") as f:
                raise RuntimeError(f"{what} did not start: {f.read()}")
        time.sleep(0.02)
    with open(port_file, encoding="ascii") as f:
        return proc, int(f.read().strip()), stderr_path


def start_workspace(tmpdir, tokens, *, pending_seconds=None, terminating_seconds=None,
                    admin_key=True, token_via="file", plain=False, verbose=False,
                    org_id=None, tls_dir=None, extra_args=(), python=None, timeout=10):
    """Start the double as a subprocess and wait for its port.

    tokens: a token, a list of tokens or (token, user) pairs, or {token: user}.
    Files go to a fresh directory under tmpdir (tokens 0600, admin key,
    port file, stderr log); TLS material from mkca.sh into tls_dir
    (default tmpdir/tls, reused when fresh). Returns a WorkspaceProcess."""
    if isinstance(tokens, str):
        tokens = [tokens]
    if isinstance(tokens, dict):
        tokens = list(tokens.items())
    lines = [t if isinstance(t, str) else f"{t[0]}\t{t[1]}" for t in tokens]
    d = os.path.join(tmpdir, f"workspace-{secrets.token_hex(4)}")
    os.makedirs(d, mode=0o700)
    tls_dir = tls_dir or os.path.join(tmpdir, "tls")
    if not plain and not _tls_fresh(tls_dir):
        subprocess.run(["/bin/sh", os.path.join(HERE, "mkca.sh"), tls_dir], check=True)

    env = {k: v for k, v in os.environ.items() if k != "WORKSPACE_TOKEN"}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    cmd = [python or sys.executable, os.path.join(HERE, "workspace.py"),
           "--port", "0", "--port-file", os.path.join(d, "port")]
    if token_via == "env":
        env["WORKSPACE_TOKEN"] = "\n".join(lines)
    else:
        tok_file = os.path.join(d, "tokens")
        write_private(tok_file, "".join(line + "\n" for line in lines))
        cmd += ["--token-file", tok_file]
    admin_key, args = admin_key_args(d, admin_key)
    cmd += args
    if plain:
        cmd.append("--plain")
    else:
        cmd += ["--cert", os.path.join(tls_dir, "server.pem"),
                "--key", os.path.join(tls_dir, "server.key")]
    for opt, val in (("--pending-seconds", pending_seconds),
                     ("--terminating-seconds", terminating_seconds),
                     ("--org-id", org_id)):
        if val is not None:
            cmd += [opt, str(val)]
    if verbose:
        cmd.append("--verbose")
    cmd += list(extra_args)

    proc, port, stderr_path = spawn_double(cmd, env, d, "workspace double", timeout)
    return WorkspaceProcess(proc, port, d, tls_dir, admin_key or None, plain, stderr_path)
