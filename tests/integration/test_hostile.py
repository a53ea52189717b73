"""Hostile and odd processes inside a container: lengths near 2^64, a process stacking its
own seccomp filter, a fork bomb, threads exiting while their calls are decided, a thread
signalled while its calls wait on ubcd. ubcd
answers every call, charges nothing wrong, and held settles to the kernel's truth."""

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
