"""End-to-end tests of the dbroker command: options, help, exit codes,
auth describe, bad configuration, files and plugins, and that the token
never appears in any output or file (every run is checked).

Run by ctest with DBROKER_BIN pointing at the built binary and
DBR_BINARY_DIR at the build tree (its tests/plugins: broken plugins)."""
import json
import os
import pty
import re
import resource
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
from pty_read import read_pty  # noqa: E402

BIN = os.environ.get("DBROKER_BIN", "dbroker")
TEST_PLUGINS = os.path.join(os.environ.get("DBR_BINARY_DIR", ""), "tests", "plugins")


def new_token():
    return "dapi" + secrets.token_hex(16)


class CliTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="dbr-cli-")
        self.home = os.path.join(self.tmp, "home")
        self.plugins = os.path.join(self.tmp, "plugins")  # empty: no vault/keyring
        os.makedirs(self.home)
        os.makedirs(self.plugins, mode=0o700)
        self.cfg = os.path.join(self.home, ".databrickscfg")
        self.token = new_token()

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def env(self, **extra):
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": self.home,
            "DBROKER_PLUGIN_DIR": self.plugins,
        }
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            if k in os.environ:
                env[k] = os.environ[k]
        env.update({k: v for k, v in extra.items() if v is not None})
        return env

    def run_dbr(self, *args, env=None, stdin=None):
        p = subprocess.run([BIN, *args], env=env or self.env(), input=stdin,
                           capture_output=True, text=True, timeout=30)
        self.assert_no_token(p.stdout, p.stderr)
        return p

    def canary(self, **extra):
        """The environment with the run's token in DATABRICKS_TOKEN: a run
        that fails must not show it either."""
        return self.env(DATABRICKS_TOKEN=self.token, **extra)

    def write_cfg(self, text, mode=0o600):
        with open(self.cfg, "w") as f:
            f.write(text)
        os.chmod(self.cfg, mode)

    def assert_no_token(self, *texts):
        for t in texts:
            self.assertNotIn(self.token, t)
            self.assertNotIn(self.token[4:], t)

    def assert_no_token_in_files(self):
        for root, _, files in os.walk(self.tmp):
            for name in files:
                with open(os.path.join(root, name), "rb") as f:
                    data = f.read()
                self.assertNotIn(self.token.encode(), data, name)

    # --- help, version, usage -------------------------------------------------

    def test_version(self):
        p = self.run_dbr("--version")
        self.assertEqual(p.returncode, 0)
        self.assertRegex(p.stdout, r"^dbroker \d+\.\d+\.\d+\n$")

    def test_libraries_never_loaded_from_the_working_directory(self):
        # an empty RUNPATH entry means "the current directory": a library
        # planted there would run inside dbroker, next to the token
        out = subprocess.run(["readelf", "-d", BIN], capture_output=True, text=True,
                             check=True).stdout
        paths = re.findall(r"R(?:UN)?PATH\)\s+Library r(?:un)?path: \[(.*)\]", out)
        for p in paths:
            for entry in p.split(":"):
                self.assertTrue(entry.startswith("$ORIGIN") or entry.startswith("/"),
                                "RUNPATH entry %r of %r" % (entry, p))
        planted = os.path.join(self.tmp, "cwd")
        os.makedirs(planted)
        for lib in ("libdbroker.so.0", "libcrypto.so.3", "libcjson.so.1", "libc.so.6"):
            with open(os.path.join(planted, lib), "wb") as f:
                f.write(b"not a library\n")
        p = subprocess.run([BIN, "--version"], env=self.env(), cwd=planted,
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"^dbroker \d+\.\d+\.\d+\n$")
        # libcrypto is dlopen()ed when a secret comes (its fingerprint here):
        # the system's, not the planted one
        p = subprocess.run([BIN, "auth", "describe"], cwd=planted, env=self.env(
            DATABRICKS_HOST="https://adb-1.azuredatabricks.net",
            DATABRICKS_TOKEN="dapi0123456789abcdef0123456789abcdef"),
            capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("sha256:033a2607", p.stdout)

    def test_libcrypto_not_linked(self):
        # loaded only when needed (src/core/crypto_lazy.c): a client of the
        # agent never maps it
        out = subprocess.run(["ldd", BIN], capture_output=True, text=True,
                             check=True).stdout
        self.assertIn("libdbroker.so.0", out)
        self.assertNotIn("libcrypto", out)
        self.assertNotIn("libssl", out)

    def test_commands_without_requests_load_no_http_stack(self):
        # libcurl and libmicrohttpd (with GnuTLS) load on first use only: a
        # command that sends nothing and serves nothing starts without them
        env = self.canary(DATABRICKS_HOST="https://adb-1.azuredatabricks.net",
                          LD_DEBUG="files")
        p = subprocess.run([BIN, "--chain", "env", "auth", "describe"], env=env,
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr[-2000:])
        self.assertIn("libcrypto", p.stderr)  # the loader did report its files
        for lib in ("libcurl", "libmicrohttpd", "libgnutls"):
            self.assertNotIn(lib, p.stderr)

    def test_help_on_every_level(self):
        for args in (["--help"], ["-h"], ["help"], ["auth", "--help"],
                     ["auth", "describe", "--help"]):
            p = self.run_dbr(*args)
            self.assertEqual(p.returncode, 0, args)
            self.assertIn("usage: dbroker", p.stdout, args)
        self.assertIn("exit codes", self.run_dbr("--help").stdout)
        self.assertIn("never printed", self.run_dbr("auth", "describe", "--help").stdout)
        self.assertIn("may have taken effect: it exits 10",
                      " ".join(self.run_dbr("api", "--help").stdout.split()))

    def test_every_help_teaches(self):
        # each command's and subcommand's help names the form, shows an
        # example and says what its exit status means; before, most of
        # them had no example or no exit status, 'auth --help' left out
        # [global options], and 'tokens' showed a --lifetime with a
        # default as if it were required
        leaves = (["clusters", "create"], ["clusters", "get"], ["clusters", "list"],
                  ["clusters", "delete"], ["jobs", "run-now"], ["jobs", "submit"],
                  ["jobs", "get-run"], ["jobs", "get-run-output"], ["jobs", "cancel-run"],
                  ["jobs", "list"], ["jobs", "list-runs"], ["api"], ["auth", "describe"],
                  ["login"], ["logout"], ["tokens"], ["tokens", "create"], ["exec"],
                  ["agent"], ["agent", "start"], ["version"])
        for args in leaves:
            for form in (args + ["--help"], ["help"] + args):
                p = self.run_dbr(*form)
                self.assertEqual(p.returncode, 0, form)
                self.assertTrue(p.stdout.startswith("usage: dbroker [global options] "),
                                (form, p.stdout[:80]))
                self.assertIn("example", p.stdout, form)
                self.assertIn("exit status:", p.stdout, form)
                self.assertIn("'dbroker --help'", p.stdout, form)  # the other codes
        for family in ("clusters", "jobs", "auth"):
            p = self.run_dbr(family, "--help")
            self.assertTrue(p.stdout.startswith("usage: dbroker [global options] "), family)
            self.assertIn("'dbroker %s " % family, p.stdout)  # where the options are
        self.assertIn("tokens create --comment TEXT [--lifetime D]",
                      self.run_dbr("tokens", "--help").stdout)
        self.assertIn("--wait", self.run_dbr("clusters", "delete", "--help").stdout)

    def test_top_level_help_fits_an_80_column_terminal(self):
        # lines of up to 90 columns wrapped on a standard terminal
        for line in self.run_dbr("--help").stdout.splitlines():
            self.assertLessEqual(len(line), 79, line)

    def test_usage_errors(self):
        env = self.canary()
        p = self.run_dbr(env=env)
        self.assertEqual(p.returncode, 2)
        self.assertIn("usage:", p.stderr)
        p = self.run_dbr("frobnicate", env=env)
        self.assertEqual(p.returncode, 2)
        self.assertIn("unknown command 'frobnicate'", p.stderr)
        self.assertIn("run 'dbroker --help' for the list", p.stderr)
        p = self.run_dbr("--frobnicate", "auth", "describe", env=env)
        self.assertEqual(p.returncode, 2)
        self.assertIn("unknown option '--frobnicate'", p.stderr)
        self.assertIn("'dbroker <command> --help'", p.stderr)
        p = self.run_dbr("auth", "describe", "--frobnicate", env=env)
        self.assertEqual(p.returncode, 2)
        self.assertIn("unexpected argument '--frobnicate' to 'auth describe' (see --help)",
                      p.stderr)
        p = self.run_dbr("auth", "describe", "-o", "yaml", env=env)
        self.assertEqual(p.returncode, 2)
        self.assertIn("'yaml': use 'text' or 'json'", p.stderr)
        p = self.run_dbr("auth", "describe", "--log-level", env=env)
        self.assertEqual(p.returncode, 2)
        self.assertIn("needs a value", p.stderr)
        self.assertIn("run 'dbroker --help'", p.stderr)
        p = self.run_dbr("auth", "nope", env=env)
        self.assertEqual(p.returncode, 2)
        self.assertIn("see 'dbroker auth --help'", p.stderr)
        # an empty value is an unset variable ('--ca-cert "$CA"'), not a
        # choice: before, the system's CAs were trusted instead of the one
        # meant, and '' was read as the configuration file
        for opt, want in (("--ca-cert", "the CA file is empty: give --ca-cert a PEM file"),
                          ("--config-file", "the configuration file is empty: give "
                           "--config-file a file"),
                          ("--profile", "the profile name is empty")):
            p = self.run_dbr(opt, "", "auth", "describe", env=env)
            self.assertEqual(p.returncode, 2, opt)
            self.assertIn(want, p.stderr)
            self.assertEqual(p.stdout, "", opt)

    def test_a_mistyped_command_gets_a_suggestion(self):
        for args, want in ((["cluster", "list"], "unknown command 'cluster': did you mean "
                            "'clusters'?"),
                           (["lgoin"], "unknown command 'lgoin': did you mean 'login'?"),
                           (["clusters", "lst"], "unknown subcommand 'clusters lst': did "
                            "you mean 'clusters list'? (see 'dbroker clusters --help')"),
                           (["jobs", "runnow", "1"], "did you mean 'jobs run-now'?"),
                           (["auth", "descirbe"], "did you mean 'auth describe'?")):
            p = self.run_dbr(*args)
            self.assertEqual(p.returncode, 2, args)
            self.assertIn(want, p.stderr, args)
        # no guess when nothing is close, nor for a word too short to tell
        for args in (["frobnicate"], ["ls"], ["clusters", "ls"]):
            p = self.run_dbr(*args)
            self.assertEqual(p.returncode, 2, args)
            self.assertNotIn("did you mean", p.stderr, args)

    def test_double_dash_ends_the_options(self):
        # 'dbroker jobs get-run -- "$ID"', as careful scripts write it, was
        # refused: "unexpected argument '--'"
        p = self.run_dbr("version", "--")
        self.assertEqual(p.returncode, 0, p.stderr)
        p = self.run_dbr("clusters", "create", "--dry-run", "--")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("idempotency_token", p.stdout)
        p = self.run_dbr("jobs", "get-run", "--", "x")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("'x' is not a run id", p.stderr)  # the operand, not '--'
        # only the first one: a second is an operand like any other
        p = self.run_dbr("jobs", "get-run", "--", "--", "1")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("unexpected argument '--'", p.stderr)

    def test_option_given_twice_refused(self):
        # the second value silently replaced the first: '--json' twice sent
        # one spec and dropped the other, '-o json ... -o text' printed text
        env = self.canary(DATABRICKS_HOST="https://adb-1.azuredatabricks.net")
        for args, name in ((["-o", "json", "version", "-o", "text"], "-o"),
                           (["-p", "a", "--profile=b", "auth", "describe"], "--profile"),
                           (["clusters", "create", "--dry-run", "--name=first",
                             "--name=second"], "--name"),
                           (["clusters", "list", "--limit", "5", "--limit", "3"], "--limit"),
                           (["api", "GET", "/api/2.1/clusters/get", "--json", "{}",
                             "--json", '{"cluster_id": "x"}'], "--json"),
                           # these have defaults: given once they are fine
                           (["tokens", "create", "--comment", "x", "--lifetime", "1h",
                             "--lifetime", "2h"], "--lifetime"),
                           (["logout", "--store", "kernel", "--store", "keyring"], "--store"),
                           (["exec", "--port", "0", "--port=1", "--", "true"], "--port")):
            p = self.run_dbr(*args, env=env)
            self.assertEqual(p.returncode, 2, (args, p.stderr))
            self.assertIn("option '%s' is given twice, with different values: give it once"
                          % name, p.stderr, args)
            self.assertNotIn("second", p.stderr)  # the name only, not its value
            self.assertEqual(p.stdout, "", args)
        # the same value again (an alias that adds '-o json') loses nothing
        p = self.run_dbr("-o", "json", "version", "--output=json", env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout)["version"], self.run_dbr("version").stdout.split()[1])

    def test_stdout_write_errors_reported_for_help_and_version(self):
        # usage and version text went through stdio unchecked: a full disk
        # or a closed stdout lost it and dbroker exited 0
        for args in (["--help"], ["help"], ["--version"], ["help", "clusters", "create"],
                     ["clusters", "--help"], ["tokens", "--help"]):
            with open("/dev/full", "w") as full:
                p = subprocess.run([BIN, *args], env=self.env(), stdout=full,
                                   stderr=subprocess.PIPE, text=True, timeout=30)
            self.assertEqual(p.returncode, 1, args)
            self.assertIn("cannot write", p.stderr, args)
            self.assertIn("No space left on device", p.stderr, args)
        p = subprocess.run([BIN, "--version"], env=self.env(), stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True, timeout=30,
                           preexec_fn=lambda: os.close(1))
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("cannot write to stdout", p.stderr)

    def test_empty_option_values_refused(self):
        # "" is an unset variable ('--chain "$CHAIN"'): before, the default
        # chain or auth type was used instead of the one meant, the profile's
        # host instead of --host, and an empty socket named the directory
        env = self.canary(DATABRICKS_HOST="https://adb-1.azuredatabricks.net")
        for args, want in (
                (["--chain", "", "auth", "describe"], "the chain is empty"),
                (["--auth-type=", "auth", "describe"], "the auth type is empty"),
                (["--log-file", "", "version"], "the log file is empty"),
                (["login", "--host", ""], "the host is empty: give --host"),
                (["login", "--host", "https://adb-1.azuredatabricks.net", "--oauth-m2m",
                  "--client-id", ""], "the client id is empty"),
                (["agent", "start", "--socket", ""], "the socket path is empty")):
            p = self.run_dbr(*args, env=env, stdin="")
            self.assertEqual(p.returncode, 2, (args, p.stderr))
            self.assertIn(want, p.stderr, args)
            self.assertEqual(p.stdout, "", args)

    def test_malformed_arguments_are_usage_errors(self):
        # the caller's input, refused before anything is sent: exit 2, not
        # 4 (a configuration error)
        env = self.canary(DATABRICKS_HOST="https://adb-1.azuredatabricks.net")
        for args, want in (
                (["api", "GET", "/api/2.1/clusters/list x"], "percent-encode it"),
                (["api", "GET", "/api/2.1/clusters/list\nx"], "percent-encode it"),
                (["tokens", "revoke", ""], "'dbroker tokens list' shows the ids"),
                (["tokens", "revoke", "a b"], "'dbroker tokens list' shows the ids")):
            p = self.run_dbr(*args, env=env, stdin="")
            self.assertEqual(p.returncode, 2, (args, p.stderr))
            self.assertIn(want, p.stderr, args)
        p = self.run_dbr("api", "FETCH", "/api/2.1/clusters/list", env=env)
        self.assertIn("use GET, HEAD, POST, PUT, PATCH or DELETE", p.stderr)

    def test_json_from_a_terminal_says_how_to_end_it(self):
        # '--json -' with stdin a terminal waited without a word, like a hang
        master, slave = pty.openpty()
        self.addCleanup(os.close, master)
        job = subprocess.Popen([BIN, "clusters", "create", "--dry-run", "--json", "-"],
                               env=self.env(), stdin=slave, stdout=slave, stderr=slave)
        os.close(slave)
        self.addCleanup(job.wait, 30)
        self.addCleanup(job.kill)  # first: a run still waiting for input
        shown = read_pty(master, b"Ctrl-D on a line of its own", timeout=20)
        self.assertIn(b"reading the JSON from the terminal", shown)
        os.write(master, b'{"spark_version": "15.4.x-scala2.12", "node_type_id": "x", '
                         b'"num_workers": 1}\n\x04')
        shown += read_pty(master, b"idempotency_token", timeout=20)
        self.assertEqual(job.wait(30), 0, shown[-400:])
        self.assertIn(b'"node_type_id":\t"x"', shown)
        # not from a pipe: nothing is said there
        p = self.run_dbr("clusters", "create", "--dry-run", "--json", "-",
                         stdin='{"spark_version": "15.4.x-scala2.12", "node_type_id": "x", '
                               '"num_workers": 1}')
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn("reading the JSON", p.stderr)

    # --- secrets are never flags ------------------------------------------------

    def test_secret_flags_refused(self):
        for args in (["--token", self.token, "auth", "describe"],
                     ["auth", "describe", "--token=" + self.token],
                     ["auth", "describe", "--password", "hunter2hunter2"],
                     ["--secret-id=abc", "auth", "describe"]):
            p = self.run_dbr(*args)
            self.assertEqual(p.returncode, 2, args)
            self.assertIn("dbroker login", p.stderr)
            self.assertEqual(p.stdout, "")
            self.assert_no_token(p.stdout, p.stderr)

    def test_token_shaped_argument_refused(self):
        p = self.run_dbr("auth", "describe", self.token)
        self.assertEqual(p.returncode, 2)
        self.assertIn("revoke it", p.stderr)
        self.assert_no_token(p.stdout, p.stderr)

    def test_token_shaped_option_values_refused(self):
        # the value of a global option escaped the check: '-o dapi...' was
        # echoed in full in "unknown output format"; a service principal's
        # secret ("dose" + 32 hex) and a Vault token inside an argument were
        # not recognised at all
        sp_secret = "dose" + secrets.token_hex(16)
        vault = "hvs.CAES" + secrets.token_hex(16)
        for args in (["-o", self.token, "version"],
                     ["--log-level", "x" + self.token, "version"],
                     ["--profile", self.token, "auth", "describe"],
                     ["exec", "--mint", self.token, "--", "true"],
                     ["clusters", "get", sp_secret],
                     ["--frobnicate=" + vault, "version"],
                     ["clusters", "create", "--dry-run", "--name", "x-" + vault]):
            p = self.run_dbr(*args)
            self.assertEqual(p.returncode, 2, (args, p.stderr))
            self.assertIn("an argument looks like a token and was refused", p.stderr)
            self.assertEqual(p.stdout, "", args)
            for secret in (sp_secret, vault, vault[4:], sp_secret[4:]):
                self.assertNotIn(secret, p.stderr, args)

    def test_early_errors_masked_and_escaped(self):
        # an unknown command or option was written as it came, before any
        # masker: an escape sequence reached the terminal (here one that
        # sets its title), a line break forged a line, a bearer token showed
        for args, shown, hidden in (
                (["--x=a\x1b]0;title\x07b", "version"], "'--x=a\\x1b]0;title\\x07b'",
                 "\x1b"),
                (["co\nmmand"], "unknown command 'co\\nmmand'", "co\n"),
                (["--x=Bearer abcdefghijk12345"], "unknown option '--x=Bearer ***'",
                 "abcdefghijk12345"),
                (["-o", "a\x1b[2J", "version"], "unknown output format 'a\\x1b[2J'",
                 "\x1b")):
            p = self.run_dbr(*args)
            self.assertEqual(p.returncode, 2, (args, p.stderr))
            self.assertIn(shown, p.stderr, args)
            self.assertNotIn(hidden, p.stderr, args)

    # --- auth describe ----------------------------------------------------------

    def test_describe_from_env(self):
        p = self.run_dbr("auth", "describe",
                         env=self.env(DATABRICKS_TOKEN=self.token,
                                      DATABRICKS_HOST="adb-1.example.net"))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("source:     env", p.stdout)
        self.assertIn("https://adb-1.example.net (from env)", p.stdout)
        self.assertIn("dapi\u2026" + self.token[-4:], p.stdout)
        self.assertRegex(p.stdout, r"sha256:[0-9a-f]{8}")
        self.assertRegex(p.stdout, r"vault\s+not asked")
        self.assert_no_token(p.stdout, p.stderr)

    def test_describe_json(self):
        p = self.run_dbr("-o", "json", "auth", "describe",
                         env=self.env(DATABRICKS_TOKEN=self.token,
                                      DATABRICKS_HOST="https://h.example"))
        self.assertEqual(p.returncode, 0, p.stderr)
        doc = json.loads(p.stdout)
        self.assertEqual(doc["credential"]["source"], "env")
        self.assertEqual(doc["credential"]["host"], "https://h.example")
        self.assertTrue(doc["credential"]["token_fingerprint"].startswith("sha256:"))
        self.assertEqual([x["name"] for x in doc["providers"]],
                         ["env", "vault", "kernel", "keyring", "profile"])
        self.assertEqual(doc["providers"][0]["answer"], "found")
        self.assertEqual(doc["chain_origin"], "default")
        self.assert_no_token(p.stdout, p.stderr)

    def test_debug_and_log_file_are_masked(self):
        log = os.path.join(self.tmp, "dbroker.log")
        p = self.run_dbr("--debug", "--log-file", log, "auth", "describe",
                         env=self.env(DATABRICKS_TOKEN=self.token,
                                      DATABRICKS_HOST="https://h.example"))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("dbroker: debug: chain: env: found", p.stderr)
        self.assertEqual(stat.S_IMODE(os.stat(log).st_mode), 0o600)
        with open(log) as f:
            text = f.read()
        self.assertIn("debug chain: env: found", text)
        self.assert_no_token(p.stdout, p.stderr, text)
        self.assert_no_token_in_files()

    def test_log_file_open_to_others_refused(self):
        log = os.path.join(self.tmp, "shared.log")
        with open(log, "w"):
            pass
        os.chmod(log, 0o644)
        p = self.run_dbr("--log-file", log, "auth", "describe",
                         env=self.env(DATABRICKS_TOKEN=self.token))
        self.assertEqual(p.returncode, 4)
        self.assertIn("chmod 600", p.stderr)
        link = os.path.join(self.tmp, "link.log")
        os.symlink(log, link)
        p = self.run_dbr("--log-file", link, "auth", "describe", env=self.canary())
        self.assertEqual(p.returncode, 4)
        self.assertIn("is a symbolic link: give the real path", p.stderr)
        with open(log) as f:
            self.assertEqual(f.read(), "")

    def test_no_credential(self):
        # the canary sits in another profile, which is not asked
        self.write_cfg("[DEFAULT]\nhost = https://h.example\n[other]\ntoken = %s\n" % self.token)
        p = self.run_dbr("auth", "describe")
        self.assertEqual(p.returncode, 3)
        self.assertIn("env: DATABRICKS_TOKEN is not set", p.stderr)
        self.assertIn("vault: plugin not installed", p.stderr)
        self.assertIn("dbroker login", p.stderr)
        self.assertRegex(p.stdout, r"env\s+not here")

    def test_no_credential_json(self):
        p = self.run_dbr("-o", "json", "auth", "describe")
        self.assertEqual(p.returncode, 3)
        doc = json.loads(p.stdout)
        self.assertEqual(doc["error"]["code"], "DBR_E_NO_CREDENTIAL")
        self.assertEqual(doc["error"]["exit_code"], 3)

    def test_missing_named_profile(self):
        self.write_cfg("[DEFAULT]\nhost = https://h.example\n[dev]\nhost = https://d.example\n")
        p = self.run_dbr("-p", "prod", "auth", "describe", env=self.canary())
        self.assertEqual(p.returncode, 4)
        self.assertIn("has no 'prod' profile configured", p.stderr)
        self.assertIn("choose one of 'DEFAULT', 'dev'", p.stderr)
        self.assertIn("or add a [prod] section", p.stderr)
        p = self.run_dbr("auth", "describe",
                         env=self.canary(DATABRICKS_CONFIG_PROFILE="prod"))
        self.assertEqual(p.returncode, 4)

    def test_config_syntax_error(self):
        self.write_cfg("[DEFAULT]\nhost = https://h.example\nthis line is not ini\n")
        p = self.run_dbr("auth", "describe", env=self.canary())
        self.assertEqual(p.returncode, 4)
        self.assertIn("'%s' line 3: syntax error" % self.cfg, p.stderr)
        self.assertIn("fix or remove that line", p.stderr)

    def test_config_too_large_is_a_configuration_error(self):
        # not the workspace's answer (6): the file named is the problem
        self.write_cfg("[DEFAULT]\nhost = https://h.example\n" + ("#" * 99 + "\n") * 11000)
        p = self.run_dbr("auth", "describe", env=self.canary())
        self.assertEqual(p.returncode, 4, p.stderr)
        self.assertIn("'%s' is larger than 1048576 bytes" % self.cfg, p.stderr)
        self.assertIn("check that it is the file you meant", p.stderr)

    def test_host_with_credentials_refused_path_and_query_dropped(self):
        p = self.run_dbr("auth", "describe", env=self.canary(
            DATABRICKS_HOST="https://me:hunter2hunter2@h.example"))
        self.assertEqual(p.returncode, 4)
        self.assertIn("carries a user name or password: remove it", p.stderr)
        self.assertNotIn("hunter2hunter2", p.stdout + p.stderr)
        p = self.run_dbr("auth", "describe", env=self.canary(DATABRICKS_HOST="https//h.example"))
        self.assertEqual(p.returncode, 4)
        self.assertIn("must be just https://<host>[:port]", p.stderr)
        # a workspace URL as the browser shows it is normalised, as the SDKs do
        for host in ("https://h.example/some/path", "https://h.example/?o=123",
                     "https://h.example/?o=123#job/5", "h.example/"):
            p = self.run_dbr("-o", "json", "auth", "describe",
                             env=self.canary(DATABRICKS_HOST=host))
            self.assertEqual(p.returncode, 0, host + ": " + p.stderr)
            self.assertEqual(json.loads(p.stdout)["credential"]["host"], "https://h.example")
        # ... in a profile too
        self.write_cfg("[DEFAULT]\nhost = https://adb-123.4.azuredatabricks.net/?o=123\n"
                       "token = %s\n" % self.token)
        p = self.run_dbr("-o", "json", "--chain", "profile", "auth", "describe")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout)["credential"]["host"],
                         "https://adb-123.4.azuredatabricks.net")

    def test_config_in_a_directory_others_can_write_refused(self):
        # whoever can write a directory above the file can replace it with one
        # naming a host of their own, and the token (from the keyring or
        # Vault) would be sent there: refused before anything is resolved
        shared = os.path.join(self.tmp, "shared")
        inner = os.path.join(shared, "team")
        os.makedirs(inner)
        cfg = os.path.join(inner, "databrickscfg")
        with open(cfg, "w") as f:
            f.write("[DEFAULT]\nhost = https://h.example\n")
        os.chmod(cfg, 0o600)
        env = self.env(DATABRICKS_TOKEN=self.token, DATABRICKS_CONFIG_FILE=cfg)
        for d, mode in ((inner, 0o777), (inner, 0o770), (shared, 0o757)):
            os.chmod(inner, 0o700)
            os.chmod(shared, 0o700)
            os.chmod(d, mode)
            p = self.run_dbr("auth", "describe", env=env)
            self.assertEqual(p.returncode, 4, p.stderr)
            self.assertIn("'%s' is writable by group or others" % d, p.stderr)
            self.assertIn("who could replace the configuration file and send the token to a "
                          "host of their own: run 'chmod go-w %s'" % d, p.stderr)
            self.assertIn("(DATABRICKS_CONFIG_FILE names it)", p.stderr)
            self.assert_no_token(p.stdout, p.stderr)
            # login --remove-plaintext, which rewrites the file, refuses too
            p = self.run_dbr("login", "--remove-plaintext", env=env)
            self.assertEqual(p.returncode, 4, p.stderr)
            self.assertIn("is writable by group or others", p.stderr)
        os.chmod(shared, 0o700)
        if os.geteuid() == 0:
            # a directory of another user, even closed to the group
            os.chmod(inner, 0o755)
            os.chown(inner, 65534, 65534)
            p = self.run_dbr("auth", "describe", env=env)
            self.assertEqual(p.returncode, 4, p.stderr)
            self.assertIn("configuration directory '%s' is owned by uid 65534" % inner,
                          p.stderr)
            os.chown(inner, 0, 0)
            # a root-owned sticky directory (/tmp) may hold the file itself:
            # no one else can rename or remove it there, and a file they
            # planted first is refused as theirs
            os.chmod(inner, 0o1777)
            p = self.run_dbr("-o", "json", "auth", "describe", env=env)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(json.loads(p.stdout)["credential"]["host"], "https://h.example")
            os.chown(cfg, 65534, 65534)
            p = self.run_dbr("auth", "describe", env=env)
            self.assertEqual(p.returncode, 4, p.stderr)
            self.assertIn("is owned by uid 65534", p.stderr)
            os.chown(cfg, 0, 0)
        os.chmod(inner, 0o700)
        p = self.run_dbr("-o", "json", "auth", "describe", env=env)
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_profile_selected_and_no_default_merge(self):
        self.write_cfg("[DEFAULT]\nhost = https://default.example\n[dev]\nbroker_chain = env\n")
        p = self.run_dbr("-p", "dev", "auth", "describe",
                         env=self.env(DATABRICKS_TOKEN=self.token))
        # dev has no host and DEFAULT's is not merged in
        self.assertEqual(p.returncode, 4)
        self.assertIn("no workspace host for profile 'dev'", p.stderr)
        self.assertIn("from profile broker_chain", p.stdout)

    def test_config_writable_by_others_refused(self):
        self.write_cfg("[DEFAULT]\nhost = https://h.example\n", mode=0o666)
        p = self.run_dbr("auth", "describe", env=self.env(DATABRICKS_TOKEN=self.token))
        self.assertEqual(p.returncode, 4)
        self.assertIn(self.cfg, p.stderr)
        self.assertIn("run 'chmod go-w %s'" % self.cfg, p.stderr)
        self.assert_no_token(p.stdout, p.stderr)
        os.chmod(self.cfg, 0o600)
        if os.geteuid() == 0:
            os.chown(self.cfg, 65534, 65534)
            p = self.run_dbr("auth", "describe", env=self.canary())
            self.assertEqual(p.returncode, 4)
            self.assertIn("is owned by uid 65534", p.stderr)
            self.assertIn("run 'chown 0 %s' or use a file of your own" % self.cfg, p.stderr)
            os.chown(self.cfg, 0, 0)
        link = os.path.join(self.tmp, "cfg-link")
        os.symlink(self.cfg, link)
        p = self.run_dbr("auth", "describe", env=self.canary(DATABRICKS_CONFIG_FILE=link))
        self.assertEqual(p.returncode, 4)
        self.assertIn("is a symbolic link", p.stderr)
        self.assertIn("set DATABRICKS_CONFIG_FILE to the real path", p.stderr)

    def test_plaintext_profile_token(self):
        self.write_cfg("[DEFAULT]\nhost = https://h.example\ntoken = %s\n" % self.token)
        p = self.run_dbr("auth", "describe")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("source:     profile", p.stdout)
        self.assertIn("dbroker login", p.stderr)  # the warning
        self.assert_no_token(p.stdout, p.stderr)

    def test_token_in_a_comment_is_named(self):
        # a token "commented out" is still a plaintext token on disk: before,
        # describe said "no plaintext token (good)" and nothing warned
        self.write_cfg("[DEFAULT]\nhost = https://adb-1.example.net\n"
                       "; old, keep for now:\n#token = %s\n" % self.token)
        p = self.run_dbr("--chain", "profile", "auth", "describe")
        self.assertIn("profile 'DEFAULT' in '%s' has no plaintext token, but line 4, a "
                      "comment, holds something shaped like one: delete that line" % self.cfg,
                      p.stdout)
        self.assertIn("'%s' line 4, a comment, holds something shaped like a token or "
                      "secret: a plaintext secret on disk all the same; delete that line, "
                      "and revoke the token if it was ever valid" % self.cfg, p.stderr)
        # a comment about tokens, with no token in it, is only a comment
        self.write_cfg("[DEFAULT]\nhost = https://adb-1.example.net\n"
                       "# token = <yours, from the keyring>\n")
        p = self.run_dbr("--chain", "profile", "auth", "describe")
        self.assertIn("has no plaintext token (good)", p.stdout)
        self.assertNotIn("comment", p.stderr)

    def test_token_cancelled_by_a_later_empty_line_is_named(self):
        # "token =" after "token = dapi..." leaves the profile with no token,
        # and the old one on disk: before, describe said "no plaintext token
        # (good)" and nothing warned
        self.write_cfg("[DEFAULT]\nhost = https://adb-1.example.net\ntoken = %s\n"
                       "[other]\nhost = https://adb-2.example.net\n"
                       "[DEFAULT]\ntoken =\n" % self.token)
        p = self.run_dbr("--chain", "profile", "auth", "describe")
        self.assertIn("profile 'DEFAULT' in '%s' has no plaintext token, but line 3 still "
                      "holds one that a later empty line cancels: delete that line" % self.cfg,
                      p.stdout)
        self.assertIn("'%s' line 3 holds a plaintext token or secret that a later empty "
                      "line of profile 'DEFAULT' cancels: unused, but on disk all the same; "
                      "delete that line, and revoke the token if it was ever valid" % self.cfg,
                      p.stderr)
        self.assert_no_token(p.stdout, p.stderr)
        # set again after the empty line: the plaintext token warning as ever
        self.write_cfg("[DEFAULT]\nhost = https://adb-1.example.net\ntoken = %s\n"
                       "token =\ntoken = %s\n" % (self.token, self.token))
        p = self.run_dbr("--chain", "profile", "auth", "describe")
        self.assertIn("holds a plaintext token on disk", p.stderr)
        self.assertNotIn("cancels", p.stderr + p.stdout)
        # an empty line alone cancels nothing
        self.write_cfg("[DEFAULT]\nhost = https://adb-1.example.net\ntoken =\n")
        p = self.run_dbr("--chain", "profile", "auth", "describe")
        self.assertIn("has no plaintext token (good)", p.stdout)
        self.assertNotIn("cancels", p.stderr)

    def test_plaintext_token_readable_by_others_refused(self):
        self.write_cfg("[DEFAULT]\nhost = https://h.example\ntoken = %s\n" % self.token,
                       mode=0o644)
        p = self.run_dbr("auth", "describe")
        self.assertEqual(p.returncode, 4)
        self.assertIn("readable by group/others", p.stderr)
        self.assertIn("chmod 600", p.stderr)
        self.assert_no_token(p.stdout, p.stderr)

    def test_explicit_chain_missing_plugin(self):
        p = self.run_dbr("--chain", "vault,env", "auth", "describe",
                         env=self.env(DATABRICKS_TOKEN=self.token))
        self.assertEqual(p.returncode, 4)
        self.assertIn("'vault'", p.stderr)
        self.assertIn("not installed", p.stderr)
        self.assertIn("point --plugin-dir or DBROKER_PLUGIN_DIR at the directory", p.stderr)
        self.assertIn("or take 'vault' out of the chain", p.stderr)

    # --- plugins that are unsafe or do not fit ------------------------------------

    def add_plugin(self, name, as_name=None, mode=0o644):
        """Copy the test plugin <name>.so (tests/plugins) into the plugin
        directory as <as_name>.so."""
        path = os.path.join(self.plugins, (as_name or name) + ".so")
        shutil.copyfile(os.path.join(TEST_PLUGINS, name + ".so"), path)
        os.chmod(path, mode)
        return path

    def plugin_fails(self, chain, *needles):
        p = self.run_dbr("--chain", chain + ",env", "auth", "describe", env=self.canary(
            DATABRICKS_HOST="https://h.example"))
        self.assertEqual(p.returncode, 4, p.stderr)
        self.assertIn("the chain stops here", p.stderr)
        for n in needles:
            self.assertIn(n, p.stderr)
        self.assertRegex(p.stdout, r"env\s+not asked")
        return p

    def test_unsafe_plugin_files_refused(self):
        path = self.add_plugin("testok", mode=0o664)
        self.plugin_fails("testok", "'%s' is writable by group or others" % path,
                          "run 'chmod go-w %s'" % path)
        os.chmod(path, 0o646)
        self.plugin_fails("testok", "mode 0646", "chmod go-w")
        os.remove(path)
        os.symlink(os.path.join(TEST_PLUGINS, "testok.so"), path)
        self.plugin_fails("testok", "'%s' is a symbolic link" % path,
                          "copy the plugin into place")
        # the default chain refuses an unsafe plugin too, rather than skip it
        os.symlink(os.path.join(TEST_PLUGINS, "testok.so"),
                   os.path.join(self.plugins, "vault.so"))
        p = self.run_dbr("auth", "describe", env=self.env(DATABRICKS_HOST="https://h.example"))
        self.assertEqual(p.returncode, 4)
        self.assertIn("credential provider 'vault' failed", p.stderr)
        self.assertIn("symbolic link", p.stderr)

    def test_unsafe_plugin_directories_refused(self):
        self.add_plugin("testok")
        os.chmod(self.plugins, 0o770)
        self.plugin_fails("testok", "plugin directory '%s' is writable by group or others"
                          % self.plugins, "run 'chmod go-w %s'" % self.plugins)
        os.chmod(self.plugins, 0o700)
        os.chmod(self.tmp, 0o777)  # a parent without the sticky bit
        try:
            self.plugin_fails("testok", "'%s' is writable by group or others" % self.tmp,
                              "who could plant or replace plugins")
        finally:
            os.chmod(self.tmp, 0o700)
        p = self.run_dbr("--chain", "testok", "auth", "describe", env=self.canary())
        self.assertEqual(p.returncode, 0, p.stderr)  # the same plugin, now safe

    def test_incompatible_plugins_refused(self):
        self.add_plugin("testold")
        self.add_plugin("testnewer")
        self.add_plugin("testnosym")
        self.add_plugin("testok", as_name="testother")
        self.plugin_fails("testold", "speaks plugin ABI 0.", "older than this dbroker's",
                          "rebuild or upgrade the plugin")
        self.plugin_fails("testnewer", "newer than this dbroker's", "upgrade dbroker")
        self.plugin_fails("testnosym", "does not export 'dbroker_provider_testnosym'",
                          "reinstall it")
        self.plugin_fails("testother", "does not export 'dbroker_provider_testother'")
        with open(os.path.join(self.plugins, "junk.so"), "wb") as f:
            f.write(b"not an ELF file\n")
        self.plugin_fails("junk", "cannot load provider plugin", "reinstall the plugin")

    def test_bad_chain(self):
        p = self.run_dbr("--chain", "env,env", "auth", "describe", env=self.canary())
        self.assertEqual(p.returncode, 2)
        self.assertIn("appears twice in the chain (from --chain): name each provider once",
                      p.stderr)

    def test_short_token_refused(self):
        p = self.run_dbr("auth", "describe",
                         env=self.env(DATABRICKS_TOKEN="abc123", DATABRICKS_HOST="h.example"))
        self.assertEqual(p.returncode, 4)
        self.assertIn("shorter than", p.stderr)
        self.assertIn("check that the source holds the whole token", p.stderr)
        self.assertNotIn("abc123", p.stdout + p.stderr)

    def test_token_with_a_space_refused_before_sending(self):
        """What 'login' refuses (a space, a tab) is refused at use time too,
        naming the character, before anything is sent."""
        import socket
        with socket.socket() as srv:
            srv.bind(("127.0.0.1", 0))
            srv.listen(4)
            srv.setblocking(False)
            host = "https://127.0.0.1:%d" % srv.getsockname()[1]
            for bad, name in ((self.token[:12] + " " + self.token[12:], "a space"),
                              (self.token[:12] + "\t" + self.token[12:], "a tab")):
                p = self.run_dbr("clusters", "list",
                                 env=self.env(DATABRICKS_TOKEN=bad, DATABRICKS_HOST=host))
                self.assertEqual(p.returncode, 4, p.stderr)
                self.assertIn("the credential contains %s, which no token has" % name,
                              p.stderr)
                self.assertIn("without it", p.stderr)
                self.assertNotIn(bad, p.stderr)
                self.assertNotIn(bad[12:], p.stderr)
                with self.assertRaises(BlockingIOError):
                    srv.accept()

    def test_strict(self):
        p = self.run_dbr("--strict", "auth", "describe",
                         env=self.env(DATABRICKS_TOKEN=self.token, DATABRICKS_HOST="h.example"))
        # locked memory is available here (root, or a sane RLIMIT_MEMLOCK)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("memory:     locked", p.stdout)

    def without_ipc_lock(self):
        """The command prefix that runs dbroker without CAP_IPC_LOCK (which
        ignores RLIMIT_MEMLOCK): what root needs to be limited like a user."""
        if os.geteuid() != 0:
            return []
        cmd = ["setpriv", "--inh-caps=-ipc_lock", "--bounding-set=-ipc_lock"]
        if not shutil.which("setpriv") or subprocess.run(
                cmd + ["true"], capture_output=True).returncode != 0:
            self.skipTest("cannot drop CAP_IPC_LOCK here (setpriv)")
        return cmd

    def test_strict_without_locked_memory(self):
        # RLIMIT_MEMLOCK 0; root also loses CAP_IPC_LOCK, which ignores it
        cmd = self.without_ipc_lock()

        def no_memlock():
            resource.setrlimit(resource.RLIMIT_MEMLOCK, (0, 0))

        env = self.canary(DATABRICKS_HOST="h.example")
        p = subprocess.run(cmd + [BIN, "--strict", "auth", "describe"], env=env,
                           capture_output=True, text=True, timeout=30, preexec_fn=no_memlock)
        self.assert_no_token(p.stdout, p.stderr)
        self.assertEqual(p.returncode, 4, p.stderr)
        self.assertIn("cannot lock memory for secrets and --strict is set", p.stderr)
        self.assertIn("raise the locked-memory limit (ulimit -l) or drop --strict", p.stderr)
        self.assertEqual(p.stdout, "")
        p = subprocess.run(cmd + [BIN, "auth", "describe"], env=env, capture_output=True,
                           text=True, timeout=30, preexec_fn=no_memlock)
        self.assert_no_token(p.stdout, p.stderr)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("--strict refuses to run like this", p.stderr)
        self.assertIn("memory:     NOT locked", p.stdout)

    def test_strict_when_the_arena_fills(self):
        # Small limits: a small arena passes the start-up check, but what the
        # token needs (it and the masker's tables) may not fit in it, and the
        # limit may have nothing left to lock a mapping of their own. Without
        # --strict that is "partly locked"; with it, the secret is refused,
        # never held in memory that could be paged out. Where the line falls
        # depends on the build (allocator, sanitizers): each limit is checked
        # both ways, and at least one must have overflowed.
        cmd = self.without_ipc_lock()
        env = self.canary(DATABRICKS_HOST="h.example")
        overflowed = []
        for kib in (12, 16, 20, 24, 32):
            def limit(kib=kib):
                resource.setrlimit(resource.RLIMIT_MEMLOCK, (kib * 1024, kib * 1024))

            def run(*extra):
                p = subprocess.run(cmd + [BIN, "--chain", "env"] + list(extra) +
                                   ["auth", "describe"], env=env, capture_output=True,
                                   text=True, timeout=30, preexec_fn=limit)
                self.assert_no_token(p.stdout, p.stderr)
                return p

            loose, strict = run(), run("--strict")
            self.assertEqual(loose.returncode, 0, loose.stderr)
            if "memory:     partly locked" in loose.stdout:
                overflowed.append(kib)
                self.assertRegex(loose.stdout, r"partly locked \(\d+ KiB arena full, "
                                 r"RLIMIT_MEMLOCK %d KiB: the rest could be paged" % kib)
                self.assertEqual(strict.returncode, 4, strict.stderr)
                self.assertIn("no locked memory left for secrets and --strict is set: raise "
                              "the locked-memory limit (ulimit -l) or drop --strict",
                              strict.stderr)
                # describe says which source was refused, and holds no token
                self.assertIn("env        error      token refused", strict.stdout)
                self.assertNotIn("token:", strict.stdout)
            elif "memory:     NOT locked" in loose.stdout:
                # too little for any arena: refused at start-up
                self.assertEqual(strict.returncode, 4, strict.stderr)
                self.assertIn("cannot lock memory for secrets and --strict is set",
                              strict.stderr)
            else:
                self.assertEqual(strict.returncode, 0, strict.stderr)
                self.assertRegex(strict.stdout, r"memory:     locked \(\d+ KiB arena, "
                                 r"RLIMIT_MEMLOCK %d KiB\)" % kib)
        self.assertTrue(overflowed, "no limit made the arena overflow: the --strict refusal "
                        "past a full arena was not exercised")


if __name__ == "__main__":
    unittest.main(verbosity=2)
