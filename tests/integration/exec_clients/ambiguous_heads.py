"""Requests whose head libmicrohttpd 0.9 reads otherwise than they were
sent (a folded line glued to the header's name, a value cut at a NUL), or
that could be framed more than one way, over a raw socket to
DATABRICKS_HOST: prints {name: [status, error_code, whether the proxy
closed the connection after the answer]}. The "fine_*" requests are
well-formed and forwarded."""
import json
import os
import socket

from raw_http import URL as u

auth = "Host: %s\r\nAuthorization: Bearer %s\r\n" % (u.netloc, os.environ["DATABRICKS_TOKEN"])
POST = "POST /api/2.1/clusters/create?case=%s HTTP/1.1\r\n" + auth
CHUNKED = "2\r\n{}\r\n0\r\n\r\n"
CASES = {
    "fold_space": ("X-A: a\r\n folded: injected\r\nContent-Length: 2\r\n", "{}"),
    "fold_tab": ("X-A: a\r\n\tmore\r\nContent-Length: 2\r\n", "{}"),
    "fold_length": ("Content-Length:\r\n 2\r\n", "{}"),
    "nul": ("X-A: a\0b\r\nContent-Length: 2\r\n", "{}"),
    "nul_last": ("Content-Length: 2\r\nX-A: a\0b\r\n", "{}"),
    "bare_cr": ("X-A: a\rb\r\nContent-Length: 2\r\n", "{}"),
    "space_before_colon": ("X-A : a\r\nContent-Length: 2\r\n", "{}"),
    "two_hosts": ("Host: evil.example\r\nContent-Length: 2\r\n", "{}"),
    "two_lengths": ("Content-Length: 2\r\nContent-Length: 3\r\n", "{}x"),
    "length_and_chunked": ("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", CHUNKED),
    "two_codings": ("Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n", CHUNKED),
    "fine_same_length_twice": ("Content-Length: 2\r\nContent-Length: 2\r\n", "{}"),
    "fine_lf_lines": ("X-A: a\nContent-Length: 2\n", "{}"),
    "fine_blanks_and_obs_text": ("X-A: a \t\r\nX-B:\r\nX-C: caf\xe9\r\nContent-Length: 2\r\n",
                                 "{}"),
}


def send(name, head, body):
    s = socket.create_connection((u.hostname, u.port), timeout=10)
    s.sendall(((POST % name) + head + "\r\n" + body).encode("latin1"))
    data, closed = b"", False
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                closed = True
                break
            data += chunk
            if name.startswith("fine_") and data.endswith(b"}\n"):
                break
    except socket.timeout:
        pass
    s.close()
    head, _, text = data.partition(b"\r\n\r\n")
    try:
        code = json.loads(text)["error_code"]
    except ValueError:
        code = None
    return [int(head[9:12] or 0), code, closed]


print(json.dumps({name: send(name, *case) for name, case in CASES.items()}))
