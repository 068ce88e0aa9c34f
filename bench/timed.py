"""Shared by the benchmarks: run one command and measure it."""
import os
import subprocess
import sys
import time


def run(cmd, env, rss_file):
    """Run cmd under GNU time, return (wall seconds, peak RSS KiB).

    Peak RSS comes from GNU time, which forks the command from its own small
    process: a child spawned straight from Python would report Python's
    resident size, inherited at fork, as its own maximum. Exits the benchmark
    when the command fails (a benchmark of a failure measures nothing)."""
    with open(os.devnull, "wb") as devnull:
        t0 = time.perf_counter()
        proc = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss_file] + cmd, env=env,
                              stdin=subprocess.DEVNULL, stdout=devnull,
                              stderr=subprocess.PIPE)
        wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"benchmark command failed ({proc.returncode}): {cmd[0]}: "
                 f"{proc.stderr.decode()[:500]}")
    with open(rss_file) as f:
        return wall, int(f.read().split()[-1])
