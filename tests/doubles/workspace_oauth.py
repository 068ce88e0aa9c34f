"""OAuth machine-to-machine (service principals) for the workspace double.

Hooked into workspace.py; no bearer token is needed for these endpoints:

  GET  /oidc/.well-known/oauth-authorization-server
       {"issuer": "<base>/oidc", "token_endpoint": "<base>/oidc/v1/token",
        "grant_types_supported": ["client_credentials", ...], ...}
       where <base> is the scheme and Host header the request came with.
  POST /oidc/v1/token
       form body grant_type=client_credentials&scope=all-apis, the client id
       and secret in HTTP Basic auth (client_secret_basic) or in the form
       (client_secret_post) -> 200 {"access_token", "token_type": "Bearer",
       "expires_in": <lifetime>, "scope": "all-apis"}.
       Unknown client or wrong secret: 401 {"error": "invalid_client",
       "error_description": "Client authentication failed"}; another grant
       type: 400 unsupported_grant_type; another scope: 400 invalid_scope;
       a body that is not a form: 400 invalid_request.

Minted access tokens are accepted as bearer tokens by every /api/ call until
they expire; an expired one is refused with 401 UNAUTHENTICATED ("Token
expired"), like the real service. Secrets and minted tokens are masked in
the double's own diagnostics.

Admin (X-Admin-Key, like the rest of /__admin/):
  POST /__admin/oauth {"clients": [{"client_id", "client_secret", "user"}],
                       "lifetime": seconds (default 3600),
                       "discovery": mode, "token": mode, "count": N,
                       "delay": seconds (of the "slow" mode)}
       clients replaces the registered clients (user: who SCIM Me says the
       service principal is, default the client id).
       discovery modes: "normal", "404", "html", "no_endpoint",
         "elsewhere" (token_endpoint on another host), "http" (plain
         http:// on this host), "huge" (17 MiB of JSON padding), or
         {"token_endpoint": "<url>"}.
       token modes: "normal", "no_access_token", "zero_expiry",
         "negative_expiry", "html", "500" (a 500 error JSON), "slow" (the
         normal answer after "delay" seconds, default 5: a hung endpoint),
         "huge" (17 MiB of JSON padding).
       count: how many requests the non-normal modes apply to (default: all).
       "expire": true expires every access token minted so far (the next
         API call with one gets 401, as after a real expiry);
       "born_expired": true makes new tokens expire at once (every API call
         with them gets 401: a client must give up after one refresh).
  GET  /__admin/oauth  {"clients": [ids], "lifetime", "discovery", "token", "delay",
                        "access_tokens": [every token minted, for leak audits],
                        "minted": [{"client_id", "expires_in", "time"}],
                        "discovery_requests": N, "token_requests": N}
  POST /__admin/reset  also resets this module to its defaults.
"""
import base64
import hmac
import secrets
import threading
import time
import urllib.parse

DISCOVERY_PATH = "/oidc/.well-known/oauth-authorization-server"
TOKEN_PATH = "/oidc/v1/token"
DEFAULT_LIFETIME = 3600
DISCOVERY_MODES = ("normal", "404", "html", "no_endpoint", "elsewhere", "http", "huge")
TOKEN_MODES = ("normal", "no_access_token", "zero_expiry", "negative_expiry", "html", "500",
               "slow", "huge")
HUGE_BYTES = 17 * 1024 * 1024  # one MiB over a client's cap on an answer
DEFAULT_DELAY = 5
HTML = b"<!doctype html><html><head><title>Sign in</title></head><body>Sign in</body></html>\n"


class ConfigError(ValueError):
    pass


