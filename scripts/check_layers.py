#!/usr/bin/env python3
"""Check dbroker's layering from the #include lines of src/, include/ and plugins/.

Rules (README, "Architecture"):
  - src/<layer>/ files include only their own layer and the layers below:
    core < net < auth < api < serve < cli. A public header (include/dbroker/*.h) says
    its layer on a line "/* dbroker-layer: <layer> */".
  - the CLI uses libdbroker's public headers only (plus core's banned.h).
  - a plugin includes its own folder and dbroker/provider.h (with the headers
    provider.h includes), nothing else of dbroker; one internal header each.
  - no circle between modules. A module is a header family: foo.h,
    foo_internal.h and the files foo.c, foo_*.c that implement it (a .c file
    belongs to the longest prefix of its name that has a header); a public
    header belongs to the module of the same name in src/.
  - no file in src/ or plugins/ over 800 lines.
Every problem is printed as "path:line: what"; exit status 1 if any.
Usage: check_layers.py [REPO_DIR]
"""
import os
import re
import sys

LAYERS = ["core", "net", "auth", "api", "serve", "cli"]
MAX_LINES = 800
INCLUDE_RE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')
MARKER_RE = re.compile(r"dbroker-layer:\s*([a-z]+)")
GENERATED = {"version.h": "core"}  # core/version.h.in, configured by CMake
CLI_MAY_USE = {"banned.h"}         # header-only guard against unsafe calls


def rel(root, path):
    return os.path.relpath(path, root)


