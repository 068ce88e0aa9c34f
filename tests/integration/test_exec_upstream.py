"""`dbroker exec`'s proxy against a broken or hostile workspace: the GETs it
forwards ride one kept upstream connection on which dbroker writes the
request and reads the answer itself (src/net/http_kept.c, http_wire.c).
Each test has a real child (python3-requests or curl) ask through the proxy
while the HTTPS workspace double answers with raw bytes ("wire" faults),
closes or resets its connections. Run by ctest with DBROKER_BIN and
DBR_SOURCE_DIR set."""
import json
import os
import re
import sys
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_exec import ME, ExecBase  # noqa: E402

# One requests.Session (keep-alive to the proxy): for each path in argv, a
# GET; prints one JSON line per answer (status, body, headers) or the error.
# "sleep:S" waits S seconds instead (and prints {"slept": S}).
CHILD = r'''
import json, os, sys, time
import requests
s = requests.Session()
hdr = {"Authorization": "Bearer " + os.environ["DATABRICKS_TOKEN"]}
for path in sys.argv[1:]:
    if path.startswith("sleep:"):
        time.sleep(float(path[6:]))
        print(json.dumps({"slept": float(path[6:])}))
        continue
    try:
        r = s.get(os.environ["DATABRICKS_HOST"] + path, headers=hdr, timeout=30)
        print(json.dumps({"status": r.status_code, "body": r.text,
                          "headers": {k.lower(): v for k, v in r.headers.items()}}))
    except Exception as e:
        print(json.dumps({"error": type(e).__name__}))
'''

# A GET that the workspace keeps answering 503, abandoned after 1.5 s (the
# client's timeout: it closes the connection), then a GET on a new
# connection half a second later; prints that one's status (or error) and
# how long it took.
ABANDON = r'''
import json, os, socket, time, urllib.parse
import requests
u = urllib.parse.urlsplit(os.environ["DATABRICKS_HOST"])
tok = os.environ["DATABRICKS_TOKEN"]
s = socket.create_connection((u.hostname, u.port), timeout=1.5)
s.sendall(("GET /api/2.1/clusters/get?cluster_id=x HTTP/1.1\r\nHost: %s\r\n"
           "Authorization: Bearer %s\r\n\r\n" % (u.netloc, tok)).encode())
try:
    s.recv(1)
except socket.timeout:
    pass
s.close()
time.sleep(0.5)
t = time.monotonic()
try:
    r = requests.get(os.environ["DATABRICKS_HOST"] + "/api/2.0/preview/scim/v2/Me",
                     headers={"Authorization": "Bearer " + tok}, timeout=10)
    out = {"status": r.status_code}
except Exception as e:
    out = {"error": type(e).__name__}
out["took"] = time.monotonic() - t
time.sleep(2)
print(json.dumps(out))
'''

# CHILD, writing its answers to the file named by its first argument (the
# child's stdout is masked by dbroker: what the child itself got is in the
# file).
CHILD_TO_FILE = CHILD.replace("for path in sys.argv[1:]:", "out = open(sys.argv[1], 'w')\n"
                              "for path in sys.argv[2:]:").replace(
    "print(json.dumps(", "print(file=out, end=json.dumps(").replace("))\n", ") + '\\n')\n")

OK_BODY = '{"ok": true}'
CURL = 'curl -sS -H "Authorization: Bearer $DATABRICKS_TOKEN" "$DATABRICKS_HOST' + ME + '"'


def head(status="200 OK", body=OK_BODY, extra="", eol="\r\n", length=True):
    """A complete answer's bytes."""
    lines = ["HTTP/1.1 " + status, "Content-Type: application/json"]
    if length:
        lines.append("Content-Length: %d" % len(body.encode()))
    return eol.join(lines) + eol + extra + eol + body


