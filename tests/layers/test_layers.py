#!/usr/bin/env python3
"""The layering rules hold on the tree, and the check (scripts/check_layers.py)
and the build each catch a planted violation, naming file and line."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

SRC = os.environ.get("DBR_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("DBR_BINARY_DIR")
CHECK = os.path.join(SRC, "scripts", "check_layers.py")


def run_check(root):
    p = subprocess.run([sys.executable, CHECK, root], capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


class Planted(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="dbr-layers-")
        for d in ("src", "include", "plugins", "scripts"):
            shutil.copytree(os.path.join(SRC, d), os.path.join(self.tmp, d))

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def append(self, rel, text):
        with open(os.path.join(self.tmp, rel), "a") as f:
            f.write(text)

    def line_count(self, rel):
        with open(os.path.join(self.tmp, rel)) as f:
            return len(f.read().splitlines())

    def test_tree_is_clean(self):
        rc, out = run_check(SRC)
        self.assertEqual(rc, 0, out)
        self.assertIn("no upward include, no circle", out)

    def test_upward_include_named_with_line(self):
        n = self.line_count("src/net/retry.c") + 1
        self.append("src/net/retry.c", '#include "dbroker/chain.h"\n')
        rc, out = run_check(self.tmp)
        self.assertEqual(rc, 1, out)
        self.assertIn("src/net/retry.c:%d: upward include: 'dbroker/chain.h' (layer auth) "
                      "from layer net" % n, out)

    def test_upward_internal_include(self):
        self.append("src/core/buf.c", '#include "http_internal.h"\n')
        rc, out = run_check(self.tmp)
        self.assertEqual(rc, 1, out)
        self.assertIn("src/core/buf.c:", out)
        self.assertIn("'http_internal.h' (layer net) from layer core", out)

    def test_circle_named(self):
        # secret.c -> log (core) while log -> mask -> secret: the circle the
        # tree used to have
        self.append("src/core/secret.c", '#include "dbroker/log.h"\n')
        rc, out = run_check(self.tmp)
        self.assertEqual(rc, 1, out)
        self.assertIn("include circle between modules", out)
        self.assertIn("core/log", out)
        self.assertIn("core/secret", out)

    def test_cli_internal_header(self):
        self.append("src/cli/main.c", '#include "chain_internal.h"\n')
        rc, out = run_check(self.tmp)
        self.assertEqual(rc, 1, out)
        self.assertIn("src/cli/main.c:", out)
        self.assertIn("public API only", out)

    def test_plugin_reaches_internals(self):
        self.append("plugins/vault/vault.c", '#include "dbroker/chain.h"\n')
        rc, out = run_check(self.tmp)
        self.assertEqual(rc, 1, out)
        self.assertIn("plugins/vault/vault.c:", out)
        self.assertIn("services table", out)

    def test_second_plugin_header(self):
        with open(os.path.join(self.tmp, "plugins/vault/vault_extra.h"), "w") as f:
            f.write("#pragma once\n")
        rc, out = run_check(self.tmp)
        self.assertEqual(rc, 1, out)
        self.assertIn("one internal header per plugin", out)

    def test_file_over_800_lines(self):
        self.append("src/core/errors.c", "/* x */\n" * 801)
        rc, out = run_check(self.tmp)
        self.assertEqual(rc, 1, out)
        self.assertIn("src/core/errors.c:", out)
        self.assertIn("split it by concern", out)

    def test_public_header_without_layer(self):
        with open(os.path.join(self.tmp, "include/dbroker/new.h"), "w") as f:
            f.write("#pragma once\n")
        rc, out = run_check(self.tmp)
        self.assertEqual(rc, 1, out)
        self.assertIn("include/dbroker/new.h:1: no '/* dbroker-layer:", out)

    def test_stray_source_outside_layers(self):
        with open(os.path.join(self.tmp, "src/loose.c"), "w") as f:
            f.write("int x;\n")
        rc, out = run_check(self.tmp)
        self.assertEqual(rc, 1, out)
        self.assertIn("outside a layer folder", out)


@unittest.skipUnless(BIN, "needs the build tree (DBR_BINARY_DIR)")
class BuildRefusesUpward(unittest.TestCase):
    """Each layer compiles against a view of include/dbroker/ that holds only
    its own layer and below: an upward include does not compile."""

    def compile(self, layer, text):
        below = ["core", "net", "auth", "api"]
        below = below[: below.index(layer) + 1]
        args = ["cc", "-fsyntax-only", "-x", "c", "-",
                "-I", os.path.join(BIN, "layer-include", layer),
                "-I", os.path.join(BIN, "src", "generated")]
        for l in below:
            args += ["-I", os.path.join(SRC, "src", l)]
        return subprocess.run(args, input=text, capture_output=True, text=True)

    def test_net_cannot_see_chain(self):
        p = self.compile("net", '#include "dbroker/chain.h"\n')
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("dbroker/chain.h", p.stderr)

    def test_core_cannot_see_http_internals(self):
        p = self.compile("core", '#include "http_internal.h"\n')
        self.assertNotEqual(p.returncode, 0)

    def test_net_sees_its_own_and_below(self):
        p = self.compile("net", '#include "dbroker/request.h"\n#include "dbroker/secret.h"\n'
                         '#include "http_internal.h"\n#include "buf.h"\n')
        self.assertEqual(p.returncode, 0, p.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
