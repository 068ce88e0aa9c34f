"""Reading what a program under test wrote to a pseudo-terminal. Standard
library only.

  read_pty(fd, want, timeout=10) -> bytes   read the master side until want
                                            appears, EOF, or timeout seconds
"""
import os
import select
import time


def read_pty(fd, want, timeout=10):
    buf = b""
    end = time.monotonic() + timeout
    while want not in buf and time.monotonic() < end:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            buf += chunk
    return buf
