"""Shared by the benchmarks: run commands under GNU time, pair them, report."""
import os
import shutil
import statistics
import subprocess
import sys
import time


def require(*tools):
    """Exit with a message unless GNU time and every tool are installed;
    returns the tools' paths."""
    if not os.access("/usr/bin/time", os.X_OK):
        sys.exit("GNU time (/usr/bin/time) is not installed")
    paths = [shutil.which(t) for t in tools]
    for tool, path in zip(tools, paths):
        if not path:
            sys.exit(f"{tool} is not installed (scripts/bootstrap installs it)")
    return paths


def start(cmd, env, rss_file, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE):
    """Start cmd under GNU time (its peak RSS goes to rss_file); returns the
    Popen. Peak RSS comes from GNU time, which forks the command from its own
    small process: a child spawned straight from Python would report
    Python's resident size, inherited at fork, as its own maximum."""
    return subprocess.Popen(["/usr/bin/time", "-f", "%M", "-o", rss_file] + cmd, env=env,
                            stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr)


def peak_rss(rss_file):
    """The peak RSS (KiB) GNU time wrote to rss_file."""
    with open(rss_file) as f:
        return int(f.read().split()[-1])


def run(cmd, env, rss_file):
    """Run cmd under GNU time, return (wall seconds, peak RSS KiB). Exits the
    benchmark when the command fails (a benchmark of a failure measures
    nothing)."""
    t0 = time.perf_counter()
    proc = start(cmd, env, rss_file)
    _, err = proc.communicate()
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"benchmark command failed ({proc.returncode}): {cmd[0]}: "
                 f"{err.decode()[:500]}")
    return wall, peak_rss(rss_file)


def paired(tools, runs, rss_file):
    """Run each of tools, a list of (name, cmd, env), once per round, for
    runs + 1 rounds; the order rotates every round (with two tools it
    alternates), so none always gets the warm cache, and the first round,
    a warm-up, is dropped. cmd is a list or a function of the round number
    that returns one. Returns ({name: [wall s]}, {name: [peak RSS KiB]})."""
    walls = {name: [] for name, _, _ in tools}
    rss = {name: [] for name, _, _ in tools}
    for i in range(runs + 1):
        k = i % len(tools)
        for name, cmd, env in tools[k:] + tools[:k]:
            w, m = run(cmd(i) if callable(cmd) else cmd, env, rss_file)
            if i > 0:
                walls[name].append(w)
                rss[name].append(m)
    return walls, rss


def show(name, walls, rss, width=8):
    """One line: the medians of wall time and peak RSS of name's runs."""
    print(f"{name:<{width}} wall median {statistics.median(walls[name]) * 1000:7.2f} ms   "
          f"peak RSS median {statistics.median(rss[name]) / 1024:5.2f} MiB "
          f"(max {max(rss[name]) / 1024:.2f})")


def ratios(walls, a, b):
    """(ratio of the medians, median of the per-round ratios) of a over b."""
    pairs = [x / y for x, y in zip(walls[a], walls[b])]
    return (statistics.median(walls[a]) / statistics.median(walls[b]),
            statistics.median(pairs))
