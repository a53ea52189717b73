"""Locked memory under the lockedpages beancounter, in a real container against a real
ubcd (docs/accounting.md, "Locked memory").

mlock, mlock2, mlockall(MCL_CURRENT), shmctl(SHM_LOCK) and mmap(MAP_LOCKED) are checked
against the lockedpages barrier; after mlockall(MCL_FUTURE) every later mapping is charged
as locked. A locked mapping is charged to lockedpages first and to privvmpages second, and
the lockedpages charge is taken back when privvmpages refuses it. Held is the kernel's
VmLck of the container's address spaces plus its SHM_LOCKED segments.

The containers run without CAP_IPC_LOCK, so RLIMIT_MEMLOCK (8 MiB here, inherited from
the runtime) still applies on top: every size below stays under it, so an ENOMEM seen
here is ubcd's (failcnt says so), not the kernel's.

test_runc.py and test_crun.py bind these cases to a runtime.
"""

from outcome import check, check_eq, wait_until
from session import Session
from test_rest import get_json

CASES = [
    "mlock_past_the_barrier_is_refused_on_lockedpages_only",
    "map_locked_past_the_barrier_is_refused_and_held_follows_vmlck",
    "a_locked_mmap_privvmpages_refuses_leaves_lockedpages_unchanged",
    "after_mcl_future_plain_mmaps_are_charged_as_locked",
    "shm_lock_of_a_segment_is_charged_and_refused_at_the_barrier",
]


def _locked_container(s, lockedpages, privvmpages="16384:16384"):
    c = s.container(privvmpages=privvmpages, annotations={"ubc.lockedpages": lockedpages})
    s.ubcd.wait_container(c.id)
    return c


def _locked_held_is(s, c, pages, what):
    wait_until(lambda: s.ubcd.locked(c.id)["held"] == pages, timeout_s=10,
               what=lambda: f"lockedpages held {pages} ({what}); now {s.ubcd.locked(c.id)}")


def _vmlck(c):
    return int(c.probe.ok("vmlck")[0])


def mlock_past_the_barrier_is_refused_on_lockedpages_only(rt):
    """mlock of 2 MiB under a 1 MiB lockedpages barrier: ENOMEM, lockedpages' failcnt moves
    and privvmpages' does not, a refusal event names lockedpages; locks up to the barrier
    exactly succeed (mlock and mlock2 MLOCK_ONFAULT), munlock gives the room back; the
    i386 mlock is decided the same way where ia32 works."""
    s = Session(rt)
    c = _locked_container(s, "256:256")
    c.probe.ok("mmap 2M")
    c.probe.err("mlock")
    check_eq(_vmlck(c), 0, "VmLck after the refused mlock")
    lk = s.ubcd.locked(c.id)
    check_eq(lk["failcnt"], 1, "lockedpages failcnt")
    check_eq((lk["barrier"], lk["limit"]), (256, 256), "lockedpages bounds")
    check_eq(s.ubcd.privvm(c.id)["failcnt"], 0, "privvmpages failcnt")
    c.probe.ok("munmap")
    c.probe.ok("mmap 512K")
    c.probe.ok("mlock")
    _locked_held_is(s, c, 128, "one 512 KiB mlock")
    c.probe.ok("mmap 512K")
    c.probe.ok("mlock2-onfault")  # 256: the barrier exactly
    check_eq(_vmlck(c), 256, "VmLck at the barrier")
    c.probe.ok("mmap 4K")
    c.probe.err("mlock")
    check_eq(s.ubcd.locked(c.id)["failcnt"], 2, "lockedpages failcnt past the barrier")
    c.probe.ok("munmap")  # the unlocked page
    c.probe.ok("munlock")  # the MLOCK_ONFAULT half
    _locked_held_is(s, c, 128, "after munlock")
    if c.probe.ok("i386-works")[0] == "yes":
        c.probe.ok("i386-mmap2 1M")
        c.probe.err("i386-mlock")  # 128 + 256 > 256
        check_eq(s.ubcd.locked(c.id)["failcnt"], 3, "lockedpages failcnt after i386 mlock")
    lines = s.ubcd.refusal_lines(c.id)
    check(any("syscall=mlock" in ln and "resource=lockedpages" in ln for ln in lines),
          f"no mlock refusal of lockedpages logged: {lines}")
    events = get_json(s.ubcd, f"/v1/containers/{c.id}/events",
                      "rest-events.schema.json")["events"]
    check(any(e.get("resource") == "lockedpages" for e in events),
          f"no lockedpages event: {events}")
    check_eq(s.ubcd.privvm(c.id)["failcnt"], 0, "privvmpages failcnt at the end")
    row = next(r for r in s.ubcd.require_container(c.id)["resources"]
               if r["resource"] == "lockedpages")
    check_eq((row["tracking"], row["barrier"], row["failcnt"]),
             ("enforced", 256, s.ubcd.locked(c.id)["failcnt"]), "the lockedpages row")
    text = s.ubcd.status_text()
    mine = [ln for ln in text.splitlines() if ln.split() and ln.split()[0] == f"{c.id}:"]
    check(mine and mine[0].split()[1] == "kmemsize", f"the container's rows in {text!r}")
    check(s.ubcd.alive(), "ubcd died")
    c.stop()


