"""A private D-Bus session bus with an unlocked gnome-keyring-daemon (the
Secret Service), started in the background, for tests that need a real
keyring without re-running themselves under dbus-run-session. Standard
library only.

  ks = KeyringSession(env, directory)   env: HOME, XDG_* ... for the daemon
  ks.address                            DBUS_SESSION_BUS_ADDRESS for clients
  ks.stop()                             the bus goes, and the daemon with it
  (also a context manager)

  KeyringSession(env, directory, prompter=(answer, delay_ms)) also puts a
  user at the unlock prompt (mock_prompter.py: answer "password:pw" or
  "cancel"); ks.prompts() is how many password prompts it was shown,
  ks.prompt_open() whether one is up now.

  KeyringSession(env, directory, login_keyring=False) starts the daemon
  without a login keyring: no collection is the default one, as in a
  session nobody logged in to with a password.
"""
import os
import shutil
import subprocess
import sys
import time

TOOLS = ("dbus-run-session", "gnome-keyring-daemon")

# the login keyring is created with (and unlocked by) the password "pw";
# the address goes to the file named by $0; cat holds the session open until
# our end of its stdin closes
_SCRIPT = ('printf pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null && '
           'printf "%s\\n" "$DBUS_SESSION_BUS_ADDRESS" >"$0.tmp" && mv "$0.tmp" "$0" && '
           'exec cat >/dev/null')
_UNLOCK = 'printf pw | gnome-keyring-daemon --unlock'
_NO_LOGIN = 'gnome-keyring-daemon --start'

# the same with the mock prompter first: gnome-keyring-daemon takes the
# prompter's bus name from its environment when it starts; the prompter
# shares our stdin, so it ends with the session ($1: python, $2: prompter
# script, $3: its directory, $4 and $5: its answer and delay)
_PROMPTER_SCRIPT = ('exec 3<&0; "$1" "$2" "$3/prompter-name" "$3/prompts" "$4" "$5" 0<&3 3<&- & '
                    'i=0; while [ ! -s "$3/prompter-name" ] && [ $i -lt 600 ]; do '
                    'sleep 0.05; i=$((i+1)); done; exec 3<&-; '
                    'GNOME_KEYRING_TEST_PROMPTER="$(cat "$3/prompter-name")" && '
                    'export GNOME_KEYRING_TEST_PROMPTER && ' + _SCRIPT)


def missing_tools():
    return [t for t in TOOLS if not shutil.which(t)]


class KeyringSession:
    def __init__(self, env, directory, timeout=30, prompter=None, login_keyring=True):
        addr_file = os.path.join(directory, "bus-address")
        self.directory = directory
        self.log_path = os.path.join(directory, "session.log")
        script, prompter_script = _SCRIPT, _PROMPTER_SCRIPT
        if not login_keyring:
            script = script.replace(_UNLOCK, _NO_LOGIN)
            prompter_script = prompter_script.replace(_UNLOCK, _NO_LOGIN)
        cmd = ["dbus-run-session", "--", "sh", "-c", script, addr_file]
        if prompter:
            here = os.path.dirname(os.path.abspath(__file__))
            cmd = ["dbus-run-session", "--", "sh", "-c", prompter_script, addr_file,
                   sys.executable, os.path.join(here, "mock_prompter.py"), directory,
                   prompter[0], str(prompter[1])]
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(cmd, env=env, stdin=subprocess.PIPE,
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

    def prompts(self):
        """How many password prompts the mock prompter was shown."""
        with open(os.path.join(self.directory, "prompts"), encoding="utf-8") as f:
            return int(f.read())

    def prompt_open(self):
        """Whether a prompt is up at the mock prompter now."""
        with open(os.path.join(self.directory, "prompts.open"), encoding="utf-8") as f:
            return f.read().strip() == "1"

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
