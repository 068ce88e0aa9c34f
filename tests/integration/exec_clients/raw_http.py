"""One request written as raw bytes to the proxy at DATABRICKS_HOST, for the
raw-socket children (raw_attacks.py, malformed_http.py)."""
import os
import socket
import urllib.parse

URL = urllib.parse.urlsplit(os.environ["DATABRICKS_HOST"])


def exchange(raw, timeout=30):
    """(head, body) as bytes of the answer to raw: read until the
    connection closes, or the body has its Content-Length. (b"", b"") when
    the connection closed without an answer."""
    s = socket.create_connection((URL.hostname, URL.port), timeout=timeout)
    s.sendall(raw.encode())
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
        if b"\r\n\r\n" in data:
            head, _, body = data.partition(b"\r\n\r\n")
            n = [int(line.split(b":")[1]) for line in head.split(b"\r\n")
                 if line.lower().startswith(b"content-length:")]
            if n and len(body) >= n[0]:
                break
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return head, body
