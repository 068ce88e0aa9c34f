#!/usr/bin/python3
"""A local HashiCorp Vault double over HTTPS: KV v1/v2 reads, the mounts
preflight, token policies, lookup-self, AppRole login, revoke-self,
namespaces and switchable faults, answering as Vault does (its API docs and
the KV plugin's behaviour). Standard library only.

Run it as a program (tokens and secrets never come from argv):

  vault.py --cert server.pem --key server.key --port 0 --port-file PORT
           --state-file STATE.json [--admin-key-file KEY]

STATE.json (mode 0600; every key optional):
  {"mounts":  {"secret/": {"version": 2}, "kv/": {"version": 1},
               "ns1/secret/": {"version": 2}},      # namespace = path prefix
   "secrets": {"secret/app": [{"token": "..."}, ...],  # v2: list of versions
               "kv/app": {"token": "..."}},             # v1: the flat map
   "tokens":  {"hvs.X": {"allow": ["secret/data/app"], "policies": ["p"]}},
   "approles": {"ROLE_ID": {"secret_id": "...", "allow": [...], "policies": [...]}},
   "old_server": false}                     # true: the preflight answers 404
  allow: API paths (after /v1/, namespace included) the token may read;
  a trailing "*" matches a prefix; absent = everything.

Or from a test:

  sys.path.insert(0, ".../tests/doubles"); import vault
  v = vault.start_vault(tmpdir, tokens={...}, secrets={...}, mounts={...})
  v.url, v.ca_file, v.requests(path=None), v.clear_requests(),
  v.add_fault(kind, path="", **opts), v.clear_faults(),
  v.put(path, data) (v1 write / v2 new version), v.delete_versions(path, [n]),
  v.destroy_versions(path, [n]), v.set_tokens({...}), v.revoked(), v.reset(),
  v.stop()

Admin API (prefix /__admin/, "X-Admin-Key" when --admin-key-file is given):
  GET/DELETE requests[?path=SUFFIX]   each: seq, method, path, query, headers,
                                       body, status (memory only)
  POST/GET/DELETE faults   {"kind": K, "path": SUFFIX, "count": N (-1 = until
                           cleared), "retry_after": s, "seconds": s}
       kinds: "sealed" (503 Vault is sealed), "429", "412", "500", "501",
       "502", "slow" (sleep seconds, then answer), "huge" (answer "status",
       default 200, with {"padding": "xxx..."}, "bytes" long, default
       HUGE_BYTES: 2 MiB, one MiB over dbroker's cap on a Vault answer;
       "chunked": true sends it without Content-Length)
  POST put {"path": "secret/app", "data": {...}}
  POST delete {"path": "secret/app", "versions": [n]}  (soft delete)
  POST destroy {"path": "secret/app", "versions": [n]}
  POST tokens {"hvs.X": {...}}  (add or replace)
  GET  revoked   {"revoked": [accessor, ...]}
  POST config    {"old_server": true}  (the preflight answers 404, as before 0.10)
  POST reset     back to the initial state
"""

import copy
import datetime
import hmac
import json
import os
import secrets
import sys
import threading
import time
import urllib.parse
import uuid

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import tlsserver  # noqa: E402
from workspace_client import (AdminError, WorkspaceProcess, _tls_fresh,  # noqa: E402,F401
                              admin_key_args, spawn_double, write_private)

V1_TTL = 2764800
HUGE_BYTES = 2 * 1024 * 1024
V2_WARNING = ("Invalid path for a versioned K/V secrets engine. See the API docs for the "
              "appropriate API endpoints to use. If using the Vault CLI, use 'vault kv get' "
              "for this operation.")
DENIED = "1 error occurred:\n\t* permission denied\n\n"
INVALID_TOKEN = "2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n"


def now_rfc3339():
    t = datetime.datetime.now(datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond:06d}123Z"


