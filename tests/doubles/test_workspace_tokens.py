#!/usr/bin/python3
"""Self-test of the workspace double's Token API and well-known endpoint
(workspace_tokens.py), on the same server and helpers as
test_workspace_double.py."""

import os
import sys
import time
import unittest

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_workspace_double as base  # noqa: E402
import workspace_client  # noqa: E402
from test_workspace_double import TOKEN, TOKEN2  # noqa: E402


def setUpModule():
    base.setUpModule()


def tearDownModule():
    base.tearDownModule()


class TokensTest(base.Base):
    def mint(self, token=TOKEN, **body):
        r = self.api("POST", "/api/2.0/token/create", body, token=token)
        self.assertEqual(r.status, 200, r.raw)
        return r.json

    def ids(self, token=TOKEN):
        r = self.api("GET", "/api/2.0/token/list", token=token)
        self.assertEqual(r.status, 200, r.raw)
        return [t["token_id"] for t in r.json["token_infos"]]

    def test_create_list_use_delete(self):
        before = int(time.time() * 1000)
        m = self.mint(lifetime_seconds=600, comment="made by a test")
        info = m["token_info"]
        self.assertRegex(m["token_value"], r"^dapi[0-9a-f]{32}$")
        self.assertRegex(info["token_id"], r"^[0-9a-f]{64}$")
        self.assertEqual(info["comment"], "made by a test")
        self.assertGreaterEqual(info["creation_time"], before)
        self.assertEqual(info["expiry_time"], info["creation_time"] + 600 * 1000)
        self.assertEqual(self.ids(), [info["token_id"]])
        r = self.api("GET", "/api/2.0/token/list")
        self.assertNotIn(m["token_value"], r.raw.decode())  # never the values
        # the new token works like any other, for the same user
        r = self.api("GET", "/api/2.0/preview/scim/v2/Me", token=m["token_value"])
        self.assertEqual(r.status, 200, r.raw)
        self.assertEqual(r.json["userName"], "user@example.com")
        r = self.api("POST", "/api/2.0/token/delete", {"token_id": info["token_id"]})
        self.assertEqual((r.status, r.json), (200, {}))
        self.assertEqual(self.ids(), [])
        r = self.api("GET", "/api/2.0/preview/scim/v2/Me", token=m["token_value"])
        self.assert_error(r, 403, "PERMISSION_DENIED", "Invalid access token")

    def test_pad_field_fault(self):
        # the token is made as usual; only the answer's value is padded
        self.srv.add_fault("pad_field", "token/create", field="token_value", bytes=9000)
        m = self.mint(lifetime_seconds=600)
        self.assertRegex(m["token_value"], r"^dapi[0-9a-f]{32}x{9000}$")
        self.assertEqual(self.ids(), [m["token_info"]["token_id"]])
        r = self.api("POST", "/api/2.0/token/delete",
                     {"token_id": m["token_info"]["token_id"]})
        self.assertEqual(r.status, 200, r.raw)
        for bad in ({"field": "", "bytes": 1}, {"field": "token_value", "bytes": 0}):
            with self.assertRaisesRegex(workspace_client.AdminError, "400.*pad_field needs"):
                self.srv.add_fault("pad_field", "token/create", **bad)

    def test_set_field_fault(self):
        # the token is made as usual; only the answer is changed
        self.srv.add_fault("set_field", "token/create", field="token_info")
        m = self.mint(lifetime_seconds=600, comment="no info")
        self.assertEqual(set(m), {"token_value"})
        self.srv.add_fault("set_field", "token/create", field="token_info",
                           value={"token_id": "odd/id"})
        m2 = self.mint(lifetime_seconds=600, comment="odd id")
        self.assertEqual(m2["token_info"], {"token_id": "odd/id"})
        r = self.api("GET", "/api/2.0/token/list")
        self.assertEqual(sorted(t["comment"] for t in r.json["token_infos"]),
                         ["no info", "odd id"])
        r = self.api("GET", "/api/2.0/preview/scim/v2/Me", token=m["token_value"])
        self.assertEqual(r.status, 200, r.raw)
        with self.assertRaisesRegex(workspace_client.AdminError, "400.*set_field needs"):
            self.srv.add_fault("set_field", "token/create", field="")

    def test_expiry(self):
        m = self.mint(lifetime_seconds=1)
        time.sleep(1.1)
        r = self.api("GET", "/api/2.0/preview/scim/v2/Me", token=m["token_value"])
        self.assert_error(r, 403, "PERMISSION_DENIED")
        self.assertEqual(self.ids(), [])

    def test_no_lifetime_never_expires(self):
        m = self.mint(comment="forever")
        self.assertEqual(m["token_info"]["expiry_time"], -1)

    def test_per_user_and_unknown_ids(self):
        mine = self.mint(lifetime_seconds=60)["token_info"]["token_id"]
        self.assertEqual(self.ids(TOKEN2), [])
        r = self.api("POST", "/api/2.0/token/delete", {"token_id": mine}, token=TOKEN2)
        self.assert_error(r, 404, "RESOURCE_DOES_NOT_EXIST")
        r = self.api("POST", "/api/2.0/token/delete", {"token_id": "0" * 64})
        self.assert_error(r, 404, "RESOURCE_DOES_NOT_EXIST")
        self.assertEqual(self.ids(), [mine])

    def test_validation_and_auth(self):
        for bad in ({"lifetime_seconds": 0}, {"lifetime_seconds": "60"},
                    {"lifetime_seconds": True}, {"comment": 5}):
            r = self.api("POST", "/api/2.0/token/create", bad)
            self.assert_error(r, 400, "INVALID_PARAMETER_VALUE")
        r = self.api("POST", "/api/2.0/token/delete", {})
        self.assert_error(r, 400, "INVALID_PARAMETER_VALUE")
        r = self.api("GET", "/api/2.0/token/list", token=None)
        self.assert_error(r, 401, "UNAUTHENTICATED")
        r = self.api("GET", "/api/2.0/token/create")
        self.assert_error(r, 404, "ENDPOINT_NOT_FOUND")

    def test_reset_forgets_minted(self):
        m = self.mint(lifetime_seconds=60)
        self.srv.reset()
        r = self.api("GET", "/api/2.0/preview/scim/v2/Me", token=m["token_value"])
        self.assert_error(r, 403, "PERMISSION_DENIED")

    def test_minted_values_masked_in_diagnostics(self):
        m = self.mint(lifetime_seconds=60)
        self.api("GET", "/api/2.0/preview/scim/v2/Me", token=m["token_value"])
        self.assertNotIn(m["token_value"], self.srv.stderr_text())

    def test_well_known_without_token(self):
        r = self.api("GET", "/.well-known/databricks-config", token=None)
        self.assertEqual(r.status, 200, r.raw)
        self.assertIsInstance(r.json["workspace_id"], str)
        self.assertTrue(r.json["host"].startswith("https://127.0.0.1:"))
        r = self.api("POST", "/.well-known/databricks-config", token=None)
        self.assert_error(r, 404, "ENDPOINT_NOT_FOUND")


if __name__ == "__main__":
    unittest.main(verbosity=2)