class UpstreamTest(ExecBase):
    PREFIX = "dbr-upstream-"

    def ask(self, *paths, debug=False):
        """The child's answers, one dict per path."""
        script = self.path("child.py")
        with open(script, "w") as f:
            f.write(CHILD)
        p = self.run_dbr(*(("--debug",) if debug else ()), "exec", "--", "python3", script,
                         *paths)
        self.assertEqual(p.returncode, 0, p.err)
        answers = [json.loads(line) for line in p.out.splitlines() if line.strip()]
        self.assertEqual(len(answers), len(paths), p.out + p.err)
        self.last_err = p.err
        return answers

    def conns(self):
        """The upstream connection of each request the workspace saw."""
        return [r["conn"] for r in self.ws.requests()]

    def test_one_connection_for_many_gets(self):
        answers = self.ask(*[ME] * 20)
        self.assertEqual({a["status"] for a in answers}, {200})
        direct = self.ws.call("GET", ME, token=self.token).json
        self.assertEqual(json.loads(answers[-1]["body"]), direct)
        self.assertIn("x-request-id", answers[0]["headers"])
        self.assertEqual(len(set(self.conns()[:20])), 1)
        self.assertEqual(self.bearers()[:20], ["Bearer " + self.token] * 20)

    def test_connection_closed_while_idle_is_opened_again(self):
        # drop_after: answered, then closed quietly (an idle timeout);
        # close_after: "Connection: close"; each next GET on a new one,
        # sent once. Right after an answer dbroker does not look at the
        # connection before it writes (the GET meets the close and is sent
        # again); after a second of quiet it looks first: both ways.
        for pause in ([], ["sleep:1.3"]):
            with self.subTest(pause=pause):
                self.ws.clear_requests()
                self.ws.add_faults({"kind": "drop_after", "path": "scim/v2/Me"},
                                   {"kind": "pass", "path": "scim/v2/Me"},
                                   {"kind": "close_after", "path": "scim/v2/Me"})
                answers = self.ask(ME, *pause, ME, ME, *pause, ME)
                self.assertEqual([a["status"] for a in answers if "slept" not in a],
                                 [200] * 4)
                c = self.conns()
                self.assertEqual(len(c), 4)
                self.assertNotEqual(c[0], c[1])
                self.assertEqual(c[1], c[2])
                self.assertNotEqual(c[2], c[3])
                self.assertNotIn("broke off", self.last_err)

    def test_reset_before_any_answer_is_sent_again(self):
        # the second GET meets a kept connection the server resets: asked
        # once more on a new connection, and the child never knows
        self.ws.add_faults({"kind": "pass", "path": "scim/v2/Me"},
                           {"kind": "reset", "path": "scim/v2/Me"})
        answers = self.ask(ME, ME)
        self.assertEqual([a["status"] for a in answers], [200, 200])
        reqs = self.ws.requests()
        self.assertEqual([r["reset"] for r in reqs], [False, True, False])

    def test_interim_answer_then_the_real_one(self):
        self.ws.add_fault("wire", path="scim/v2/Me", keep=True,
                          data=head("103 Early Hints", body="", length=False,
                                    extra="Link: </x.css>; rel=preload\r\n")
                          .replace("Content-Type: application/json\r\n", "") +
                          head(extra="X-Thing: one\r\n"))
        a, b = self.ask(ME, ME)
        self.assertEqual((a["status"], a["body"], a["headers"].get("x-thing")),
                         (200, OK_BODY, "one"))
        self.assertEqual(b["status"], 200)
        self.assertEqual(len(set(self.conns())), 1)  # still good for the next

    def test_every_connection_headers_names_stay_behind(self):
        # the headers a second Connection line of the answer names are
        # hop-by-hop too: not relayed to the child, like the first's
        self.ws.add_fault("wire", path="scim/v2/Me", keep=True,
                          data=head(extra="Connection: keep-alive, X-First\r\n"
                                    "Connection: X-Second\r\nX-First: 1\r\nX-Second: 2\r\n"
                                    "X-Kept: 3\r\n"))
        [a] = self.ask(ME)
        self.assertEqual((a["status"], a["body"]), (200, OK_BODY))
        self.assertEqual(a["headers"].get("x-kept"), "3")
        self.assertNotIn("x-first", a["headers"])
        self.assertNotIn("x-second", a["headers"])

    def test_cookies_and_another_origins_services_stay_behind(self):
        # the workspace's cookies (also the obsolete Set-Cookie2, which
        # some clients still keep, for another domain here), its Alt-Svc
        # (its services, not the proxy's) and proxy authentication headers
        # are not relayed; before, Set-Cookie2, Alt-Svc and
        # Proxy-Authentication-Info were
        self.ws.add_fault("wire", path="scim/v2/Me", keep=True,
                          data=head(extra="Set-Cookie: a=b; Domain=evil.example\r\n"
                                    "Set-Cookie2: c=d; Domain=evil.example\r\n"
                                    'Alt-Svc: h2="evil.example:443"\r\n'
                                    "Proxy-Authentication-Info: nextnonce=x\r\n"
                                    "X-Kept: 3\r\n"))
        [a] = self.ask(ME)
        self.assertEqual((a["status"], a["body"]), (200, OK_BODY))
        self.assertEqual(a["headers"].get("x-kept"), "3")
        for name in ("set-cookie", "set-cookie2", "alt-svc", "proxy-authentication-info"):
            self.assertNotIn(name, a["headers"])

    def test_chunked_with_extensions_and_trailers(self):
        parts = ['{"ok"', ': true, "n"', ": 1}"]
        body = ("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                "Transfer-Encoding: chunked\r\n\r\n" +
                "".join("%X%s\r\n%s\r\n" % (len(c), ";name=value" if i == 0 else "", c)
                        for i, c in enumerate(parts)) +
                "0\r\nX-Trailer: t\r\n\r\n")
        self.ws.add_fault("wire", path="scim/v2/Me", keep=True, data=body)
        a, b = self.ask(ME, ME)
        self.assertEqual(json.loads(a["body"]), {"ok": True, "n": 1})
        self.assertEqual(b["status"], 200)
        self.assertEqual(len(set(self.conns())), 1)

    def test_chunked_answer_with_a_length_is_framed_by_its_chunks(self):
        # Transfer-Encoding overrides Content-Length: the child gets the
        # whole decoded body, framed anew; before, the proxy sent the
        # workspace's Content-Length with it and the child's answer was cut
        # there (2: '{"', a whole answer to the child) or waited for bytes
        # that never came (100)
        for length in (2, 100):
            with self.subTest(length=length):
                self.ws.reset()
                chunks = "".join("%X\r\n%s\r\n" % (len(c), c) for c in ('{"ok"', ": true}"))
                self.ws.add_fault("wire", path="scim/v2/Me", keep=True,
                                  data="HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                       "Content-Length: %d\r\nTransfer-Encoding: chunked\r\n"
                                       "\r\n%s0\r\n\r\n" % (length, chunks))
                a, b = self.ask(ME, ME)
                self.assertEqual((a.get("status"), a.get("body")), (200, OK_BODY), a)
                self.assertEqual(b["status"], 200)

    def test_no_final_answer_is_a_502(self):
        # a 101 (the connection switches to another protocol) or a status
        # HTTP does not have, on the kept connection and through libcurl:
        # the child gets a 502 it can read; before, a 101 was relayed and
        # the child waited for an answer that never came (curl), 999 was
        # relayed as it was, and the kept connection took an HTTP answer
        # after a 101 for the answer
        upgrade = "Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
        answers = [("101 Switching Protocols", upgrade + "\x81\x05hello"),
                   ("101 Switching Protocols", upgrade + head()),
                   ("999 Odd", "Content-Length: 2\r\n\r\n{}"),
                   ("600 Odd", "Content-Length: 2\r\n\r\n{}")]
        for status, rest in answers:
            with self.subTest(status=status):
                self.ws.reset()
                # the kept connection hands a 101 to libcurl, which asks again
                self.ws.add_fault("wire", path="scim/v2/Me", count=2 if "101" in status else 1,
                                  data="HTTP/1.1 %s\r\n%s" % (status, rest))
                a, b = self.ask(ME, ME)
                self.assertEqual(a.get("status"), 502, a)
                self.assertEqual(json.loads(a["body"])["error_code"], "BAD_GATEWAY")
                self.assertIn("answered with status %s, not a final HTTP answer" % status[:3],
                              a["body"])
                self.assertEqual(b["status"], 200)

    def test_answer_carrying_the_token_is_withheld(self):
        # a workspace (or a server in between) that echoes the token, in a
        # header, a whole body or a streamed one (across the proxy's reads,
        # and URL-encoded): the child never gets it; before, it got the
        # token dbroker exists to keep from it. An answer sent whole is a
        # 502; a streamed one is cut. A token of the same shape that is not
        # dbroker's (one the child minted) is relayed.
        tok, other = self.token, "dapi" + "0123456789abcdef" * 2
        filler = "x" * (300 * 1024)
        answers = {
            "header": head(extra="X-Echo: Bearer %s\r\n" % tok),
            "whole": head(status="400 Bad Request", body='{"message": "bad token %s"}' % tok),
            "streamed": head(body='{"seen": "%s"}' % tok),
            "large": head(body='{"a": "%s%s%s"}' % (filler, tok, filler)),
            "encoded": head(body='{"u": "a=%s"}' % tok.replace("i", "%69")),
            "another": head(body='{"token_value": "%s"}' % other),
        }
        for name, data in answers.items():
            self.ws.add_fault("wire", path="fs/files/" + name, data=data, count=2)
        script = self.path("child.py")
        with open(script, "w") as f:
            f.write(CHILD_TO_FILE)
        got = self.path("got.json")
        p = self.run_dbr("exec", "--", "python3", script, got,
                         *["/api/2.0/fs/files/" + n for n in answers])
        self.assertEqual(p.returncode, 0, p.err)
        text = self.read(got)
        self.assertFalse(tok[4:] in text, "the child got the token")
        out = dict(zip(answers, map(json.loads, text.splitlines())))
        # a body that came with its head is sent whole
        for name in ("header", "whole", "streamed", "encoded"):
            self.assertEqual(out[name]["status"], 502, out[name])
            self.assertIn("carried the credential dbroker signs with, so dbroker exec withheld "
                          "it", out[name]["body"])
        self.assertTrue("error" in out["large"] or len(out["large"]["body"]) < len(filler) * 2,
                        str(out["large"])[:200])
        self.assertEqual(json.loads(out["another"]["body"]), {"token_value": other})
        self.assertEqual(p.err.count("withheld it"), 5, p.err)

    def test_streamed_answer_to_a_post_carrying_the_token_is_cut(self):
        # the worker's ring (a POST's 2xx answer over 256 KiB, or unsized):
        # the bytes before the token reach the child, the token does not
        filler = "x" * (400 * 1024)
        for framing in ("sized", "chunked"):
            with self.subTest(framing=framing):
                self.ws.reset()
                body = '{"a": "%s%s%s"}' % (filler, self.token, filler)
                if framing == "sized":
                    data = head(body=body)
                else:
                    data = ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%X\r\n%s"
                            "\r\n0\r\n\r\n" % (len(body), body))
                self.ws.add_fault("wire", path="clusters/create", data=data)
                got = self.path("post.out")
                p = self.run_dbr("exec", "--", "sh", "-c", 'curl -sS -X POST -d {} -H '
                                 '"Authorization: Bearer $DATABRICKS_TOKEN" -o ' + got +
                                 ' "$DATABRICKS_HOST/api/2.1/clusters/create"; echo "rc=$?"')
                self.assertNotEqual(p.out.strip(), "rc=0", p.err)
                text = self.read(got)
                self.assertTrue(text.startswith('{"a": "xxx'))
                self.assertFalse(self.token[4:] in text, "the child got the token")
                self.assertIn("broke off: the workspace's answer carried the credential", p.err)

    def test_answer_without_a_status_line_is_a_502(self):
        # HTTP/0.9 (a body and no head), on the kept connection and then
        # through libcurl: a 502 naming the answer; before, a 400
        # INVALID_PARAMETER_VALUE "refusing the URL …: use https://", as if
        # the child's request were at fault
        self.ws.add_fault("wire", path="scim/v2/Me", data=OK_BODY, count=2)
        a, b = self.ask(ME, ME)
        self.assertEqual(a.get("status"), 502, a)
        self.assertEqual(json.loads(a["body"])["error_code"], "BAD_GATEWAY")
        self.assertIn("is not HTTP (Received HTTP/0.9 when not allowed)", a["body"])
        self.assertEqual(b["status"], 200)

    def test_lf_only_http10_body_to_the_close(self):
        self.ws.add_fault("wire", path="scim/v2/Me",
                          data="HTTP/1.0 200 OK\nContent-Type: application/json\n\n" + OK_BODY)
        a, b = self.ask(ME, ME)
        self.assertEqual((a["status"], a["body"]), (200, OK_BODY))
        self.assertEqual(b["status"], 200)
        self.assertNotEqual(*self.conns())

    def test_malformed_heads_go_to_libcurl(self):
        # a head the strict parser refuses is not forwarded: the GET is
        # asked again through libcurl (which gets a normal answer here)
        bad = [
            head(extra="Bad Name: x\r\n"),                    # space in a name
            head(extra="X-A: a\r\n folded: injected\r\n"),    # obs-fold
            head(extra="Content-Length: 3\r\n"),              # two lengths
            head(extra="X-A: a\x01b\r\n"),                    # a control character
            "HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n",  # four digits
            "ICY 200 OK\r\n\r\n" + OK_BODY,                   # not HTTP/1.x
        ]
        for data in bad:
            with self.subTest(data=data[:40]):
                self.ws.reset()
                self.ws.add_fault("wire", path="scim/v2/Me", data=data)
                (a,) = self.ask(ME)
                self.assertEqual(a["status"], 200)
                self.assertEqual(json.loads(a["body"])["userName"],
                                 self.ws.call("GET", ME, token=self.token).json["userName"])
                self.assertNotIn("folded", a["headers"])
                self.assertEqual(len(self.ws.requests(path="scim/v2/Me")), 3)

    def test_same_origin_redirect_followed_by_libcurl(self):
        loc = "HTTP/1.1 307 Temporary Redirect\r\nLocation: %s\r\nContent-Length: 0\r\n\r\n"
        self.ws.add_fault("wire", path="clusters/list", data=loc % ME, count=2)
        (a,) = self.ask("/api/2.1/clusters/list")
        self.assertEqual(a["status"], 200)
        self.assertIn("userName", json.loads(a["body"]))
        self.assertEqual([r["path"] for r in self.ws.requests()],
                         ["/api/2.1/clusters/list"] * 2 + [ME])

    def test_short_body_breaks_off_and_the_next_get_works(self):
        # the head promised 100 bytes, 10 came, then the connection closed:
        # the child's answer is cut (curl: 18, "transfer closed with
        # outstanding read data remaining"), never completed with something
        # else, and the next GET goes on a new connection
        self.ws.add_fault("wire", path="scim/v2/Me",
                          data="HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
        script = (CURL + ' -o short.out; echo "rc=$?"; ' + CURL + ' -o next.out; echo "rc=$?"')
        p = self.run_dbr("exec", "--", "sh", "-c", "cd " + self.home + " && " + script)
        self.assertEqual(p.out.split(), ["rc=18", "rc=0"], p.err)
        self.assertEqual(self.read(self.path("short.out")), "0123456789")
        self.assertIn("userName", self.read(self.path("next.out")))
        self.assertIn("broke off", p.err)
        self.assertNotEqual(*self.conns()[:2])

    def test_bytes_past_the_length_are_not_the_next_answer(self):
        # an answer followed by another one on the same write (a server
        # trying to answer a request not yet sent): the child gets the
        # first, and the next GET the workspace's own answer on a new
        # connection, never the one queued behind
        smuggled = "HTTP/1.1 200 OK\r\nX-Smuggled: 1\r\nContent-Length: 2\r\n\r\n{}"
        self.ws.add_fault("wire", path="scim/v2/Me", keep=True, data=head() + smuggled)
        a, b = self.ask(ME, ME)
        self.assertEqual((a["status"], a["body"]), (200, OK_BODY))
        self.assertEqual(b["status"], 200)
        self.assertIn("userName", json.loads(b["body"]))
        self.assertNotIn("x-smuggled", b["headers"])
        self.assertNotEqual(*self.conns()[:2])

    def test_garbage_chunks_break_off(self):
        self.ws.add_fault("wire", path="scim/v2/Me",
                          data="HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                               "zz\r\nhello\r\n0\r\n\r\n")
        a, b = self.ask(ME, ME)
        self.assertIn("error", a)
        self.assertEqual(b["status"], 200)

    def test_garbage_chunks_to_a_post_are_a_502_naming_the_answer(self):
        # through libcurl (a POST): the head came, the chunks are malformed;
        # before, the 502 said the workspace "closed the connection without
        # answering" and blamed a client certificate
        self.ws.add_fault("wire", path="clusters/create",
                          data="HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                               "zz\r\nhello\r\n0\r\n\r\n")
        p = self.run_dbr("exec", "--", "sh", "-c", 'curl -sS -X POST -d {} -H "Authorization: '
                         'Bearer $DATABRICKS_TOKEN" "$DATABRICKS_HOST/api/2.1/clusters/create"')
        self.assertEqual(p.returncode, 0, p.err)
        answer = json.loads(p.out)
        self.assertEqual(answer["error_code"], "BAD_GATEWAY")
        self.assertIn("the answer from '127.0.0.1' broke off (", answer["message"])
        self.assertNotIn("client certificate", answer["message"])

    def test_head_request(self):
        script = ('curl -sS -I -H "Authorization: Bearer $DATABRICKS_TOKEN" "$DATABRICKS_HOST'
                  + ME + '"; curl -sS -H "Authorization: Bearer $DATABRICKS_TOKEN" '
                  '"$DATABRICKS_HOST' + ME + '"')
        p = self.run_dbr("exec", "--", "sh", "-c", script)
        self.assertEqual(p.returncode, 0, p.err)
        self.assertIn("HTTP/1.1 ", p.out)
        self.assertIn("userName", p.out)
        self.assertEqual([r["method"] for r in self.ws.requests()], ["HEAD", "GET"])

    def test_head_and_304_keep_the_workspaces_length(self):
        # a HEAD's answer says how long the GET's body would be (a Files API
        # metadata read); a 304 keeps the length it came with and gets none
        # it lacked, a 204 none at all; the connection still serves the next
        ok = "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
        nm = 'HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\n'
        answers = {"a": ok + "Content-Length: 12345\r\n\r\n",
                   "b": nm + "\r\n",
                   "c": nm + "Content-Length: 777\r\n\r\n",
                   "d": "HTTP/1.1 204 No Content\r\n\r\n",
                   "e": ok + "Transfer-Encoding: chunked\r\n\r\n"}
        for name, data in answers.items():
            self.ws.add_fault("wire", path="files/" + name, keep=True, data=data)
        c = (' -sS -o /dev/null -D - -H "Authorization: Bearer $DATABRICKS_TOKEN" '
             '"$DATABRICKS_HOST/api/2.0/fs/files/')
        script = "; ".join(("curl -I" if n in "ae" else "curl") + c + n + '"; echo =' + n
                           for n in answers) + "; curl" + c[:-17] + ME + '"'
        p = self.run_dbr("exec", "--", "sh", "-c", script)
        self.assertEqual(p.returncode, 0, p.err)
        heads = re.split(r"^=[a-e]$", p.out.lower(), flags=re.M)
        lengths = [[x.strip() for x in h.splitlines() if x.startswith("content-length:")]
                   for h in heads]
        self.assertEqual(lengths[:5], [["content-length: 12345"], [], ["content-length: 777"],
                                       [], []], p.out)
        self.assertIn(" 200", heads[5].strip().splitlines()[0])
        self.assertEqual([r["method"] for r in self.ws.requests()],
                         ["HEAD", "GET", "GET", "GET", "HEAD", "GET"])

    def test_abandoned_get_is_not_retried_and_frees_its_slot(self):
        # the child gives up on a GET the workspace answers 503 and closes
        # its connection: the retries stop within 0.1 s (not after the retry
        # window) and its slot is free for the next connection
        self.ws.add_fault("503", path="clusters/get", count=-1)
        script = self.path("abandon.py")
        with open(script, "w") as f:
            f.write(ABANDON)
        p = self.run_dbr("--retry-window", "30s", "exec", "--max-connections", "1", "--",
                         "python3", script)
        self.assertEqual(p.returncode, 0, p.err)
        out = json.loads(p.out)
        self.assertEqual(out.get("status"), 200, p.out + p.err)
        self.assertLess(out["took"], 3)
        self.assertLessEqual(len(self.ws.requests(path="clusters/get")), 3)
        self.assertEqual(p.err.count("went away while the request waited to be retried"), 1,
                         p.err)

    def test_dot_segments_only_in_the_path(self):
        # a '..' in a query value is a value (a workspace path), sent on; one
        # in the path is refused, and the log line leaves the query out
        c = ('curl -sS --path-as-is -o /dev/null -w "%{http_code}\\n" -H "Authorization: '
             'Bearer $DATABRICKS_TOKEN" "$DATABRICKS_HOST/api/2.0/')
        p = self.run_dbr("exec", "--", "sh", "-c", c + 'workspace/list?path=/Users/a/../b"; ' +
                         c + 'workspace/../list?path=xyzzy"')
        self.assertEqual(p.returncode, 0, p.err)
        self.assertNotEqual(p.out.split()[0], "400", p.out)
        self.assertEqual(p.out.split()[1], "400", p.out)
        self.assertEqual([r["target"] for r in self.ws.requests()],
                         ["/api/2.0/workspace/list?path=/Users/a/../b"])
        self.assertIn("'/api/2.0/workspace/../list' contains a '.' or '..' segment", p.err)
        self.assertNotIn("xyzzy", p.err)

    def test_debug_trace_goes_through_libcurl(self):
        # --debug traces every request: those take libcurl's path, whose
        # trace shows the request line; the token never shows
        answers = self.ask(ME, ME, debug=True)
        self.assertEqual([a["status"] for a in answers], [200, 200])
        self.assertIn("> GET " + ME, self.last_err)
        self.assert_no_secret(self.last_err)


if __name__ == "__main__":
    unittest.main(verbosity=2)