def map_locked_past_the_barrier_is_refused_and_held_follows_vmlck(rt):
    """mmap(MAP_LOCKED) is charged to lockedpages whatever its protection: 2 MiB under a
    1 MiB barrier is refused (read-only too, which privvmpages would not charge), 512 KiB
    is held, and held follows the kernel's VmLck as the mapping goes away."""
    s = Session(rt)
    c = _locked_container(s, "256:256")
    c.probe.err("mmap-locked 2M")
    c.probe.err("mmap-locked-ro 2M")
    check_eq(s.ubcd.locked(c.id)["failcnt"], 2, "lockedpages failcnt")
    check_eq(s.ubcd.privvm(c.id)["failcnt"], 0, "privvmpages failcnt")
    c.probe.ok("mmap-locked 512K")
    check_eq(_vmlck(c), 128, "VmLck of the locked mapping")
    _locked_held_is(s, c, 128, "the MAP_LOCKED mapping")
    c.probe.ok("mmap-locked-ro 512K")  # 256: the barrier exactly
    _locked_held_is(s, c, _vmlck(c), "VmLck")
    c.probe.err("mmap-locked 4K")
    c.probe.ok("munmap")
    c.probe.ok("munmap-all")
    check_eq(_vmlck(c), 0, "VmLck after munmap")
    _locked_held_is(s, c, 0, "after munmap")
    check(s.ubcd.locked(c.id)["maxheld"] >= 256, "lockedpages maxheld")
    c.stop()


def a_locked_mmap_privvmpages_refuses_leaves_lockedpages_unchanged(rt):
    """The 2006 patch's order: a MAP_LOCKED mapping that fits lockedpages but not
    privvmpages is refused with ENOMEM; only privvmpages' failcnt moves and lockedpages
    held is what it was (its charge was rolled back), so the room is still there."""
    s = Session(rt)
    c = _locked_container(s, "2048:2048", privvmpages="4096:4096")
    c.probe.ok("mmap-locked 1M")
    _locked_held_is(s, c, 256, "a 1 MiB locked mapping")
    data = c.probe.statm()
    c.probe.ok(f"mmap {(4096 - data - 64) * 4}K")  # 64 pages under the privvmpages barrier
    c.probe.err("mmap-locked 1M")  # 256 locked pages fit; privvmpages does not
    pv, lk = s.ubcd.privvm(c.id), s.ubcd.locked(c.id)
    check_eq(pv["failcnt"], 1, "privvmpages failcnt")
    check_eq(lk["failcnt"], 0, "lockedpages failcnt")
    check_eq(lk["held"], 256, "lockedpages held after the refusal")
    check_eq(_vmlck(c), 256, "VmLck after the refusal")
    c.probe.ok("munmap")  # the plain mapping: privvmpages has room again
    c.probe.ok("mmap-locked 1M")
    _locked_held_is(s, c, 512, "the second locked mapping")
    check_eq(s.ubcd.locked(c.id)["failcnt"], 0, "lockedpages failcnt at the end")
    c.stop()


