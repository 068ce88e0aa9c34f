"""Shared by the benchmarks: a process's memory, from /proc (Linux)."""


def status_kib(pid, keys):
    """{key: KiB} of the given /proc/PID/status lines (VmHWM, VmRSS, ...)."""
    got = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in keys:
                got[k] = int(v.split()[0])
    return got


def private_and_rss(pid):
    """(private KiB, RSS KiB) of pid, or None once it is gone. Private: the
    pages no other process maps (its heap, stacks, relocated library data);
    the rest of its RSS is shared (library code and read-only data)."""
    got = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("Rss", "Private_Clean", "Private_Dirty"):
                    got[k] = int(v.split()[0])
    except OSError:
        return None
    if "Rss" not in got:
        return None
    return got.get("Private_Clean", 0) + got.get("Private_Dirty", 0), got["Rss"]


def children(pid):
    """The pids of pid's children (empty once it is gone)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []


def physical(mem):
    """An estimate of the memory the processes of mem ({pid: (private KiB,
    RSS KiB)}) use together: the private pages of each, and the shared ones
    once (as many as the process that maps the most of them has: the
    processes map the same libraries)."""
    return (sum(priv for priv, _ in mem.values())
            + max(rss - priv for priv, rss in mem.values()))