class State:
    def __init__(self, initial):
        self.lock = threading.Lock()
        self.initial = copy.deepcopy(initial)
        self.faults = []
        self.requests = []
        self.seq = 0
        self.load(initial)

    def load(self, st):
        st = copy.deepcopy(st)
        self.mounts = st.get("mounts") or {"secret/": {"version": 2}, "kv/": {"version": 1}}
        self.old_server = bool(st.get("old_server"))
        self.tokens = {}
        for tok, spec in (st.get("tokens") or {}).items():
            self.tokens[tok] = self.new_token_info(spec, orphan=False)
        self.approles = st.get("approles") or {}
        self.revoked = []
        self.v1, self.v2 = {}, {}
        for path, val in (st.get("secrets") or {}).items():
            mount, _ = self.mount_of(path)
            if mount is None:
                raise SystemExit(f"vault: no mount for seeded secret {path!r}")
            vals = val if isinstance(val, list) else [val]
            for v in vals:
                self.put(path, v)

    @staticmethod
    def new_token_info(spec, orphan):
        spec = dict(spec or {})
        return {"allow": spec.get("allow"), "policies": spec.get("policies") or ["default"],
                "accessor": secrets.token_urlsafe(18)[:24], "orphan": orphan,
                "created": int(time.time()), "ttl": int(spec.get("ttl", 2764800))}

    def mount_of(self, path):
        """Longest mount that prefixes path -> (mount, rest)."""
        best = None
        for m in self.mounts:
            if (path + "/").startswith(m) and (best is None or len(m) > len(best)):
                best = m
        if best is None:
            return None, None
        return best, path[len(best):]

    def version_of(self, mount):
        return int(self.mounts[mount].get("version", 1))

    def put(self, path, data):
        mount, rest = self.mount_of(path)
        if mount is None:
            raise ValueError(f"no mount for {path}")
        key = mount + rest
        if self.version_of(mount) == 2:
            vers = self.v2.setdefault(key, [])
            vers.append({"data": dict(data), "created_time": now_rfc3339(),
                         "deletion_time": "", "destroyed": False})
            return len(vers)
        self.v1[key] = dict(data)
        return 0

    def token_ok(self, tok):
        for t in self.tokens:
            if tok is not None and hmac.compare_digest(t.encode(), tok.encode()):
                return t
        return None

    def allowed(self, tok, path):
        allow = self.tokens[tok]["allow"]
        if allow is None:
            return True
        for a in allow:
            if a.endswith("*") and path.startswith(a[:-1]):
                return True
            if a == path:
                return True
        return False


def envelope(data=None, warnings=None, auth=None, lease_duration=0, renewable=False):
    return {"request_id": str(uuid.uuid4()), "lease_id": "", "renewable": renewable,
            "lease_duration": lease_duration, "data": data, "wrap_info": None,
            "warnings": warnings, "auth": auth}


class VaultError(Exception):
    def __init__(self, status, errors, headers=()):
        super().__init__(status)
        self.status, self.errors, self.headers = status, errors, list(headers)