def after_mcl_future_plain_mmaps_are_charged_as_locked(rt):
    """mlockall(MCL_FUTURE) alone locks nothing now; every later mapping is locked as it
    is made, so a plain mmap past the lockedpages barrier is refused with ENOMEM. After
    munlockall mappings are plain again."""
    s = Session(rt)
    c = _locked_container(s, "1024:1024")
    base = _vmlck(c)
    c.probe.ok("mlockall future")
    check_eq(_vmlck(c), base, "VmLck right after MCL_FUTURE")
    c.probe.ok("mmap 1M")
    locked = _vmlck(c)
    # The probe's own stdio buffers may take a page or two of heap, locked too.
    check(base + 256 <= locked <= base + 264,
          f"VmLck {locked} after a plain 1 MiB mmap under MCL_FUTURE (before: {base})")
    wait_until(lambda: s.ubcd.locked(c.id)["held"] == _vmlck(c), timeout_s=10,
               what=lambda: f"lockedpages held = VmLck; now {s.ubcd.locked(c.id)}")
    c.probe.err("mmap 4M")  # 256 + 1024 > 1024
    lk = s.ubcd.locked(c.id)
    check_eq(lk["failcnt"], 1, "lockedpages failcnt")
    check_eq(s.ubcd.privvm(c.id)["failcnt"], 0, "privvmpages failcnt")
    c.probe.ok("munlockall")
    check_eq(_vmlck(c), 0, "VmLck after munlockall")
    c.probe.ok("mmap 4M")  # plain again
    check_eq(_vmlck(c), 0, "VmLck after a plain mmap")
    _locked_held_is(s, c, 0, "after munlockall")
    # MCL_CURRENT past the barrier: the call returns 0 and locks nothing (the reference's
    # mlockall rule), and failcnt counts it.
    c.probe.ok("mlockall current")
    check_eq(_vmlck(c), 0, "VmLck after a refused MCL_CURRENT")
    check_eq(s.ubcd.locked(c.id)["failcnt"], 2, "lockedpages failcnt after MCL_CURRENT")
    check(s.ubcd.alive(), "ubcd died")
    c.stop()


def shm_lock_of_a_segment_is_charged_and_refused_at_the_barrier(rt):
    """shmctl(SHM_LOCK) charges the segment's size: held is VmLck plus the locked
    segments; a segment past the barrier is refused with ENOMEM, locking one already
    locked is free, and removing a locked segment releases it."""
    s = Session(rt)
    c = _locked_container(s, "384:384")
    small = c.probe.ok("shmget 1M")[0]
    big = c.probe.ok("shmget 2M")[0]
    c.probe.ok(f"shmlock {small}")
    _locked_held_is(s, c, 256, "one locked 1 MiB segment")
    c.probe.err(f"shmlock {big}")
    check_eq(s.ubcd.locked(c.id)["failcnt"], 1, "lockedpages failcnt")
    c.probe.ok(f"shmlock {small}")  # already locked: nothing new
    c.probe.ok("mmap 512K")
    c.probe.ok("mlock")  # 256 + 128 = 384: the barrier exactly
    _locked_held_is(s, c, 384, "segment + VmLck")
    check_eq(s.ubcd.locked(c.id)["failcnt"], 1, "lockedpages failcnt at the barrier")
    c.probe.ok(f"shmrm {small}")
    _locked_held_is(s, c, 128, "after removing the locked segment")
    c.probe.err(f"shmlock {big}")  # 128 + 512 > 384
    check_eq(s.ubcd.locked(c.id)["failcnt"], 2, "lockedpages failcnt at the end")
    c.probe.ok(f"shmrm {big}")
    check(s.ubcd.alive(), "ubcd died")
    c.stop()
