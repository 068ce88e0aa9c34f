"""A private D-Bus session bus with an unlocked gnome-keyring-daemon (the
Secret Service), started in the background, for tests that need a real
keyring without re-running themselves under dbus-run-session. Standard
library only.

  ks = KeyringSession(env, directory)   env: HOME, XDG_* ... for the daemon
  ks.address                            DBUS_SESSION_BUS_ADDRESS for clients
  ks.stop()                             the bus goes, and the daemon with it
  (also a context manager)
"""
import os
import shutil
import subprocess
import time

TOOLS = ("dbus-run-session", "gnome-keyring-daemon")

# the login keyring is created with (and unlocked by) the password "pw";
# the address goes to the file named by $0; cat holds the session open until
# our end of its stdin closes
_SCRIPT = ('printf pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null && '
           'printf "%s\\n" "$DBUS_SESSION_BUS_ADDRESS" >"$0.tmp" && mv "$0.tmp" "$0" && '
           'exec cat >/dev/null')


def missing_tools():
    return [t for t in TOOLS if not shutil.which(t)]


class KeyringSession:
    def __init__(self, env, directory, timeout=30):
        addr_file = os.path.join(directory, "bus-address")
        self.log_path = os.path.join(directory, "session.log")
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(["dbus-run-session", "--", "sh", "-c", _SCRIPT,
                                          addr_file], env=env, stdin=subprocess.PIPE,
                                         stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while not os.path.exists(addr_file):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                with open(self.log_path, encoding="utf-8", errors="replace") as f:
                    raise RuntimeError("the keyring session did not start: " + f.read())
            time.sleep(0.05)
        with open(addr_file, encoding="utf-8") as f:
            self.address = f.read().strip()

    def stop(self, timeout=10):
        if self.proc.stdin and not self.proc.stdin.closed:
            self.proc.stdin.close()
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