class Handler(tlsserver.BaseHandler):
    server_version = "dbroker-vault-double"

    def send_vault(self, status, obj, headers=()):
        if obj is None:
            self.send_response(status)
            self.send_header("Cache-Control", "no-store")
            self.send_header("Content-Length", "0")
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            return
        self.send_json(status, obj, [("Cache-Control", "no-store")] + list(headers))

    def do_GET(self):
        self.dispatch()

    def do_POST(self):
        self.dispatch()

    def do_PUT(self):
        self.dispatch()

    def do_DELETE(self):
        self.dispatch()

    def do_LIST(self):
        self.dispatch()

    def dispatch(self):
        body = self.read_body()
        url = urllib.parse.urlsplit(self.path)
        st = self.server.state
        if url.path.startswith("/__admin/"):
            return self.admin(url, body)
        rec = {"method": self.command, "path": url.path, "conn": self.conn_id,
               "query": {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()},
               "headers": [[k, v] for k, v in self.headers.items()],
               "body": body.decode("utf-8", "replace"), "status": None}
        with st.lock:
            st.seq += 1
            rec["seq"] = st.seq
            st.requests.append(rec)
        status, obj, headers = 500, {"errors": ["internal error"]}, []
        try:
            fault = self.take_fault(url.path)
            if fault and fault.get("kind") == "huge":
                rec["status"] = int(fault.get("status", 200))
                return self.send_padding(rec["status"], int(fault.get("bytes", HUGE_BYTES)),
                                         bool(fault.get("chunked")),
                                         [("Cache-Control", "no-store")])
            if fault:
                self.apply_fault(fault)
            status, obj, headers = self.route(url, body)
        except VaultError as e:
            status, obj, headers = e.status, {"errors": e.errors}, e.headers
        rec["status"] = status
        self.send_vault(status, obj, headers)

    def take_fault(self, path):
        st = self.server.state
        with st.lock:
            for f in st.faults:
                if path.endswith(f.get("path", "")) and f.get("count", 1) != 0:
                    if f.get("count", 1) > 0:
                        f["count"] = f.get("count", 1) - 1
                    return dict(f)
        return None

    def apply_fault(self, f):
        kind = str(f.get("kind"))
        if kind == "slow":
            time.sleep(float(f.get("seconds", 1)))
            return
        if kind == "sealed":
            raise VaultError(503, ["Vault is sealed"])
        hdrs = []
        if f.get("retry_after") is not None:
            hdrs.append(("Retry-After", str(f["retry_after"])))
        msgs = {"429": "request path \"...\": rate limit quota exceeded",
                "412": "required index state not present",
                "500": "internal error", "501": "unsupported operation",
                "502": "bad gateway"}
        if kind in msgs:
            raise VaultError(int(kind), [f.get("message", msgs[kind])], hdrs)
        raise VaultError(500, [f"unknown fault kind {kind}"])

    # --- the API ------------------------------------------------------------

    def route(self, url, body):
        st = self.server.state
        if not url.path.startswith("/v1/"):
            raise VaultError(404, [])
        ns = (self.headers.get("X-Vault-Namespace") or "").strip("/")
        api = url.path[len("/v1/"):]
        full = (ns + "/" + api) if ns else api
        q = urllib.parse.parse_qs(url.query)

        if api == "auth/approle/login" and self.command in ("POST", "PUT"):
            return self.approle_login(ns, body)
        with st.lock:
            tok = st.token_ok(self.headers.get("X-Vault-Token"))
            if tok is None:
                if self.headers.get("X-Vault-Token"):
                    raise VaultError(403, [INVALID_TOKEN])
                raise VaultError(403, ["permission denied"])
            info = st.tokens[tok]
            if api == "auth/token/lookup-self":
                return 200, envelope(self.lookup_data(tok, info, ns)), []
            if api == "auth/token/revoke-self" and self.command in ("POST", "PUT"):
                st.revoked.append(info["accessor"])
                del st.tokens[tok]
                return 204, None, []
            if api.startswith("sys/internal/ui/mounts/"):
                return self.preflight(tok, ns, api[len("sys/internal/ui/mounts/"):])
            if self.command != "GET":
                raise VaultError(405, ["unsupported operation"])
            mount, rest = st.mount_of(full)
            if mount is None:
                raise VaultError(403, [DENIED])
            if not st.allowed(tok, full):
                raise VaultError(403, [DENIED])
            if st.version_of(mount) == 1:
                data = st.v1.get(mount + rest)
                if data is None:
                    raise VaultError(404, [])
                ttl = data.get("ttl")
                lease = V1_TTL
                if ttl is not None:
                    try:
                        lease = int(str(ttl).rstrip("s"))
                    except ValueError:
                        lease = V1_TTL
                return 200, envelope(dict(data), lease_duration=lease), []
            if not rest.startswith("data/"):
                return 404, envelope(None, warnings=[V2_WARNING]), []
            key = mount + rest[len("data/"):]
            vers = st.v2.get(key)
            want = int((q.get("version") or ["0"])[0] or 0)
            if not vers or want > len(vers) or want < 0:
                raise VaultError(404, [])
            n = want or len(vers)
            v = vers[n - 1]
            meta = {"created_time": v["created_time"], "custom_metadata": None,
                    "deletion_time": v["deletion_time"], "destroyed": v["destroyed"],
                    "version": n}
            if v["destroyed"] or v["deletion_time"]:
                return 404, envelope({"data": None, "metadata": meta}), []
            return 200, envelope({"data": dict(v["data"]), "metadata": meta}), []

    def lookup_data(self, tok, info, ns):
        return {"accessor": info["accessor"], "creation_time": info["created"],
                "creation_ttl": info["ttl"], "display_name": "token",
                "entity_id": "", "expire_time": None, "explicit_max_ttl": 0,
                "id": tok, "issue_time": now_rfc3339(), "meta": None,
                "num_uses": 0, "orphan": info["orphan"], "path": "auth/token/create",
                "policies": info["policies"], "renewable": False,
                "ttl": info["ttl"], "type": "service",
                **({"namespace_path": ns + "/"} if ns else {})}

    def preflight(self, tok, ns, path):
        st = self.server.state
        if st.old_server:
            raise VaultError(404, [])
        full = (ns + "/" + path) if ns else path
        mount, _ = st.mount_of(full.rstrip("/"))
        allow = st.tokens[tok]["allow"]
        if mount is None:
            raise VaultError(403, ["permission denied"])
        if allow is not None and not any(a.startswith(mount) or mount.startswith(a.rstrip("*"))
                                         for a in allow):
            raise VaultError(403, ["permission denied"])
        opts = {"version": str(st.version_of(mount))} if st.version_of(mount) == 2 else None
        rel = mount[len(ns) + 1:] if ns else mount
        data = {"accessor": "kv_" + format(abs(hash(mount)) % 0xffffffff, "08x"),
                "config": {"default_lease_ttl": 0, "force_no_cache": False,
                           "max_lease_ttl": 0},
                "description": "key/value secret storage",
                "external_entropy_access": False, "local": False,
                "options": opts, "path": rel, "plugin_version": "",
                "running_plugin_sha256": "", "running_plugin_version": "v0.16.1+builtin",
                "seal_wrap": False, "type": "kv", "uuid": str(uuid.uuid4())}
        return 200, envelope(data), []

    def approle_login(self, ns, body):
        st = self.server.state
        try:
            req = json.loads(body.decode() or "{}")
        except ValueError:
            raise VaultError(400, ["error parsing JSON"]) from None
        rid, sid = req.get("role_id"), req.get("secret_id")
        with st.lock:
            role = st.approles.get(rid) if isinstance(rid, str) else None
            if (role is None or not isinstance(sid, str) or
                    not hmac.compare_digest(role["secret_id"].encode(), sid.encode())):
                raise VaultError(400, ["invalid role or secret ID"])
            tok = "hvs." + secrets.token_urlsafe(32)
            info = st.new_token_info(role, orphan=True)
            st.tokens[tok] = info
        pol = info["policies"]
        auth = {"client_token": tok, "accessor": info["accessor"], "policies": pol,
                "token_policies": pol, "metadata": {"role_name": role.get("name", "app")},
                "lease_duration": info["ttl"], "renewable": True, "entity_id": str(uuid.uuid4()),
                "token_type": "service", "orphan": True, "mfa_requirement": None,
                "num_uses": 0}
        return 200, envelope(None, auth=auth), []

    # --- admin ----------------------------------------------------------------

    def admin(self, url, body):
        key = self.server.admin_key
        if key and not hmac.compare_digest((self.headers.get("X-Admin-Key") or "").encode(),
                                           key.encode()):
            return self.send_json(403, {"errors": ["admin key required"]})
        st = self.server.state
        what = url.path[len("/__admin/"):]
        q = urllib.parse.parse_qs(url.query)
        try:
            obj = json.loads(body.decode() or "null")
        except ValueError:
            return self.send_json(400, {"errors": ["bad json"]})
        with st.lock:
            if what == "health":
                return self.send_json(200, {"ok": True})
            if what == "requests":
                if self.command == "DELETE":
                    st.requests.clear()
                    return self.send_json(200, {})
                suffix = (q.get("path") or [None])[0]
                reqs = [r for r in st.requests if suffix is None or r["path"].endswith(suffix)]
                return self.send_json(200, {"requests": reqs})
            if what == "faults":
                if self.command == "DELETE":
                    st.faults.clear()
                elif self.command == "POST":
                    st.faults.extend(obj if isinstance(obj, list) else [obj])
                return self.send_json(200, {"faults": st.faults})
            if what == "put":
                try:
                    n = st.put(obj["path"], obj["data"])
                except (KeyError, ValueError) as e:
                    return self.send_json(400, {"errors": [str(e)]})
                return self.send_json(200, {"version": n})
            if what in ("delete", "destroy"):
                vers = st.v2.get(obj["path"])
                if not vers:
                    return self.send_json(404, {"errors": ["no such secret"]})
                for n in obj["versions"]:
                    if what == "delete":
                        vers[n - 1]["deletion_time"] = now_rfc3339()
                    else:
                        vers[n - 1]["destroyed"] = True
                        vers[n - 1]["data"] = None
                return self.send_json(200, {})
            if what == "tokens":
                for tok, spec in obj.items():
                    st.tokens[tok] = st.new_token_info(spec, orphan=False)
                return self.send_json(200, {})
            if what == "config":
                if "old_server" in obj:
                    st.old_server = bool(obj["old_server"])
                return self.send_json(200, {"old_server": st.old_server})
            if what == "revoked":
                return self.send_json(200, {"revoked": list(st.revoked)})
            if what == "reset":
                faults_reqs = st.seq
                st.load(st.initial)
                st.faults, st.requests, st.seq = [], [], faults_reqs
                return self.send_json(200, {})
        return self.send_json(404, {"errors": ["unknown admin call"]})


