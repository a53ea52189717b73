"""Processes on the host and their endpoints.

What it owns: running a command with its output captured (`run`), stopping or killing a
process by the pid this test started (`stop_process`, `kill_pid`; never by name), finding
pids by their argv (`pids_where`), a process and its descendants (`process_tree`), whether
two processes share one address space (`same_address_space`, kcmp) and a pid's open fds
(`fd_targets`), and the two socket checks tests wait on (a unix socket exists, a free TCP
port on 127.0.0.1).

Python 3.11 standard library only.
"""

import ctypes
import os
import platform
import signal
import socket
import stat
import subprocess

from files import tail


def run(argv, timeout_s=60.0, check_rc=True, **kw):
    """subprocess.run with captured text output; raises with both streams on failure."""
    res = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         timeout=timeout_s, check=False, **kw)
    if check_rc and res.returncode != 0:
        raise AssertionError(f"command failed (rc {res.returncode}): {' '.join(argv)}\n"
                             f"stdout: {tail(res.stdout)}\nstderr: {tail(res.stderr)}")
    return res


def kill_pid(pid, sig=signal.SIGKILL):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def stop_process(proc, sig=signal.SIGTERM, timeout_s=10.0):
    """Stops a Popen we started: sig, wait, then SIGKILL. Returns the exit code."""
    if proc.poll() is None:
        kill_pid(proc.pid, sig)
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            kill_pid(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    return proc.returncode


def pids_where(match):
    """Pids of the running processes whose argv (a list of bytes) satisfies match(argv)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if match(argv):
            pids.append(int(entry))
    return pids


def _ppid(pid):
    with open(f"/proc/{pid}/status", encoding="utf-8") as f:
        for line in f:
            if line.startswith("PPid:"):
                return int(line.split()[1])
    return None


def process_tree(pid):
    """pid and every live descendant of it, from the parent links in /proc/PID/status (this
    kernel has no /proc/PID/task/TID/children). A process gone between the listing and its
    read is left out."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            children.setdefault(_ppid(int(entry)), []).append(int(entry))
        except OSError:
            continue
    tree, todo = [], [pid]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo.extend(children.get(p, []))
    return tree


_SYS_KCMP = {"x86_64": 312, "aarch64": 272}
_KCMP_VM = 1


def same_address_space(pid1, pid2):
    """True if two processes share one mm (CLONE_VM, vfork): kcmp(KCMP_VM)."""
    nr = _SYS_KCMP.get(platform.machine())
    if nr is None:
        raise AssertionError(f"kcmp syscall number unknown on {platform.machine()}")
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    res = libc.syscall(ctypes.c_long(nr), ctypes.c_long(pid1), ctypes.c_long(pid2),
                       ctypes.c_long(_KCMP_VM), ctypes.c_long(0), ctypes.c_long(0))
    if res < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"kcmp({pid1}, {pid2}, KCMP_VM): {os.strerror(err)}")
    return res == 0


def fd_targets(pid):
    """What each open fd of a process points to (readlink of /proc/PID/fd/*). An fd closed
    between the listing and its readlink is left out."""
    d = f"/proc/{pid}/fd"
    targets = []
    for n in os.listdir(d):
        try:
            targets.append(os.readlink(f"{d}/{n}"))
        except OSError:
            pass
    return targets


def unix_socket_exists(path):
    try:
        return stat.S_ISSOCK(os.stat(path).st_mode)
    except FileNotFoundError:
        return False


def free_port():
    """A TCP port free on 127.0.0.1 right now (bind to port 0, read it, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
