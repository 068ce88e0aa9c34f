"""End-to-end tests of the dbroker command: options, help, exit codes,
auth describe, and that the token never appears in any output or file.

Run by ctest with DBROKER_BIN pointing at the built binary."""
import json
import os
import secrets
import shutil
import stat
import subprocess
import tempfile
import unittest

BIN = os.environ.get("DBROKER_BIN", "dbroker")


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
        return p

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

    def test_help_on_every_level(self):
        for args in (["--help"], ["-h"], ["help"], ["auth", "--help"],
                     ["auth", "describe", "--help"]):
            p = self.run_dbr(*args)
            self.assertEqual(p.returncode, 0, args)
            self.assertIn("usage: dbroker", p.stdout, args)
        self.assertIn("exit codes", self.run_dbr("--help").stdout)
        self.assertIn("never printed", self.run_dbr("auth", "describe", "--help").stdout)

    def test_usage_errors(self):
        p = self.run_dbr()
        self.assertEqual(p.returncode, 2)
        self.assertIn("usage:", p.stderr)
        p = self.run_dbr("frobnicate")
        self.assertEqual(p.returncode, 2)
        self.assertIn("unknown command 'frobnicate'", p.stderr)
        p = self.run_dbr("auth", "describe", "-o", "yaml")
        self.assertEqual(p.returncode, 2)
        self.assertIn("'yaml'", p.stderr)
        p = self.run_dbr("auth", "describe", "--log-level")
        self.assertEqual(p.returncode, 2)
        self.assertIn("needs a value", p.stderr)
        p = self.run_dbr("auth", "nope")
        self.assertEqual(p.returncode, 2)

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
                         ["env", "vault", "keyring", "profile"])
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

    def test_no_credential(self):
        self.write_cfg("[DEFAULT]\nhost = https://h.example\n")
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
        p = self.run_dbr("-p", "prod", "auth", "describe")
        self.assertEqual(p.returncode, 4)
        self.assertIn("has no 'prod' profile configured", p.stderr)
        p = self.run_dbr("auth", "describe",
                         env=self.env(DATABRICKS_CONFIG_PROFILE="prod"))
        self.assertEqual(p.returncode, 4)

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
        self.assert_no_token(p.stdout, p.stderr)

    def test_plaintext_profile_token(self):
        self.write_cfg("[DEFAULT]\nhost = https://h.example\ntoken = %s\n" % self.token)
        p = self.run_dbr("auth", "describe")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("source:     profile", p.stdout)
        self.assertIn("dbroker login", p.stderr)  # the warning
        self.assert_no_token(p.stdout, p.stderr)

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

    def test_bad_chain(self):
        p = self.run_dbr("--chain", "env,env", "auth", "describe")
        self.assertEqual(p.returncode, 2)
        self.assertIn("twice", p.stderr)

    def test_short_token_refused(self):
        p = self.run_dbr("auth", "describe",
                         env=self.env(DATABRICKS_TOKEN="abc123", DATABRICKS_HOST="h.example"))
        self.assertEqual(p.returncode, 4)
        self.assertIn("shorter than", p.stderr)
        self.assertNotIn("abc123", p.stdout + p.stderr)

    def test_strict(self):
        p = self.run_dbr("--strict", "auth", "describe",
                         env=self.env(DATABRICKS_TOKEN=self.token, DATABRICKS_HOST="h.example"))
        # locked memory is available here (root, or a sane RLIMIT_MEMLOCK)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("memory:     locked", p.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