class OAuth:
    """Registered clients, minted access tokens and the fault modes."""

    def __init__(self, tokens):
        self.lock = threading.Lock()
        self.tokens = tokens  # workspace.Tokens: its masker learns our secrets
        self.reset()

    def reset(self):
        with self.lock:
            self.clients = {}        # id -> (secret, user)
            self.minted = {}         # access token -> (user, expiry)
            self.log = []            # [{"client_id", "expires_in", "time"}]
            self.lifetime = DEFAULT_LIFETIME
            self.discovery = "normal"
            self.token = "normal"
            self.count = None
            self.delay = DEFAULT_DELAY
            self.born_expired = False
            self.discovery_requests = 0
            self.token_requests = 0

    def _learn(self, *values):
        with self.tokens.lock:
            self.tokens.seen |= set(values)

    def configure(self, conf):
        if not isinstance(conf, dict):
            raise ConfigError("oauth: an object is required")
        clients = conf.get("clients")
        if clients is not None:
            if not isinstance(clients, list):
                raise ConfigError("oauth: clients must be a list")
            new = {}
            for c in clients:
                if not isinstance(c, dict) or not isinstance(c.get("client_id"), str) \
                        or not isinstance(c.get("client_secret"), str):
                    raise ConfigError("oauth: each client needs client_id and client_secret")
                new[c["client_id"]] = (c["client_secret"], c.get("user") or c["client_id"])
            self._learn(*[s for s, _ in new.values()])
        lifetime = conf.get("lifetime", None)
        if lifetime is not None and (not isinstance(lifetime, (int, float)) or lifetime <= 0):
            raise ConfigError("oauth: lifetime must be a positive number of seconds")
        disc = conf.get("discovery")
        if disc is not None and disc not in DISCOVERY_MODES and not (
                isinstance(disc, dict) and isinstance(disc.get("token_endpoint"), str)):
            raise ConfigError(f"oauth: discovery must be one of {DISCOVERY_MODES} or "
                              "{\"token_endpoint\": url}")
        tok = conf.get("token")
        if tok is not None and tok not in TOKEN_MODES:
            raise ConfigError(f"oauth: token must be one of {TOKEN_MODES}")
        delay = conf.get("delay")
        if delay is not None and (not isinstance(delay, (int, float)) or delay < 0):
            raise ConfigError("oauth: delay must be a number of seconds")
        count = conf.get("count")
        if count is not None and (not isinstance(count, int) or count < 1):
            raise ConfigError("oauth: count must be a positive integer")
        for flag in ("expire", "born_expired"):
            if flag in conf and not isinstance(conf[flag], bool):
                raise ConfigError(f"oauth: {flag} must be true or false")
        with self.lock:
            if conf.get("expire"):
                self.minted = {t: (u, 0) for t, (u, _) in self.minted.items()}
            if "born_expired" in conf:
                self.born_expired = conf["born_expired"]
            if clients is not None:
                self.clients = new
            if lifetime is not None:
                self.lifetime = lifetime
            if disc is not None:
                self.discovery = disc
            if tok is not None:
                self.token = tok
            if delay is not None:
                self.delay = delay
            if "count" in conf:
                self.count = count

    def view(self):
        with self.lock:
            return {"clients": sorted(self.clients), "lifetime": self.lifetime,
                    "access_tokens": sorted(self.minted),
                    "discovery": self.discovery, "token": self.token, "delay": self.delay,
                    "minted": list(self.log), "discovery_requests": self.discovery_requests,
                    "token_requests": self.token_requests}

    def _mode(self, which):
        """The mode for this request; a counted fault wears off."""
        with self.lock:
            mode = getattr(self, which)
            if mode != "normal" and self.count is not None:
                self.count -= 1
                if self.count <= 0:
                    self.count = None
                    self.discovery = self.token = "normal"
            return mode

    def user(self, token):
        """The user of a minted access token, None if it is not one; raises
        (401, message) for an expired one."""
        with self.lock:
            found = None
            for t, (u, exp) in self.minted.items():
                if hmac.compare_digest(t.encode(), token.encode()):
                    found = (u, exp)
        if found is None:
            return None
        if time.time() >= found[1]:
            raise PermissionError("Token expired")
        return found[0]

    def check_client(self, cid, secret):
        with self.lock:
            known = self.clients.get(cid)
        if known is None:
            # same work either way: no timing hint whether the id exists
            hmac.compare_digest(secret.encode(), secret.encode())
            return None
        return known[1] if hmac.compare_digest(known[0].encode(), secret.encode()) else None

    def mint(self, cid, user, lifetime):
        # shaped like the service's: a JWT (header.payload.signature)
        tok = ".".join(base64.urlsafe_b64encode(part).decode().rstrip("=") for part in (
            b'{"kid":"double","typ":"at+jwt","alg":"RS256"}',
            f'{{"client_id":"{cid}","scope":"all-apis","jti":"{secrets.token_hex(8)}"}}'
            .encode(), secrets.token_bytes(32)))
        with self.lock:
            self.minted[tok] = (user, 0 if self.born_expired else time.time() + lifetime)
            self.log.append({"client_id": cid, "expires_in": lifetime, "time": time.time()})
        self._learn(tok)
        return tok


# --- the endpoints ---------------------------------------------------------------

def _base(handler):
    scheme = "https" if handler.server.tls_context is not None else "http"
    return f"{scheme}://{handler.headers.get('Host', '127.0.0.1')}"


