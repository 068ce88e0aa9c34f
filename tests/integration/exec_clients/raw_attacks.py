"""Requests no honest client sends, over a raw socket to DATABRICKS_HOST:
prints {name: [status, error_code]} (status 0: the connection closed)."""
import json
import os

from raw_http import URL as u, exchange

cap = os.environ["DATABRICKS_TOKEN"]
auth = "Authorization: Bearer " + cap + "\r\n"


def send(raw):
    head, body = exchange(raw)
    if not head:
        return [0, None]
    status = int(head.split(b" ")[1])
    try:
        code = json.loads(body).get("error_code")
    except ValueError:
        code = None
    return [status, code]


me = "/api/2.0/preview/scim/v2/Me"
host = "Host: %s\r\n" % u.netloc
out = {
    "absolute_uri": send("GET http://example.com%s HTTP/1.1\r\nHost: example.com\r\n%s"
                         "Connection: close\r\n\r\n" % (me, auth)),
    "absolute_uri_own_host": send("GET http://%s%s HTTP/1.1\r\n%s%sConnection: close\r\n\r\n"
                                  % (u.netloc, me, host, auth)),
    "connect": send("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n%s"
                    "Connection: close\r\n\r\n" % auth),
    "foreign_host": send("GET %s HTTP/1.1\r\nHost: evil.example:%d\r\n%s"
                         "Connection: close\r\n\r\n" % (me, u.port, auth)),
    "asterisk": send("OPTIONS * HTTP/1.1\r\n%s%sConnection: close\r\n\r\n" % (host, auth)),
    "no_capability": send("GET %s HTTP/1.1\r\n%sConnection: close\r\n\r\n" % (me, host)),
    "wrong_capability": send("GET %s HTTP/1.1\r\n%sAuthorization: Bearer %s\r\n"
                             "Connection: close\r\n\r\n" % (me, host, cap[:-1] + "x")),
    "capability_as_basic": send("GET %s HTTP/1.1\r\n%sAuthorization: Basic %s\r\n"
                                "Connection: close\r\n\r\n" % (me, host, cap)),
    "well_known_post": send("POST /.well-known/databricks-config HTTP/1.1\r\n%s"
                            "Content-Length: 0\r\nConnection: close\r\n\r\n" % host),
    "well_known_prefix": send("GET /.well-known/databricks-config/../../api/2.0/preview/"
                              "scim/v2/Me HTTP/1.1\r\n%sConnection: close\r\n\r\n" % host),
    # the request forwarded without the capability carries no body
    "well_known_with_body": send("GET /.well-known/databricks-config HTTP/1.1\r\n%s"
                                 "Content-Length: 5\r\nConnection: close\r\n\r\nhello" % host),
    "well_known_chunked": send("GET /.well-known/databricks-config HTTP/1.1\r\n%s"
                               "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                               "5\r\nhello\r\n0\r\n\r\n" % host),
    # a workspace that answers TRACE would echo the real token
    "trace": send("TRACE %s HTTP/1.1\r\n%s%sConnection: close\r\n\r\n" % (me, host, auth)),
    "track": send("TRACK %s HTTP/1.1\r\n%s%sConnection: close\r\n\r\n" % (me, host, auth)),
    "honest": send("GET %s HTTP/1.1\r\n%s%sConnection: close\r\n\r\n" % (me, host, auth)),
}
print(json.dumps(out))
