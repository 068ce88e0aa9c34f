"""Another account on this machine, for the tests of what other local users
can and cannot do. Needs root (useradd, setpriv). Standard library only.

  u = LocalUser()           useradd a throw-away user (no home, no shell)
  u.name, u.uid, u.gid
  u.run(*cmd, env=None)     cmd as that user -> CompletedProcess (text)
  u.popen(*cmd, **kw)       the same, in the background (subprocess.Popen)
  u.remove()                userdel (call it from a cleanup: also on failure)
"""
import os
import pwd
import subprocess


class LocalUser:
    def __init__(self, prefix="dbrat"):
        self.name = "%s%d" % (prefix, os.getpid())
        subprocess.run(["userdel", self.name], capture_output=True)  # a killed run's
        subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin",
                        "--user-group", self.name], check=True, capture_output=True)
        pw = pwd.getpwnam(self.name)
        self.uid, self.gid = pw.pw_uid, pw.pw_gid

    def popen(self, *cmd, **kw):
        """cmd as this user, with its own group and no others."""
        return subprocess.Popen(["setpriv", f"--reuid={self.uid}", f"--regid={self.gid}",
                                 "--clear-groups", "--"] + list(cmd), **kw)

    def run(self, *cmd, timeout=30, env=None):
        """Run cmd as this user (proof that they can do it)."""
        p = self.popen(*cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, env=env)
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
        return subprocess.CompletedProcess(p.args, p.returncode, out, err)

    def remove(self):
        subprocess.run(["userdel", self.name], capture_output=True)