def _discovery(handler, oauth):
    with oauth.lock:
        oauth.discovery_requests += 1
    mode = oauth._mode("discovery")
    base = _base(handler)
    if mode == "404":
        handler.error(404, "ENDPOINT_NOT_FOUND", "No API found for 'GET "
                      f"{DISCOVERY_PATH}'")
        return
    if mode == "html":
        handler.answer(200, raw=HTML, ctype="text/html; charset=utf-8", databricks=False)
        return
    if mode == "huge":
        handler.send_padding(200, HUGE_BYTES)
        return
    doc = {"issuer": base + "/oidc",
           "authorization_endpoint": base + "/oidc/v1/authorize",
           "token_endpoint": base + TOKEN_PATH,
           "jwks_uri": base + "/oidc/jwks.json",
           "grant_types_supported": ["client_credentials", "authorization_code",
                                     "refresh_token"],
           "token_endpoint_auth_methods_supported": ["client_secret_basic",
                                                     "client_secret_post"],
           "scopes_supported": ["all-apis", "offline_access"]}
    if mode == "no_endpoint":
        del doc["token_endpoint"]
    elif mode == "elsewhere":
        doc["token_endpoint"] = "https://login.evil.example.com" + TOKEN_PATH
    elif mode == "http":
        doc["token_endpoint"] = base.replace("https://", "http://", 1) + TOKEN_PATH
    elif isinstance(mode, dict):
        doc["token_endpoint"] = mode["token_endpoint"]
    handler.answer(200, doc, databricks=False)


def _oauth_error(handler, status, code, desc):
    handler.answer(status, {"error": code, "error_description": desc}, databricks=False)


def _client_from(handler, form):
    """(client id, secret) from Basic auth, else from the form; None if none."""
    values = handler.headers.get_all("Authorization") or []
    if len(values) == 1:
        scheme, _, cred = values[0].partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            raw = base64.b64decode(cred.strip(), validate=True).decode("utf-8")
        except ValueError:
            return None
        cid, sep, secret = raw.partition(":")
        if not sep:
            return None
        return urllib.parse.unquote_plus(cid), urllib.parse.unquote_plus(secret)
    if values:
        return None
    cid, secret = form.get("client_id"), form.get("client_secret")
    return (cid, secret) if cid and secret else None


def _token(handler, oauth, body):
    with oauth.lock:
        oauth.token_requests += 1
    if handler.command != "POST":
        _oauth_error(handler, 405, "invalid_request", "POST is required")
        return
    ctype = (handler.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    try:
        text = body.decode("ascii")
        pairs = urllib.parse.parse_qsl(text, keep_blank_values=True, strict_parsing=True)
    except (UnicodeDecodeError, ValueError):
        pairs = None
    if ctype != "application/x-www-form-urlencoded" or pairs is None:
        _oauth_error(handler, 400, "invalid_request", "The request body must be a form")
        return
    form = dict(pairs)
    client = _client_from(handler, form)
    user = oauth.check_client(*client) if client else None
    if user is None:
        _oauth_error(handler, 401, "invalid_client", "Client authentication failed")
        return
    if form.get("grant_type") != "client_credentials":
        _oauth_error(handler, 400, "unsupported_grant_type",
                     f"grant_type '{form.get('grant_type')}' is not supported")
        return
    if form.get("scope", "all-apis") != "all-apis":
        _oauth_error(handler, 400, "invalid_scope", "The requested scope is invalid")
        return
    mode = oauth._mode("token")
    if mode == "html":
        handler.answer(200, raw=HTML, ctype="text/html; charset=utf-8", databricks=False)
        return
    if mode == "500":
        _oauth_error(handler, 500, "server_error", "Temporarily unavailable")
        return
    if mode == "huge":
        handler.send_padding(200, HUGE_BYTES)
        return
    if mode == "slow":
        with oauth.lock:
            delay = oauth.delay
        time.sleep(delay)
    with oauth.lock:
        lifetime = oauth.lifetime
    tok = oauth.mint(client[0], user, lifetime)
    answer = {"access_token": tok, "token_type": "Bearer", "scope": "all-apis",
              "expires_in": int(lifetime) if float(lifetime).is_integer() else lifetime}
    if mode == "no_access_token":
        del answer["access_token"]
    elif mode == "zero_expiry":
        answer["expires_in"] = 0
    elif mode == "negative_expiry":
        answer["expires_in"] = -60
    handler.answer(200, answer, databricks=False)


def handle(handler, url, body):
    """Answer an /oidc/ request; False when the path is not one of ours."""
    oauth = handler.server.oauth
    if url.path == DISCOVERY_PATH and handler.command in ("GET", "HEAD"):
        _discovery(handler, oauth)
        return True
    if url.path == TOKEN_PATH:
        _token(handler, oauth, body)
        return True
    return False


def admin(oauth, method, name, body_json):
    """(status, object) for /__admin/oauth, else None."""
    if name != "oauth" or method not in ("GET", "POST"):
        return None
    if method == "POST":
        try:
            oauth.configure(body_json())
        except ConfigError as e:
            return 400, {"error_code": "INVALID_PARAMETER_VALUE", "message": str(e)}
    return 200, oauth.view()
