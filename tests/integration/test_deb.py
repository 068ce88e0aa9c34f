"""The Debian package: `cpack -G DEB` from the build tree, its contents and
dependencies (dpkg-deb -c / -I), lintian's errors (when lintian is
installed), and `dpkg -i` into a throw-away root (--instdir/--admindir in
a temporary directory) from which `dbroker --version` runs.

Run by ctest with DBR_BINARY_DIR (the build tree to package) set. A
sanitizer build is not packaged: the package is made from a release build."""
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from buildtree import BUILD, sanitized_build  # noqa: E402


@unittest.skipIf(sanitized_build(), "a sanitizer build is not packaged")
class DebTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="dbr-deb-")
        # a builder's umask that lets the group write (user private groups)
        # must not leak into the package's modes
        umask = os.umask(0o002)
        try:
            p = subprocess.run(["cpack", "-G", "DEB", "--config",
                                os.path.join(BUILD, "CPackConfig.cmake"), "-B", cls.tmp],
                               capture_output=True, text=True, timeout=500)
        finally:
            os.umask(umask)
        if p.returncode != 0:
            raise RuntimeError("cpack failed:\n" + p.stdout + p.stderr)
        debs = [f for f in os.listdir(cls.tmp) if f.endswith(".deb")]
        if len(debs) != 1:
            raise RuntimeError("cpack made %r" % debs)
        cls.deb = os.path.join(cls.tmp, debs[0])

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp)

    def dpkg_deb(self, *args):
        return subprocess.run(["dpkg-deb", *args, self.deb], capture_output=True, text=True,
                              check=True).stdout

    def test_name_and_contents(self):
        self.assertRegex(os.path.basename(self.deb), r"^dbroker_\d+\.\d+\.\d+_amd64\.deb$")
        names = {line.split()[5].lstrip(".") for line in self.dpkg_deb("-c").splitlines()}
        for path in ("/usr/bin/dbroker", "/usr/lib/libdbroker.so.0",
                     "/usr/lib/dbroker/plugins/vault.so", "/usr/lib/dbroker/plugins/keyring.so",
                     "/usr/lib/dbroker/plugins/kernel.so", "/usr/include/dbroker/dbroker.h",
                     "/usr/lib/pkgconfig/dbroker.pc", "/usr/share/man/man1/dbroker.1.gz",
                     "/usr/share/man/man1/dbroker-clusters.1.gz",
                     "/usr/share/bash-completion/completions/dbroker",
                     "/usr/share/zsh/vendor-completions/_dbroker",
                     "/usr/share/man/man1/dbroker-agent.1.gz",
                     "/usr/lib/systemd/user/dbroker-agent.socket",
                     "/usr/lib/systemd/user/dbroker-agent.service",
                     "/usr/share/doc/dbroker/copyright", "/usr/share/doc/dbroker/changelog.gz"):
            self.assertIn(path, names)
        # nothing of the build machine or the tests
        self.assertFalse([n for n in names if "/usr/local" in n or "test" in n], names)

    def test_modes_and_owners(self):
        """Every directory 0755 and every file 0644 (0755 for the binary),
        all root's: dbroker refuses a plugin directory others can write."""
        for line in self.dpkg_deb("-c").splitlines():
            mode, owner, _size, _date, _time, name = line.split()[:6]
            self.assertEqual(owner, "root/root", line)
            if mode.startswith("l"):
                continue
            want = ("drwxr-xr-x" if mode.startswith("d") else
                    "-rwxr-xr-x" if name == "./usr/bin/dbroker" else "-rw-r--r--")
            self.assertEqual(mode, want, line)

    def test_control_and_dependencies(self):
        info = self.dpkg_deb("-I")
        fields = dict(re.findall(r"(?m)^ ([A-Z][\w-]+): (.*)$", info))
        self.assertEqual(fields["Package"], "dbroker")
        self.assertEqual(fields["Architecture"], "amd64")
        self.assertRegex(fields["Version"], r"^\d+\.\d+\.\d+$")
        deps = {d.split()[0] for d in fields["Depends"].split(", ")}
        # linked libraries (dpkg-shlibdeps) and libcurl and libcrypto (libssl3),
        # which are dlopen()ed
        for pkg in ("libc6", "libcurl4", "libcjson1", "libinih1", "libssl3",
                    "libsecret-1-0", "libkeyutils1", "libglib2.0-0"):
            self.assertIn(pkg, deps)
        # an ldconfig trigger, not maintainer scripts that run it
        self.assertIn("triggers", info)
        with tempfile.TemporaryDirectory() as d:
            subprocess.run(["dpkg-deb", "-e", self.deb, d], check=True)
            for script in ("postinst", "postrm"):
                with open(os.path.join(d, script)) as f:
                    self.assertNotIn("ldconfig\n", f.read())
            with open(os.path.join(d, "triggers")) as f:
                self.assertEqual(f.read(), "activate-noawait ldconfig\n")
            with open(os.path.join(d, "shlibs")) as f:
                self.assertRegex(f.read(), r"^libdbroker 0 dbroker \(>= \d+\.\d+\.\d+\)\n$")

    def test_agent_unit_starts_the_packaged_binary(self):
        """The package installs under /usr whatever prefix the build tree was
        configured with: its systemd unit must start /usr/bin/dbroker (and
        its md5sums must describe the unit it ships)."""
        unit = "usr/lib/systemd/user/dbroker-agent.service"
        with tempfile.TemporaryDirectory() as d:
            subprocess.run(["dpkg-deb", "-x", self.deb, d], check=True)
            with open(os.path.join(d, unit), "rb") as f:
                data = f.read()
            start = re.search(rb"(?m)^ExecStart=(\S+) ", data)
            self.assertIsNotNone(start, data)
            self.assertEqual(start.group(1), b"/usr/bin/dbroker")
            self.assertTrue(os.path.isfile(os.path.join(d, "usr", "bin", "dbroker")))
            subprocess.run(["dpkg-deb", "-e", self.deb, os.path.join(d, "DEBIAN")], check=True)
            with open(os.path.join(d, "DEBIAN", "md5sums")) as f:
                sums = dict(reversed(line.split()) for line in f)
            self.assertEqual(sums[unit], hashlib.md5(data).hexdigest())

    def test_lintian_finds_no_errors(self):
        if not shutil.which("lintian"):
            self.skipTest("lintian is not installed")
        p = subprocess.run(["lintian", "--allow-root", self.deb], capture_output=True,
                           text=True, timeout=500)
        errors = [line for line in p.stdout.splitlines() if line.startswith("E:")]
        self.assertEqual(errors, [], p.stdout)
        # warnings: only those of the layout chosen (one package holds the
        # tool, libdbroker and its development files, under /usr/lib)
        known = ("link-to-shared-library-in-wrong-package", "package-name-doesnt-match-sonames",
                 "pkg-config-unavailable-for-cross-compilation")
        warnings = [line for line in p.stdout.splitlines()
                    if line.startswith("W:") and line.split()[2] not in known]
        self.assertEqual(warnings, [], p.stdout)

    def test_installs_into_a_throwaway_root_and_runs(self):
        root = os.path.join(self.tmp, "root")
        admin = os.path.join(root, "var", "lib", "dpkg")
        os.makedirs(os.path.join(admin, "updates"))
        os.makedirs(os.path.join(admin, "info"))
        open(os.path.join(admin, "status"), "w").close()
        # dependencies are the host's (the throw-away root has none)
        p = subprocess.run(["dpkg", "--instdir=" + root, "--admindir=" + admin,
                            "--force-depends", "--force-script-chrootless", "--no-triggers",
                            "--log=/dev/null", "-i", self.deb],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        status = subprocess.run(["dpkg-query", "--admindir=" + admin, "-W",
                                 "-f=${Package} ${Status}", "dbroker"],
                                capture_output=True, text=True)
        self.assertIn("install ok", status.stdout)
        binary = os.path.join(root, "usr", "bin", "dbroker")
        env = {"PATH": "/usr/bin:/bin", "HOME": self.tmp}
        p = subprocess.run([binary, "--version"], capture_output=True, text=True, env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"^dbroker \d+\.\d+\.\d+\n$")
        # the libdbroker next to it, and its plugins, not anything on the host
        p = subprocess.run([binary, "-o", "json", "version"], capture_output=True, text=True,
                           env=env)
        self.assertIn(os.path.join(root, "usr", "lib", "dbroker", "plugins"), p.stdout)
        ldd = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
        self.assertRegex(ldd, r"libdbroker\.so\.0 => %s" % re.escape(
            os.path.join(root, "usr", "bin", "..", "lib", "libdbroker.so.0")))
        # removed, then purged: nothing of it is left outside dpkg's database
        for action in ("-r", "-P"):
            p = subprocess.run(["dpkg", "--instdir=" + root, "--admindir=" + admin,
                                "--force-script-chrootless", "--no-triggers", "--log=/dev/null",
                                action, "dbroker"], capture_output=True, text=True, timeout=120)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            left = [os.path.join(d, n) for d, dirs, files in os.walk(root)
                    for n in dirs + files]
            left = [f for f in left if f != admin and not f.startswith(admin + "/")]
            self.assertEqual(sorted(left), [os.path.join(root, "var"),
                                            os.path.join(root, "var", "lib")], action)


if __name__ == "__main__":
    unittest.main()
