"""A unittest base for end-to-end tests against one HTTPS workspace double
per test class: the double (a fresh temporary directory, one random PAT for
me@example.com), reset before each test with a private HOME, the
environment a run gets (the token and host in DATABRICKS_*, no plugins,
the sanitizers' options passed on), and the check that no form of the
token reached what dbroker printed."""
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

import workspace
from secret_forms import encodings

SANITIZER_VARS = ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS")


class WorkspaceCase(unittest.TestCase):
    PREFIX = "dbr-"            # of the class's temporary directory
    PENDING_SECONDS = 0.3      # the double's cluster state machine
    TERMINATING_SECONDS = 0.3

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix=cls.PREFIX)
        cls.token = "dapi" + secrets.token_hex(16)
        cls.ws = workspace.start_workspace(cls.tmp, [(cls.token, "me@example.com")],
                                           pending_seconds=cls.PENDING_SECONDS,
                                           terminating_seconds=cls.TERMINATING_SECONDS)

    @classmethod
    def tearDownClass(cls):
        cls.ws.stop()
        shutil.rmtree(cls.tmp)

    def setUp(self):
        self.ws.reset()
        self.home = tempfile.mkdtemp(dir=self.tmp)

    def env(self, token=None, host=None, **extra):
        """A run's environment; extra overrides, None removes."""
        env = {"PATH": "/usr/bin:/bin", "HOME": self.home,
               "DBROKER_PLUGIN_DIR": self.home,  # no plugins: env only
               "DATABRICKS_HOST": host or self.ws.url,
               "DATABRICKS_TOKEN": token or self.token}
        env.update({k: os.environ[k] for k in SANITIZER_VARS if k in os.environ})
        env.update(extra)
        return {k: v for k, v in env.items() if v is not None}

    def assert_no_secret(self, *texts, secret=None):
        for t in texts:
            for form in encodings(secret or self.token):
                self.assertNotIn(form, t or "")

    def signal_at_first_poll(self, cmd, sig=signal.SIGINT, path="clusters/get"):
        """Run cmd (a dbroker command line that waits), send it sig once its
        first request to path is in, and return (exit code, stdout, stderr),
        checked for the token."""
        proc = subprocess.Popen(cmd, env=self.env(), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 20
        while not self.ws.requests(path=path) and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=20)
        self.assert_no_secret(out, err)
        return proc.returncode, out, err
