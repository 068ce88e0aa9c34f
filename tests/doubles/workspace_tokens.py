"""Token API and /.well-known/databricks-config for the workspace double.

  POST /api/2.0/token/create {lifetime_seconds, comment}
       -> {"token_value": "dapi<32 hex>", "token_info": {token_id,
           creation_time, expiry_time, comment}}  (times in ms; no
           lifetime_seconds: expiry_time -1, a token that never expires)
  GET  /api/2.0/token/list -> {"token_infos": [...]}: the caller's tokens
       that are neither revoked nor expired, never their values
  POST /api/2.0/token/delete {token_id} -> {}; an unknown id, or another
       user's: 404 RESOURCE_DOES_NOT_EXIST
  GET  /.well-known/databricks-config: no bearer needed;
       {"workspace_id", "cloud", "host"} (what an SDK asks before anything)

A minted token authenticates like a configured one until it is revoked or
expires (then 403 "Invalid access token."); reset forgets them all. Every
minted value is added to the double's masked set, so diagnostics never show
one.
"""

import hmac
import secrets
import threading
import time

from workspace_state import ApiError, invalid

TOKEN_API = "/api/2.0/token/"
WELL_KNOWN = "/.well-known/databricks-config"
COMMENT_MAX = 1024


class MintedTokens:
    def __init__(self, tokens):
        self.tokens = tokens  # the double's Tokens: minted values get masked too
        self.lock = threading.Lock()
        self.by_id = {}

    def reset(self):
        with self.lock:
            self.by_id = {}

    def user(self, token):
        """The owner of a live minted token, else None (constant time per token)."""
        now = time.time() * 1000
        found = None
        with self.lock:
            for t in self.by_id.values():
                if hmac.compare_digest(t["value"].encode(), token.encode()) and \
                        (t["expiry_time"] < 0 or t["expiry_time"] > now):
                    found = t["user"]
        return found

    def create(self, body, user):
        life = body.get("lifetime_seconds")
        comment = body.get("comment", "")
        if life is not None and (not isinstance(life, int) or isinstance(life, bool)
                                 or life <= 0):
            raise invalid("lifetime_seconds must be a positive integer")
        if not isinstance(comment, str) or len(comment) > COMMENT_MAX:
            raise invalid("comment must be a string of at most %d characters" % COMMENT_MAX)
        now = int(time.time() * 1000)
        value = "dapi" + secrets.token_hex(16)
        info = {"token_id": secrets.token_hex(32), "creation_time": now,
                "expiry_time": now + life * 1000 if life else -1, "comment": comment}
        with self.tokens.lock:
            self.tokens.seen.add(value)
        with self.lock:
            self.by_id[info["token_id"]] = dict(info, value=value, user=user)
        return {"token_value": value, "token_info": info}

    def list(self, user):
        now = time.time() * 1000
        with self.lock:
            infos = [{k: t[k] for k in ("token_id", "creation_time", "expiry_time",
                                        "comment")}
                     for t in self.by_id.values() if t["user"] == user and
                     (t["expiry_time"] < 0 or t["expiry_time"] > now)]
        return {"token_infos": infos}

    def delete(self, body, user):
        tid = body.get("token_id")
        if not isinstance(tid, str) or not tid:
            raise invalid("token_id is required")
        with self.lock:
            t = self.by_id.get(tid)
            if t is None or t["user"] != user:
                raise ApiError(404, "RESOURCE_DOES_NOT_EXIST",
                               f"Token with id {tid} does not exist.")
            del self.by_id[tid]
        return {}


def dispatch(minted, method, path, body, user):
    """(status, object) for a Token API call, None for any other path."""
    if not path.startswith(TOKEN_API):
        return None
    op = (method, path[len(TOKEN_API):])
    if op == ("POST", "create"):
        return 200, minted.create(body, user)
    if op == ("GET", "list"):
        return 200, minted.list(user)
    if op == ("POST", "delete"):
        return 200, minted.delete(body, user)
    return None


def well_known(server):
    host = "https://%s:%d" % server.server_address[:2]
    return 200, {"workspace_id": server.org_id, "cloud": "aws", "host": host}