class VaultServer(tlsserver.TLSServer):
    def __init__(self, addr, handler, ctx, state, admin_key):
        super().__init__(addr, handler, ctx, None)
        self.state, self.admin_key = state, admin_key


# --- test helper ------------------------------------------------------------------

class VaultProcess(WorkspaceProcess):
    """A running double (see start_vault); raw_request/admin/stop come from
    the workspace helper."""

    client_cert = None  # (pem, key) for the admin calls under mutual TLS

    def ssl_context(self):
        ctx = super().ssl_context()
        if self.client_cert:
            ctx.load_cert_chain(*self.client_cert)
        return ctx

    def vcall(self, method, path, token=None, body=None, namespace=None):
        hdrs = [("X-Vault-Request", "true")]
        if token:
            hdrs.append(("X-Vault-Token", token))
        if namespace:
            hdrs.append(("X-Vault-Namespace", namespace))
        return self.raw_request(method, "/v1/" + path.lstrip("/"), body, hdrs)

    def requests(self, path=None, since=None):
        q = "?" + urllib.parse.urlencode({"path": path}) if path else ""
        return self.admin("GET", "requests" + q)["requests"]

    def put(self, path, data):
        return self.admin("POST", "put", {"path": path, "data": data})["version"]

    def delete_versions(self, path, versions):
        self.admin("POST", "delete", {"path": path, "versions": list(versions)})

    def destroy_versions(self, path, versions):
        self.admin("POST", "destroy", {"path": path, "versions": list(versions)})

    def set_tokens(self, tokens):
        self.admin("POST", "tokens", tokens)

    def revoked(self):
        return self.admin("GET", "revoked")["revoked"]

    def configure(self, **conf):
        return self.admin("POST", "config", conf)