class Tree:
    def __init__(self, root):
        self.root = root
        self.problems = []
        self.files = {}          # repo-relative path -> list of lines
        self.layer_of = {}       # path -> layer (src and public headers)
        self.public = {}         # "dbroker/x.h" -> path
        self.plugin_dirs = []
        self._scan()

    def problem(self, path, line, msg):
        self.problems.append("%s:%d: %s" % (path, line, msg))

    def _read(self, path):
        with open(os.path.join(self.root, path), encoding="utf-8", errors="replace") as f:
            self.files[path] = f.read().splitlines()

    def _scan(self):
        inc = os.path.join(self.root, "include", "dbroker")
        for name in sorted(os.listdir(inc)):
            if not name.endswith(".h"):
                continue
            path = "include/dbroker/" + name
            self._read(path)
            m = next((MARKER_RE.search(l) for l in self.files[path][:5]
                      if MARKER_RE.search(l)), None)
            if not m or m.group(1) not in LAYERS[:-1]:
                self.problem(path, 1, "no '/* dbroker-layer: <core|net|auth|api> */' line "
                             "in the first five lines")
                continue
            self.layer_of[path] = m.group(1)
            self.public["dbroker/" + name] = path
        for layer in LAYERS:
            d = os.path.join(self.root, "src", layer)
            if not os.path.isdir(d):
                self.problem("src/" + layer, 0, "layer folder missing")
                continue
            for name in sorted(os.listdir(d)):
                if name.endswith((".c", ".h")):
                    path = "src/%s/%s" % (layer, name)
                    self._read(path)
                    self.layer_of[path] = layer
        stray = [n for n in os.listdir(os.path.join(self.root, "src"))
                 if n.endswith((".c", ".h"))]
        for n in sorted(stray):
            self.problem("src/" + n, 0, "source file outside a layer folder "
                         "(src/{%s}/)" % ",".join(LAYERS))
        pdir = os.path.join(self.root, "plugins")
        for name in sorted(os.listdir(pdir)):
            d = os.path.join(pdir, name)
            if not os.path.isdir(d):
                continue
            self.plugin_dirs.append(name)
            for f in sorted(os.listdir(d)):
                if f.endswith((".c", ".h")):
                    self._read("plugins/%s/%s" % (name, f))

    # ---- resolving an include -------------------------------------------------
    def resolve(self, src, target):
        """The repo path an include names, or a pseudo path for generated
        headers; None for system headers."""
        if target.startswith("dbroker/"):
            return self.public.get(target, "?" + target)
        if target in GENERATED:
            return "generated/" + target
        here = os.path.dirname(src)
        cand = here + "/" + target
        if cand in self.files:
            return cand
        if src.startswith("src/"):
            hits = ["src/%s/%s" % (l, target) for l in LAYERS
                    if "src/%s/%s" % (l, target) in self.files]
            if len(hits) == 1:
                return hits[0]
            if len(hits) > 1:
                return "?ambiguous:" + target
        return None

    def includes(self, path):
        for n, line in enumerate(self.files[path], 1):
            m = INCLUDE_RE.match(line)
            if m:
                yield n, m.group(1), m.group(2)

    # ---- rules ----------------------------------------------------------------
    def layer(self, path):
        if path.startswith("generated/"):
            return GENERATED[os.path.basename(path)]
        return self.layer_of.get(path)

    def check_layers(self):
        provider_closure = self.closure("include/dbroker/provider.h")
        for path in sorted(self.files):
            is_plugin = path.startswith("plugins/")
            for n, kind, target in self.includes(path):
                res = self.resolve(path, target)
                if kind == "<" and not target.startswith("dbroker/"):
                    continue
                if res is None:
                    if kind == '"':
                        self.problem(path, n, "'%s' is not in this folder nor in any layer "
                                     "folder it may use" % target)
                    continue
                if res.startswith("?"):
                    self.problem(path, n, "'%s' cannot be resolved (%s)" % (target, res[1:]))
                    continue
                if is_plugin:
                    if res.startswith("include/") and res not in provider_closure:
                        self.problem(path, n, "plugins reach the host only through the "
                                     "services table: include dbroker/provider.h, not '%s'"
                                     % target)
                    elif not res.startswith("include/") and \
                            os.path.dirname(res) != os.path.dirname(path):
                        self.problem(path, n, "a plugin includes only its own folder and "
                                     "dbroker/provider.h, not '%s'" % res)
                    continue
                mine, theirs = self.layer(path), self.layer(res)
                if mine is None or theirs is None:
                    continue
                if LAYERS.index(theirs) > LAYERS.index(mine):
                    self.problem(path, n, "upward include: '%s' (layer %s) from layer %s; a "
                                 "layer includes only itself and the layers below (%s)"
                                 % (target, theirs, mine, " < ".join(LAYERS)))
                if mine == "cli" and res.startswith("src/") and theirs != "cli" and \
                        os.path.basename(res) not in CLI_MAY_USE:
                    self.problem(path, n, "the CLI uses libdbroker's public API only: "
                                 "'%s' is internal to %s" % (target, theirs))
        for p in self.plugin_dirs:
            hdrs = [f for f in self.files if f.startswith("plugins/%s/" % p) and f.endswith(".h")]
            if len(hdrs) > 1:
                self.problem(hdrs[1], 1, "plugin '%s' has %d headers (%s): keep one "
                             "internal header per plugin" % (p, len(hdrs), ", ".join(hdrs)))

    def closure(self, start):
        seen, todo = set(), [start]
        while todo:
            p = todo.pop()
            if p in seen or p not in self.files:
                continue
            seen.add(p)
            for _, _, t in self.includes(p):
                r = self.resolve(p, t)
                if r and not r.startswith("?"):
                    todo.append(r)
        return seen

    def check_sizes(self):
        for path, lines in sorted(self.files.items()):
            if path.startswith(("src/", "plugins/")) and len(lines) > MAX_LINES:
                self.problem(path, len(lines), "%d lines: split it by concern (at most %d)"
                             % (len(lines), MAX_LINES))

    # ---- circles ----------------------------------------------------------------
    def module(self, path):
        d, name = os.path.split(path)
        stem, ext = os.path.splitext(name)
        if path.startswith("generated/"):
            return "core/version"
        if path.startswith("include/"):
            for l in LAYERS:
                if "src/%s/%s.c" % (l, stem) in self.files:
                    return "%s/%s" % (l, stem)
            return "public/" + stem
        area = d.split("/", 1)[1]  # src/<layer> -> <layer>; plugins/<p> -> <p>
        if stem.endswith("_internal"):
            stem = stem[: -len("_internal")]
        if ext == ".h":
            return "%s/%s" % (area, stem)
        parts = stem.split("_")
        for k in range(len(parts), 0, -1):
            pre = "_".join(parts[:k])
            # a family: a header of that name here, or a public one whose
            # implementation (pre.c) lives here
            if "%s/%s.h" % (d, pre) in self.files or "%s/%s_internal.h" % (d, pre) in self.files \
                    or ("include/dbroker/%s.h" % pre in self.files and
                        "%s/%s.c" % (d, pre) in self.files):
                return "%s/%s" % (area, pre)
        return "%s/%s" % (area, stem)

    def check_circles(self):
        edges = {}  # module -> {module: (path, line, target)}
        for path in sorted(self.files):
            a = self.module(path)
            edges.setdefault(a, {})
            for n, kind, target in self.includes(path):
                res = self.resolve(path, target)
                if not res or res.startswith("?"):
                    continue
                b = self.module(res)
                if b != a and b not in edges[a]:
                    edges[a][b] = (path, n, target)
        for comp in tarjan(edges):
            if len(comp) < 2:
                continue
            cyc = find_cycle(edges, comp)
            steps = []
            for i, m in enumerate(cyc):
                nxt = cyc[(i + 1) % len(cyc)]
                path, n, target = edges[m][nxt]
                steps.append("%s:%d includes '%s' (%s -> %s)" % (path, n, target, m, nxt))
            path, n, _ = edges[cyc[0]][cyc[1 % len(cyc)]]
            self.problem(path, n, "include circle between modules %s: %s"
                         % (", ".join(sorted(comp)), "; ".join(steps)))


def tarjan(graph):
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(comp)

    sys.setrecursionlimit(10000)
    for v in list(graph):
        if v not in index:
            visit(v)
    return out


def find_cycle(graph, comp):
    """One simple cycle inside a strongly connected component."""
    comp = set(comp)
    start = sorted(comp)[0]
    prev, todo = {start: None}, [start]
    while todo:
        v = todo.pop(0)
        for w in sorted(graph.get(v, {})):
            if w not in comp:
                continue
            if w == start:
                path = [v]
                while prev[path[-1]] is not None:
                    path.append(prev[path[-1]])
                return list(reversed(path))
            if w not in prev:
                prev[w] = v
                todo.append(w)
    return sorted(comp)


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                           os.path.join(os.path.dirname(__file__), ".."))
    t = Tree(root)
    t.check_layers()
    t.check_circles()
    t.check_sizes()
    for p in t.problems:
        print(p)
    n_files = len(t.files)
    if t.problems:
        print("check_layers: %d problem(s) in %d files" % (len(t.problems), n_files))
        return 1
    print("check_layers: %d files, layers %s, no upward include, no circle, none over %d "
          "lines" % (n_files, " < ".join(LAYERS), MAX_LINES))
    return 0


if __name__ == "__main__":
    sys.exit(main())
