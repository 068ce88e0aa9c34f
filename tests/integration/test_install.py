"""Install dbroker with `cmake --install --prefix` into a temporary prefix,
move the installed tree somewhere else (it must not care), and use it from
there: the main job (clusters create with the token from Vault, through the
installed vault.so found next to libdbroker), a program built against the
installed headers with pkg-config, the man pages and the shell completion.

Run by ctest with DBR_BINARY_DIR (the build tree to install) and
DBR_SOURCE_DIR set."""
import gzip
import json
import os
import re
import secrets
import shutil
import stat
import subprocess
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True
SRC = os.environ.get("DBR_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(SRC, "tests", "doubles"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from buildtree import BUILD, sanitized_build  # noqa: E402
import vault  # noqa: E402
import workspace  # noqa: E402
from secret_forms import encodings  # noqa: E402

WS_TOKEN = "dapi" + secrets.token_hex(16)
VAULT_TOKEN = "hvs." + secrets.token_urlsafe(24)
MAN_PAGES = ("dbroker", "dbroker-auth", "dbroker-clusters", "dbroker-jobs", "dbroker-api",
             "dbroker-agent")

TINY = r"""
#include <stdio.h>
#include <stdlib.h>
#include <dbroker/dbroker.h>

int main(void)
{
	struct dbr_err err = DBR_ERR_INIT;
	char *host = NULL;

	if (dbr_normalize_host("https://adb-1.azuredatabricks.net/?o=1", &host, &err)) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	printf("%s %s %s\n", dbr_version(), host, dbr_strerror(DBR_E_AUTH));
	free(host);
	return 0;
}
"""


class InstallTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="dbr-install-")
        first = os.path.join(cls.tmp, "opt", "dbroker")
        # an installer's umask that lets the group write (user private
        # groups) must not make the plugin directory one dbroker refuses
        umask = os.umask(0o002)
        try:
            subprocess.run(["cmake", "--install", BUILD, "--prefix", first], check=True,
                           capture_output=True, text=True)
        finally:
            os.umask(umask)
        # a relocatable tree works wherever it is moved to
        cls.prefix = os.path.join(cls.tmp, "moved", "dbroker")
        os.makedirs(os.path.dirname(cls.prefix))
        shutil.move(first, cls.prefix)
        cls.bin = os.path.join(cls.prefix, "bin", "dbroker")
        cls.home = os.path.join(cls.tmp, "home")
        os.makedirs(cls.home)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp)

    def path(self, *parts):
        return os.path.join(self.prefix, *parts)

    def env(self, **extra):
        env = {"PATH": "/usr/bin:/bin", "HOME": self.home}
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            if k in os.environ:
                env[k] = os.environ[k]
        env.update(extra)
        return {k: v for k, v in env.items() if v is not None}

    def run_dbr(self, *args, env=None, timeout=60):
        p = subprocess.run([self.bin, *args], env=env or self.env(), capture_output=True,
                           text=True, timeout=timeout)
        for t in (p.stdout, p.stderr):
            for s in (WS_TOKEN, VAULT_TOKEN):
                for form in encodings(s):
                    self.assertNotIn(form, t)
        return p

    # --- the installed tree ------------------------------------------------------

    def test_layout(self):
        for rel in (("bin", "dbroker"), ("lib", "libdbroker.so.0"),
                    ("include", "dbroker", "dbroker.h"), ("lib", "pkgconfig", "dbroker.pc"),
                    ("share", "bash-completion", "completions", "dbroker"),
                    ("share", "zsh", "vendor-completions", "_dbroker"),
                    ("share", "doc", "dbroker", "copyright"),
                    ("share", "doc", "dbroker", "changelog.gz")):
            self.assertTrue(os.path.isfile(self.path(*rel)), rel)
        for plugin in ("vault", "keyring", "kernel"):
            self.assertTrue(os.path.isfile(self.path("lib", "dbroker", "plugins",
                                                     plugin + ".so")), plugin)
        with open(self.path("share", "doc", "dbroker", "copyright")) as f:
            self.assertIn("MIT License", f.read())
        # nothing installed is writable by group or others, whatever the umask
        for root, dirs, files in os.walk(self.prefix):
            for name in dirs + files:
                st = os.lstat(os.path.join(root, name))
                if not stat.S_ISLNK(st.st_mode):
                    self.assertFalse(st.st_mode & 0o022, (os.path.join(root, name),
                                                          oct(st.st_mode)))
        # the binary finds libdbroker next to itself, in any prefix
        out = subprocess.run(["readelf", "-d", self.bin], capture_output=True, text=True,
                             check=True).stdout
        self.assertEqual(re.findall(r"\(RUNPATH\)\s+Library runpath: \[(.*)\]", out),
                         ["$ORIGIN/../lib"])
        # nothing installed names the directory it was first installed to
        for root, _, files in os.walk(self.prefix):
            for name in files:
                with open(os.path.join(root, name), "rb") as f:
                    self.assertNotIn(b"/opt/dbroker", f.read(), name)

    def test_pc_file_is_prefix_relative(self):
        with open(self.path("lib", "pkgconfig", "dbroker.pc")) as f:
            pc = f.read()
        self.assertIn("prefix=${pcfiledir}/../..\n", pc)
        for var in ("libdir", "includedir", "plugindir"):
            self.assertRegex(pc, r"(?m)^%s=\$\{prefix\}/" % var)
        env = dict(os.environ, PKG_CONFIG_PATH=self.path("lib", "pkgconfig"))
        got = subprocess.run(["pkg-config", "--variable=plugindir", "dbroker"], env=env,
                             capture_output=True, text=True, check=True).stdout.strip()
        self.assertEqual(os.path.realpath(got),
                         os.path.realpath(self.path("lib", "dbroker", "plugins")))

    def test_version_names_the_relative_plugin_dir(self):
        p = self.run_dbr("version")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"^dbroker \d+\.\d+\.\d+\n$")
        p = self.run_dbr("-o", "json", "version")
        self.assertEqual(p.returncode, 0, p.stderr)
        out = json.loads(p.stdout)
        self.assertEqual(os.path.realpath(out["plugin_dir"]),
                         os.path.realpath(self.path("lib", "dbroker", "plugins")))
        # DBROKER_PLUGIN_DIR and --plugin-dir still win
        p = self.run_dbr("-o", "json", "version", env=self.env(DBROKER_PLUGIN_DIR="/nowhere"))
        self.assertEqual(json.loads(p.stdout)["plugin_dir"], "/nowhere")
        p = self.run_dbr("--plugin-dir", "/elsewhere", "-o", "json", "version")
        self.assertEqual(json.loads(p.stdout)["plugin_dir"], "/elsewhere")

    def describe_vault(self, **extra):
        return self.run_dbr("--chain", "vault", "auth", "describe",
                            env=self.env(DATABRICKS_HOST="https://h.example", **extra))

    def test_installed_plugin_dir_others_can_write_refused(self):
        plugins = os.path.realpath(self.path("lib", "dbroker", "plugins"))
        self.assertEqual(stat.S_IMODE(os.stat(plugins).st_mode), 0o755)
        os.chmod(plugins, 0o775)
        try:
            p = self.describe_vault()
        finally:
            os.chmod(plugins, 0o755)
        self.assertEqual(p.returncode, 4, p.stderr)
        self.assertIn("plugin directory '%s' is writable by group or others" % plugins, p.stderr)
        self.assertIn("chmod go-w %s" % plugins, p.stderr)

    def test_plugin_dir_another_user_owns_refused(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to give the directory to another user")
        theirs = os.path.realpath(os.path.join(self.tmp, "theirs"))
        shutil.copytree(self.path("lib", "dbroker", "plugins"), theirs)
        os.chmod(theirs, 0o755)
        os.chown(theirs, 65534, 65534)
        p = self.describe_vault(DBROKER_PLUGIN_DIR=theirs)
        self.assertEqual(p.returncode, 4, p.stderr)
        self.assertIn("plugin directory '%s' is owned by uid 65534" % theirs, p.stderr)
        self.assertIn("chown root %s" % theirs, p.stderr)
        # the same plugins, in a directory of root's: vault.so loads (and
        # finds no Vault to ask)
        os.chown(theirs, 0, 0)
        p = self.describe_vault(DBROKER_PLUGIN_DIR=theirs)
        self.assertRegex(p.stdout, r"(?m)^  vault ")
        self.assertNotIn("plugin", p.stdout + p.stderr)

    def test_empty_plugin_dir_refused(self):
        # an empty --plugin-dir (an unset variable: --plugin-dir "$DIR") is
        # a mistake, not the root directory; an empty DBROKER_PLUGIN_DIR is
        # as good as unset
        p = self.run_dbr("--plugin-dir", "", "-o", "json", "version")
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertIn("the plugin directory is empty", p.stderr)
        self.assertEqual(p.stdout, "")
        p = self.run_dbr("-o", "json", "version", env=self.env(DBROKER_PLUGIN_DIR=""))
        self.assertEqual(os.path.realpath(json.loads(p.stdout)["plugin_dir"]),
                         os.path.realpath(self.path("lib", "dbroker", "plugins")))

    # --- the main job, from the moved prefix -------------------------------------------

    def test_main_job_from_the_prefix(self):
        ws = workspace.start_workspace(self.tmp, [(WS_TOKEN, "me@example.com")],
                                       pending_seconds=0.3, terminating_seconds=0.3)
        v = vault.start_vault(self.tmp, tokens={VAULT_TOKEN: {}},
                              secrets_={"secret/demo": {"token": WS_TOKEN, "host": ws.url}})
        try:
            cfg = os.path.join(self.home, ".databrickscfg")
            with open(cfg, "w") as f:
                f.write("[DEFAULT]\nvault_path = secret/demo\n")
            os.chmod(cfg, 0o600)
            env = self.env(VAULT_ADDR=v.url, VAULT_CACERT=v.ca_file, VAULT_TOKEN=VAULT_TOKEN)
            # no DBROKER_PLUGIN_DIR: vault.so is found next to the installed libdbroker
            p = self.run_dbr("--chain", "vault", "--ca-cert", ws.ca_file, "clusters", "create",
                             env=env)
            self.assertEqual(p.returncode, 0, p.stderr)
            out = json.loads(p.stdout)
            self.assertEqual(out["state"], "RUNNING")
            creates = ws.requests(path="clusters/create")
            self.assertEqual(len(creates), 1)
            auth = [h for k, h in creates[0]["headers"] if k.lower() == "authorization"]
            self.assertEqual(auth, ["Bearer " + WS_TOKEN])
            p = self.run_dbr("--chain", "vault", "--ca-cert", ws.ca_file, "clusters", "list",
                             env=env)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertRegex(p.stdout, r"(?m)^ID\s+Name\s+State\n%s\s+\S+\s+RUNNING$"
                             % re.escape(out["cluster_id"]))
        finally:
            v.stop()
            ws.stop()

    # --- building against the installed headers ---------------------------------------

    def test_pkg_config_builds_a_program(self):
        env = dict(os.environ, PKG_CONFIG_PATH=self.path("lib", "pkgconfig"))

        def pkg(*args):
            return subprocess.run(["pkg-config", *args, "dbroker"], env=env,
                                  capture_output=True, text=True, check=True).stdout.split()

        self.assertEqual(os.path.realpath(pkg("--variable=prefix")[0]),
                         os.path.realpath(self.prefix))
        src = os.path.join(self.tmp, "tiny.c")
        exe = os.path.join(self.tmp, "tiny")
        with open(src, "w") as f:
            f.write(TINY)
        libdir = pkg("--variable=libdir")[0]
        extra = ["-fsanitize=address,undefined"] if sanitized_build() else []
        p = subprocess.run(["cc", "-std=c11", "-Wall", "-Werror", *extra, src, "-o", exe,
                            *pkg("--cflags"), *pkg("--libs"), "-Wl,-rpath," + libdir],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        p = subprocess.run([exe], capture_output=True, text=True, env=self.env())
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"^\d+\.\d+\.\d+ https://adb-1\.azuredatabricks\.net \S")
        # the include path is the installed one, never the source tree
        self.assertNotIn(SRC, " ".join(pkg("--cflags")))

    def test_pkg_config_needs_no_other_dev_package(self):
        """Only libdbroker.so is installed, and its public headers include no
        other library's: dbroker.pc must resolve with no other .pc file
        (cJSON's, inih's and OpenSSL's -dev packages are not dependencies of
        the .deb)."""
        env = dict(os.environ, PKG_CONFIG_LIBDIR=self.path("lib", "pkgconfig"))
        env.pop("PKG_CONFIG_PATH", None)
        for args in (["--cflags"], ["--libs"], ["--exists"]):
            p = subprocess.run(["pkg-config", *args, "dbroker"], env=env,
                               capture_output=True, text=True)
            self.assertEqual(p.returncode, 0, p.stderr)

    # --- man pages and completion -------------------------------------------------------

    def global_options(self):
        """The global options 'dbroker --help' lists."""
        usage = self.run_dbr("--help").stdout
        options = re.findall(r"(?m)^\s+(?:-\w, )?(--[a-z][a-z-]+)",
                             usage.split("global options", 1)[1])
        self.assertIn("--plugin-dir", options)
        return options

    def test_man_pages(self):
        man1 = self.path("share", "man", "man1")
        for page in MAN_PAGES:
            with gzip.open(os.path.join(man1, page + ".1.gz"), "rt") as f:
                text = f.read()
            self.assertIn('.TH "%s" "1"' % page, text, page)
            self.assertIn(".SH NAME", text, page)
            self.assertIn(".SH SYNOPSIS", text, page)
        for alias in ("login", "logout"):
            with gzip.open(os.path.join(man1, "dbroker-%s.1.gz" % alias), "rt") as f:
                self.assertEqual(f.read(), ".so man1/dbroker-auth.1\n")
        with gzip.open(os.path.join(man1, "dbroker-clusters.1.gz"), "rt") as f:
            self.assertIn("no-wait", f.read())
        # dbroker(1) describes every global option that --help lists
        with gzip.open(os.path.join(man1, "dbroker.1.gz"), "rt") as f:
            text = f.read().replace("\\-", "-")
        for opt in self.global_options():
            self.assertIn("\\fB%s\\fR" % opt, text, opt)
        if shutil.which("man"):
            p = subprocess.run(["man", "-l", os.path.join(man1, "dbroker.1.gz")],
                               capture_output=True, text=True, env=dict(os.environ, MANPAGER="cat",
                                                                       PAGER="cat"))
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn("credential and request broker", p.stdout)

    def complete(self, *words, cfg=None):
        """COMPREPLY of the installed bash completion for the command line
        words (the last one is the word being completed)."""
        script = ('source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); '
                  'COMP_LINE="$*"; _dbroker; printf "%s\\n" "${COMPREPLY[@]}"')
        env = self.env(DATABRICKS_CONFIG_FILE=cfg)
        p = subprocess.run(["bash", "--norc", "-c", script, "complete",
                            self.path("share", "bash-completion", "completions", "dbroker"),
                            "dbroker", *words], capture_output=True, text=True, env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout.split()

    def test_bash_completion(self):
        self.assertEqual(self.complete("clu"), ["clusters"])
        self.assertEqual(self.complete("clusters", "de"), ["delete"])
        self.assertIn("--no-wait", self.complete("clusters", "delete", "--n"))
        self.assertEqual(self.complete("-o", ""), ["text", "json"])
        self.assertEqual(sorted(self.complete("jobs", "list")), ["list", "list-runs"])
        self.assertEqual(self.complete("help", "ver"), ["version"])
        self.assertEqual(self.complete("api", "P"), ["POST", "PUT", "PATCH"])
        self.assertEqual(self.complete("agent", "st"), ["start", "status", "stop"])
        self.assertIn("--foreground", self.complete("agent", "start", "--f"))
        # every global option, its value skipped when finding the command
        self.assertEqual(sorted(self.complete("--")), sorted(self.global_options()))
        self.assertEqual(self.complete("--auth-type", ""), ["pat", "oauth-m2m"])
        self.assertEqual(self.complete("--auth-type", "pat", "clu"), ["clusters"])
        cfg = os.path.join(self.tmp, "completion.cfg")
        with open(cfg, "w") as f:
            f.write("[DEFAULT]\nhost = h\n[prod]\nhost = p\n  [staging]\n")
        self.assertEqual(self.complete("-p", "", cfg=cfg), ["DEFAULT", "prod", "staging"])
        self.assertEqual(self.complete("--profile", "st", cfg=cfg), ["staging"])

    def test_systemd_units(self):
        """The agent's user units: socket activation on the default socket,
        the service starting the installed binary in the foreground."""
        units = self.path("lib", "systemd", "user")
        with open(os.path.join(units, "dbroker-agent.socket")) as f:
            sock = f.read()
        self.assertIn("ListenStream=%t/dbroker/agent.sock", sock)
        self.assertIn("SocketMode=0600", sock)
        with open(os.path.join(units, "dbroker-agent.service")) as f:
            svc = f.read()
        start = re.search(r"(?m)^ExecStart=(\S+) (.*)$", svc)
        self.assertIsNotNone(start, svc)
        # the prefix configured at build time (a unit cannot be relocated)
        self.assertRegex(start.group(1), r"^/.*/bin/dbroker$")
        self.assertIn("agent start --foreground", start.group(2))
        self.assertIn("LimitCORE=0", svc)

    def test_zsh_completion(self):
        path = self.path("share", "zsh", "vendor-completions", "_dbroker")
        with open(path) as f:
            text = f.read()
        self.assertTrue(text.startswith("#compdef dbroker"))
        for opt in self.global_options():
            self.assertRegex(text, r"%s(\}')?\[" % re.escape(opt))
        if not shutil.which("zsh"):
            self.skipTest("zsh is not installed: only the #compdef line was checked")
        p = subprocess.run(["zsh", "-n", path], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)


if __name__ == "__main__":
    unittest.main()
