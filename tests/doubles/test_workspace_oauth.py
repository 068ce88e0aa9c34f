#!/usr/bin/python3
"""Self-test of the OAuth M2M endpoints of the workspace double
(workspace_oauth.py, served by workspace.py): discovery, the token endpoint
with Basic and form client authentication, invalid_client, grant and scope
checks, minted tokens on the API and their expiry, the fault modes, reset.
Run: /usr/bin/python3 test_workspace_oauth.py
"""

import base64
import os
import secrets
import shutil
import sys
import tempfile
import time
import unittest
import urllib.parse

sys.dont_write_bytecode = True  # keep the source tree clean
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import workspace  # noqa: E402
import workspace_oauth  # noqa: E402

TOKEN = "dapi" + secrets.token_hex(16)
CID = "3f0c1a2b-" + secrets.token_hex(4) + "-4000-8000-00000000c11d"
SECRET = "dose" + secrets.token_hex(16)
SP_USER = "sp-automation"
FORM = "application/x-www-form-urlencoded"
ME = "/api/2.0/preview/scim/v2/Me"
TMP = WS = None


def setUpModule():
    global TMP, WS
    TMP = tempfile.mkdtemp(prefix="dbr-ws-oauth-")
    WS = workspace.start_workspace(TMP, [TOKEN])


def tearDownModule():
    if WS:
        WS.stop()
    shutil.rmtree(TMP, ignore_errors=True)


def basic(cid, secret):
    return "Basic " + base64.b64encode(f"{cid}:{secret}".encode()).decode()


