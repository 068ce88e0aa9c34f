"""Records the signals it gets (one name a line in argv[1]); exits 7 on
SIGTERM. Writes argv[2] once its handlers are in place."""
import os
import signal
import sys
import time

log = open(sys.argv[1], "a", buffering=1)


def on(sig, frame):
    log.write(signal.Signals(sig).name + "\n")
    if sig == signal.SIGTERM:
        sys.exit(7)


for s in (signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGWINCH, signal.SIGTERM):
    signal.signal(s, on)
with open(sys.argv[2], "w") as f:
    f.write(str(os.getpid()))
deadline = time.time() + 60
while time.time() < deadline:
    time.sleep(0.05)
sys.exit(1)
