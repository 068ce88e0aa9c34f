"""Requests libmicrohttpd itself refuses before the proxy sees them, over a
raw socket to DATABRICKS_HOST: prints {name: [status, content type, whether
the body is HTML]}, then the status of an honest GET after them."""
import json
import os

from raw_http import URL as u, exchange

auth = "Host: %s\r\nAuthorization: Bearer %s\r\n" % (u.netloc, os.environ["DATABRICKS_TOKEN"])
ME = "/api/2.0/preview/scim/v2/Me"
POST = "POST /api/2.1/clusters/create HTTP/1.1\r\n" + auth
CASES = {
    "long_url": "GET %s?q=%s HTTP/1.1\r\n%s\r\n" % (ME, "a" * 40000, auth),
    "big_header": "GET %s HTTP/1.1\r\n%sX-Big: %s\r\n\r\n" % (ME, auth, "b" * 40000),
    "http2": "GET %s HTTP/2.0\r\n%s\r\n" % (ME, auth),
    "h2_preface": "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    "bad_chunk": POST + "Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
    "negative_length": POST + "Content-Length: -5\r\n\r\n",
    "honest": "GET %s HTTP/1.1\r\n%sConnection: close\r\n\r\n" % (ME, auth),
}


def send(raw):
    head, body = exchange(raw, timeout=10)
    head, body = head.decode("latin1"), body.decode("latin1")
    ctype = [line.split(":", 1)[1].strip() for line in head.split("\r\n")
             if line.lower().startswith("content-type:")]
    return [int(head[9:12] or 0), ctype[0] if ctype else None, "<html>" in body]


print(json.dumps({name: send(raw) for name, raw in CASES.items()}))
