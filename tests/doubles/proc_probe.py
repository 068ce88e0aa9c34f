"""What another process can see of a process under test, through /proc.
Standard library only.

  mem_probe(pid) -> 'open' | 'denied ERRNO'
      whether a process of the same uid without CAP_SYS_PTRACE can open
      /proc/<pid>/mem: what PR_SET_DUMPABLE 0 changes for an observer
      (/proc/<pid>/status has no dumpable field). As root the probe runs
      with CAP_SYS_PTRACE out of its bounding set (without_ptrace_cap, also
      for the processes compared), so that capability does not mask the
      answer.
  scan_memory(pid, needles) -> (labels found, bytes read)
      needles is {bytes: label} (secret_forms.needles); every readable
      mapping is read (as root: any process), except those larger than
      max_region (a sanitizer's shadow).
"""
import ctypes
import os
import subprocess
import sys

PR_CAPBSET_DROP, CAP_SYS_PTRACE = 24, 19
PROBE = ("import os, sys\n"
         "try:\n    os.close(os.open(sys.argv[1], os.O_RDONLY))\n    print('open')\n"
         "except OSError as e:\n    print('denied', e.errno)\n")


def without_ptrace_cap():
    if os.geteuid() == 0 and ctypes.CDLL(None, use_errno=True).prctl(
            PR_CAPBSET_DROP, CAP_SYS_PTRACE, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def mem_probe(pid):
    p = subprocess.run([sys.executable, "-c", PROBE, f"/proc/{pid}/mem"],
                       preexec_fn=without_ptrace_cap, capture_output=True, text=True,
                       timeout=30)
    return p.stdout.strip() or p.stderr.strip()


def scan_memory(pid, needles, max_region=256 << 20):
    found, total = set(), 0
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
        for line in maps:
            parts = line.split()
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            if "r" not in parts[1] or hi - lo > max_region or line.rstrip().endswith(
                    ("[vvar]", "[vsyscall]")):
                continue
            try:
                mem.seek(lo)
                data = mem.read(hi - lo)
            except (OSError, ValueError, OverflowError):
                continue
            total += len(data)
            found |= {label for n, label in needles.items() if n in data}
    return sorted(found), total