class OAuthDoubleTest(unittest.TestCase):
    def setUp(self):
        WS.reset()
        WS.admin("POST", "oauth", {"clients": [{"client_id": CID, "client_secret": SECRET,
                                                "user": SP_USER}]})

    def token(self, cid=CID, secret=SECRET, body="grant_type=client_credentials&scope=all-apis",
              ctype=FORM, auth=True):
        hdrs = [("Content-Type", ctype)] + ([("Authorization", basic(cid, secret))]
                                           if auth else [])
        return WS.raw_request("POST", "/oidc/v1/token", body, hdrs)

    def test_discovery(self):
        r = WS.raw_request("GET", "/oidc/.well-known/oauth-authorization-server")
        self.assertEqual(r.status, 200)
        base = f"https://127.0.0.1:{WS.port}"
        self.assertEqual(r.json["token_endpoint"], base + "/oidc/v1/token")
        self.assertEqual(r.json["issuer"], base + "/oidc")
        self.assertIn("client_credentials", r.json["grant_types_supported"])

    def test_token_basic_and_api(self):
        r = self.token()
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json["token_type"], "Bearer")
        self.assertEqual(r.json["expires_in"], 3600)
        self.assertEqual(r.json["access_token"].count("."), 2)  # JWT-shaped
        me = WS.call("GET", ME, token=r.json["access_token"])
        self.assertEqual(me.status, 200)
        self.assertEqual(me.json["userName"], SP_USER)
        view = WS.admin("GET", "oauth")
        self.assertEqual(view["token_requests"], 1)
        self.assertEqual([m["client_id"] for m in view["minted"]], [CID])
        self.assertNotIn(SECRET, str(view))

    def test_token_form_post(self):
        body = urllib.parse.urlencode({"grant_type": "client_credentials", "scope": "all-apis",
                                       "client_id": CID, "client_secret": SECRET})
        self.assertEqual(self.token(body=body, auth=False).status, 200)

    def test_invalid_client(self):
        for cid, secret in ((CID, "wrong" + SECRET), ("someone-else", SECRET), (CID, "")):
            r = self.token(cid, secret)
            self.assertEqual(r.status, 401)
            self.assertEqual(r.json["error"], "invalid_client")
        r = self.token(auth=False)
        self.assertEqual((r.status, r.json["error"]), (401, "invalid_client"))
        r = WS.raw_request("POST", "/oidc/v1/token", "grant_type=client_credentials",
                           [("Content-Type", FORM), ("Authorization", "Bearer " + TOKEN)])
        self.assertEqual(r.status, 401)

    def test_grant_scope_and_body(self):
        r = self.token(body="grant_type=password&scope=all-apis")
        self.assertEqual((r.status, r.json["error"]), (400, "unsupported_grant_type"))
        r = self.token(body="grant_type=client_credentials&scope=sql")
        self.assertEqual((r.status, r.json["error"]), (400, "invalid_scope"))
        r = self.token(body='{"grant_type": "client_credentials"}', ctype="application/json")
        self.assertEqual((r.status, r.json["error"]), (400, "invalid_request"))

    def test_expiry(self):
        WS.admin("POST", "oauth", {"lifetime": 1})
        r = self.token()
        self.assertEqual(r.json["expires_in"], 1)
        tok = r.json["access_token"]
        self.assertEqual(WS.call("GET", ME, token=tok).status, 200)
        time.sleep(1.2)
        me = WS.call("GET", ME, token=tok)
        self.assertEqual(me.status, 401)
        self.assertEqual(me.json["error_code"], "UNAUTHENTICATED")
        self.assertIn("expired", me.json["message"])

    def test_expire_and_born_expired(self):
        tok = self.token().json["access_token"]
        self.assertIn(tok, WS.admin("GET", "oauth")["access_tokens"])
        self.assertEqual(WS.call("GET", ME, token=tok).status, 200)
        WS.admin("POST", "oauth", {"expire": True})
        self.assertEqual(WS.call("GET", ME, token=tok).status, 401)
        self.assertEqual(WS.call("GET", ME, token=self.token().json["access_token"]).status,
                         200)
        WS.admin("POST", "oauth", {"born_expired": True})
        self.assertEqual(WS.call("GET", ME, token=self.token().json["access_token"]).status,
                         401)

    def test_discovery_modes(self):
        url = "/oidc/.well-known/oauth-authorization-server"
        WS.admin("POST", "oauth", {"discovery": "404"})
        self.assertEqual(WS.raw_request("GET", url).status, 404)
        WS.admin("POST", "oauth", {"discovery": "html"})
        r = WS.raw_request("GET", url)
        self.assertTrue(r.headers["Content-Type"].startswith("text/html"))
        WS.admin("POST", "oauth", {"discovery": "elsewhere"})
        self.assertIn("evil.example.com", WS.raw_request("GET", url).json["token_endpoint"])
        WS.admin("POST", "oauth", {"discovery": "http"})
        self.assertTrue(WS.raw_request("GET", url).json["token_endpoint"].startswith("http://"))
        WS.admin("POST", "oauth", {"discovery": "no_endpoint"})
        self.assertNotIn("token_endpoint", WS.raw_request("GET", url).json)
        WS.admin("POST", "oauth", {"discovery": {"token_endpoint": "https://x.example/t"}})
        self.assertEqual(WS.raw_request("GET", url).json["token_endpoint"], "https://x.example/t")
        WS.admin("POST", "oauth", {"discovery": "huge"})
        r = WS.raw_request("GET", url)
        self.assertEqual((r.status, len(r.body)), (200, workspace_oauth.HUGE_BYTES))

    def test_token_modes(self):
        WS.admin("POST", "oauth", {"token": "no_access_token"})
        self.assertNotIn("access_token", self.token().json)
        WS.admin("POST", "oauth", {"token": "zero_expiry"})
        self.assertEqual(self.token().json["expires_in"], 0)
        WS.admin("POST", "oauth", {"token": "negative_expiry"})
        self.assertLess(self.token().json["expires_in"], 0)
        WS.admin("POST", "oauth", {"token": "html"})
        self.assertTrue(self.token().headers["Content-Type"].startswith("text/html"))
        WS.admin("POST", "oauth", {"token": "huge"})
        r = self.token()
        self.assertEqual((r.status, len(r.body)), (200, workspace_oauth.HUGE_BYTES))
        # slow: the normal answer, after the delay
        WS.admin("POST", "oauth", {"token": "slow", "delay": 0.5})
        t0 = time.monotonic()
        r = self.token()
        self.assertGreaterEqual(time.monotonic() - t0, 0.5)
        self.assertEqual((r.status, r.json["token_type"]), (200, "Bearer"))
        # a counted fault wears off
        WS.admin("POST", "oauth", {"token": "500", "count": 1})
        self.assertEqual(self.token().status, 500)
        self.assertEqual(self.token().status, 200)

    def test_bad_config_and_reset(self):
        for conf in ({"lifetime": 0}, {"token": "nope"}, {"discovery": "nope"},
                     {"clients": [{"client_id": "x"}]}, {"count": 0}, {"delay": -1},
                     {"delay": "5"}):
            with self.assertRaises(workspace.AdminError):
                WS.admin("POST", "oauth", conf)
        WS.reset()
        view = WS.admin("GET", "oauth")
        self.assertEqual((view["clients"], view["lifetime"], view["minted"], view["delay"]),
                         ([], 3600, [], 5))
        self.assertEqual(self.token().status, 401)


if __name__ == "__main__":
    unittest.main()