def start_vault(tmpdir, tokens=None, secrets_=None, mounts=None, approles=None,
                old_server=False, admin_key=True, tls_dir=None, client_ca=None,
                python=None, timeout=10):
    """Start the double as a subprocess and wait for its port. The state
    (tokens, secrets, mounts, approles; see the module docstring) goes into a
    0600 file, never argv. client_ca: require a client certificate signed by
    it (mutual TLS). Returns a VaultProcess."""
    d = os.path.join(tmpdir, f"vault-{secrets.token_hex(4)}")
    os.makedirs(d, mode=0o700)
    tls_dir = tls_dir or os.path.join(tmpdir, "tls")
    if not _tls_fresh(tls_dir):
        import subprocess
        subprocess.run(["/bin/sh", os.path.join(HERE, "mkca.sh"), tls_dir], check=True)
    state = {"tokens": tokens or {}, "secrets": secrets_ or {}, "approles": approles or {},
             "old_server": old_server}
    if mounts is not None:
        state["mounts"] = mounts
    state_file = os.path.join(d, "state.json")
    write_private(state_file, json.dumps(state))
    cmd = [python or sys.executable, os.path.join(HERE, "vault.py"), "--port", "0",
           "--port-file", os.path.join(d, "port"), "--state-file", state_file,
           "--cert", os.path.join(tls_dir, "server.pem"),
           "--key", os.path.join(tls_dir, "server.key")]
    if client_ca:
        cmd += ["--client-ca", client_ca]
    admin_key, args = admin_key_args(d, admin_key)
    cmd += args
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    proc, port, stderr_path = spawn_double(cmd, env, d, "vault double", timeout)
    vp = VaultProcess(proc, port, d, tls_dir, admin_key or None, False, stderr_path)
    if client_ca:
        vp.client_cert = (os.path.join(tls_dir, "client.pem"), os.path.join(tls_dir, "client.key"))
    return vp


def main(argv=None):
    p = tlsserver.parser("HashiCorp Vault double (KV v1/v2, tokens, AppRole)")
    p.add_argument("--state-file")
    p.add_argument("--admin-key-file")
    args = p.parse_args(argv)
    if args.log:
        sys.exit("vault: --log is not supported (requests hold tokens; "
                 "read them from GET /__admin/requests)")
    state = {}
    if args.state_file:
        with open(args.state_file, encoding="utf-8") as f:
            state = json.load(f)
    admin_key = None
    if args.admin_key_file:
        with open(args.admin_key_file, encoding="utf-8") as f:
            admin_key = f.readline().strip()
        if not admin_key:
            sys.exit("vault: the admin key file is empty")
    tlsserver._loopback_only(args.bind)
    if args.plain:
        sys.exit("vault: --plain is not supported")
    if not args.cert or not args.key:
        sys.exit("vault: --cert and --key are required")
    server = VaultServer((args.bind, args.port), Handler, tlsserver.tls_context(args),
                         State(state), admin_key)
    tlsserver.serve(server, args.port_file)
    return 0


if __name__ == "__main__":
    sys.exit(main())
