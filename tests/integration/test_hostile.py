"""Hostile and odd processes inside a container: lengths near 2^64, a process stacking its
own seccomp filter, a fork bomb, threads exiting while their calls are decided, a thread
signalled while its calls wait on ubcd, a flood of readers of the proc view. ubcd
answers every call, charges nothing wrong, and held settles to the kernel's truth."""

import errno
import os
import subprocess
import threading

from outcome import check, check_eq, wait_until
from probe import pages
from session import Session


def _settles_to_statm(s, c):
    data = c.probe.statm()
    wait_until(lambda: s.ubcd.privvm(c.id)["held"] == data, timeout_s=10,
               what=f"held == statm data {data}")


def _hostile(runtime):
    s = Session(runtime)
    c = s.supervised("16M:20M")
    before = s.ubcd.privvm(c.id)
    for hexlen in ("fffffffffffff000", "ffffffffffffffff", "8000000000000000", "0"):
        words = c.probe.cmd(f"mmap-len {hexlen}").split()
        check(words[0] == "err", f"mmap of 0x{hexlen} bytes succeeded: {words}")
    after = s.ubcd.privvm(c.id)
    check_eq(after["failcnt"], before["failcnt"], "failcnt after calls the kernel refuses itself")
    _settles_to_statm(s, c)

    # Threads that exit while ubcd decides for them.
    for _ in range(5):
        c.probe.ok("threads-exit 32")
    _settles_to_statm(s, c)

    # A fork bomb under the limit: every child's call answered, nothing stuck.
    forked, fork_failed, child_failed = (int(x) for x in c.probe.ok("fork-bomb 64 256K"))
    check_eq(forked + fork_failed, 64, "fork attempts")
    check(forked > 0, "no child was forked")
    check(s.ubcd.alive(), "ubcd died")
    pv = s.ubcd.privvm(c.id)
    check(pv["maxheld"] <= pv["limit"], f"maxheld {pv['maxheld']} above the limit {pv['limit']}")
    _settles_to_statm(s, c)

    # A thread signalled without pause: its trapped calls are withdrawn while ubcd decides
    # (RECV or SEND then find them gone) and restarted. ubcd keeps serving the fd.
    calls, enomem, enosys, other, signals = (int(x) for x in c.probe.ok("mmap-signals 1000 64K"))
    check(calls > 100 and signals > 100, f"{calls} calls, {signals} signals")
    check_eq((enomem, enosys, other), (0, 0, 0), "failed calls (ENOMEM, ENOSYS, other)")
    check(s.ubcd.alive(), "ubcd died")
    c.probe.ok("mmap 64K")
    _settles_to_statm(s, c)

    # Its own filter stacked on ubc's changes nothing.
    c.probe.ok("seccomp-allow")
    data = c.probe.statm()
    c.probe.err(f"mmap {pages(4096 - data + 1)}")
    c.probe.ok(f"mmap {pages(4096 - data)}")
    c.stop()


def test_hostile_runc():
    _hostile("runc")


def test_hostile_crun():
    _hostile("crun")


FLOOD = ("for i in $(seq 48); do (while [ ! -e /tmp/stop ]; do "
         "cat /proc/meminfo /dev/user_beancounters > /dev/null || echo FAIL; done) & done; "
         "wait; echo flood-done")


def _rss_kb(pid):
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def _host_abuse(view, stop, errors):
    """Odd calls on the view from the host: writes, huge reads, seeks past the end."""
    path = os.path.join(view, "meminfo")
    while not stop.is_set():
        try:
            os.close(os.open(path, os.O_RDWR))
            errors.append("opened for writing")
        except OSError as e:
            if e.errno != errno.EROFS:
                errors.append(f"O_RDWR: {e}")
        fd = os.open(path, os.O_RDONLY)
        try:
            if not os.pread(fd, 1 << 24, 0).startswith(b"MemTotal:"):
                errors.append("a huge read did not start with MemTotal")
            if os.pread(fd, 4096, 1 << 40) != b"":
                errors.append("a read past the end returned data")
        finally:
            os.close(fd)


def _view_flood(runtime):
    """48 readers of /proc/meminfo and /dev/user_beancounters in a container and four
    host threads writing, seeking and reading 16 MiB at a time from the view, while the
    container allocates: every allocation is answered at once (the notify path does not
    wait for the view), no read fails, ubcd's memory stays bounded."""
    s = Session(runtime)
    c = s.supervised("256M:256M")
    rss_before = _rss_kb(s.ubcd.proc.pid)
    flood = subprocess.Popen(s.runtime.cmd("exec", c.id, "sh", "-c", FLOOD),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    stop, errors = threading.Event(), []
    view = os.path.join(s.ubcd.config["state_dir"], "proc")
    abusers = [threading.Thread(target=_host_abuse, args=(view, stop, errors), daemon=True)
               for _ in range(4)]
    try:
        for t in abusers:
            t.start()
        words = c.probe.ok("mmap-for 2000 64K", timeout_s=60)
        calls, enomem, enosys, other = (int(x) for x in words)
        check(calls > 100, f"only {calls} allocations in 2 s under the flood")
        check_eq((enomem, enosys, other), (0, 0, 0), "failed allocations (ENOMEM, ENOSYS, other)")
        rss_during = _rss_kb(s.ubcd.proc.pid)
    finally:
        stop.set()
        c.run("touch", "/tmp/stop")
        out, _ = flood.communicate(timeout=60)
        for t in abusers:
            t.join(timeout=30)
    check("flood-done" in out and "FAIL" not in out, f"container readers:\n{out[-2000:]}")
    check(not errors, f"host calls on the view: {errors[:5]}")
    check(s.ubcd.alive(), "ubcd died")
    check(rss_during - rss_before < 128 * 1024,
          f"ubcd's RSS grew from {rss_before} to {rss_during} kB under the flood")
    check("262144 kB" in c.run("cat", "/proc/meminfo").stdout, "MemTotal after the flood")
    c.stop()


def test_view_flood_runc():
    _view_flood("runc")


def test_view_flood_crun():
    _view_flood("crun")
