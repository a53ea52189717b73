"""What the bench reads about a supervisor process from /proc: status fields (VmRSS,
Threads), CPU time from stat (ticks) and schedstat (ns, every live thread), and its open
fds by kind.
"""

import os

CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_status_kib(pid, key):
    with open(f"/proc/{pid}/status", encoding="utf-8") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return None


def proc_cpu_s(pid):
    """utime + stime of a process (all its threads), seconds."""
    with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_sched_ns(pid):
    """On-CPU time of every live thread of a process, ns (schedstat: exact, not ticks)."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat", encoding="utf-8") as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total


def count_fds(pid):
    """Open fds of a process by kind: notify, socket, proc, other."""
    kinds = {"total": 0, "notify": 0, "socket": 0, "proc": 0, "other": 0}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        kinds["total"] += 1
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link == "anon_inode:seccomp notify":
            kinds["notify"] += 1
        elif link.startswith("socket:"):
            kinds["socket"] += 1
        elif link.startswith("/proc/"):
            kinds["proc"] += 1
        else:
            kinds["other"] += 1
    return kinds
