"""Memory-accounting behaviours checked against a real ubcd, for any runtime (runc, crun).

Each case takes the runtime name and runs one container whose only process is the probe
(plus an exec'd probe where stated), so that the container's privvmpages held equals the
probe's own statm "data" (field 6). Barriers are in pages; sizes sent to the probe use its
"NP" (pages) form. Every number asserted follows docs/ubc-semantics.md §1 and §3:
barrier-checked charges succeed iff held + n <= barrier (and <= limit), limit-checked iff
held + n <= limit, a refusal leaves held unchanged and adds exactly 1 to failcnt.

test_runc.py and test_crun.py bind these cases to a runtime.
"""

import re

from bundles import hook_patch
from cleanup import unique_id
from outcome import check, check_eq, wait_until
from probe import pages
from runtimes import Container
from session import Session

# Names of cases, in the order the test modules bind them.
CASES = [
    "mmap_under_barrier",
    "mmap_over_barrier",
    "mmap_exactly_at_barrier",
    "failcnt_counts_each_refusal",
    "refused_then_exact_fit_then_refused",
    "sbrk_over_barrier",
    "malloc_after_brk_refused",
    "mremap_growth",
    "mmap_fixed_over_mapping",
    "mprotect_bc2006_checks_barrier",
    "mprotect_openvz_checks_limit",
    "fork_bc2006_checks_limit",
    "fork_openvz_checks_barrier",
    "fork_child_counted",
    "fork_charge_stays_while_the_child_lives",
    "shared_and_readonly_not_charged",
    "munmap_then_remap",
    "threads_race",
    "threads_race_no_spurious_refusal",
    "exec_counted_in_same_beancounter",
    "exec_replacing_image_releases_pages",
    "exec_resets_the_remembered_break",
    "unannotated_left_unchanged",
]


def _processes_are(session, container, expected, what="processes"):
    """Waits until ubcd counts `expected` processes in the container (a member list it
    re-reads when a fork, an exec or an exit announces a change)."""
    wait_until(lambda: session.ubcd.require_container(container.id)["processes"] == expected,
               timeout_s=5, what=f"{what} == {expected}")


def _held_is(session, container, expected_pages, what="held"):
    """Waits until ubcd's status shows held == expected. held must converge to the kernel's
    own count (statm data of the container's processes) once nothing is in flight; up to
    5 s is allowed for a status that refreshes lazily."""
    try:
        return wait_until(
            lambda: session.ubcd.privvm(container.id)["held"] == expected_pages,
            timeout_s=5, what=f"{what} == {expected_pages}")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; status now {session.ubcd.privvm(container.id)}") \
            from None


def _has_number(line, n):
    return re.search(rf"(?<![0-9]){n}(?![0-9])", line) is not None


def mmap_under_barrier(rt):
    s = Session(rt)
    barrier = 8192
    c = s.supervised(f"{barrier}:{barrier}")
    st = s.ubcd.require_container(c.id)
    check_eq(st["state"], "running", "state")
    check_eq(st["profile"], "bc2006", "default profile")
    check_eq(st["processes"], 1, "processes")
    check_eq(st["notify_fds"], 1, "notify_fds")
    check_eq(st["privvmpages"]["barrier"], barrier, "barrier")
    check_eq(st["privvmpages"]["limit"], barrier, "limit")
    check_eq(st["privvmpages"]["failcnt"], 0, "failcnt")
    data = c.probe.statm()
    c.probe.ok(f"mmap {pages(barrier - data - 256)}")
    check_eq(c.probe.statm(), barrier - 256, "statm data after the mmap")
    _held_is(s, c, barrier - 256)
    pv = s.ubcd.privvm(c.id)
    check_eq(pv["failcnt"], 0, "failcnt")
    check(pv["maxheld"] <= barrier, f"maxheld {pv['maxheld']} > barrier")
    check_eq(s.ubcd.refusal_lines(c.id), [], "refusal log lines")
    c.stop()


def mmap_over_barrier(rt):
    s = Session(rt)
    barrier = 4096
    c = s.supervised(f"{barrier}:{barrier}")
    data = c.probe.statm()
    want = barrier - data + 1
    c.probe.err(f"mmap {pages(want)}")
    c.probe.err("mmap 64M")
    check_eq(c.probe.statm(), data, "statm data after refusals (nothing mapped)")
    pv = s.ubcd.privvm(c.id)
    check_eq(pv["failcnt"], 2, "failcnt")
    _held_is(s, c, data, "held after refusals")
    lines = s.ubcd.refusal_lines(c.id)
    check(len(lines) >= 2, f"expected 2 refusal lines for {c.id}, got {lines}")
    first = lines[0]
    host_pid = c.host_pid()
    check("ubc-probe" in first, f"comm missing in {first!r}")
    check("mmap" in first, f"syscall missing in {first!r}")
    check(host_pid is None or _has_number(first, host_pid), f"pid {host_pid} missing: {first!r}")
    check(_has_number(first, want), f"requested pages {want} missing in {first!r}")
    check(_has_number(first, data), f"held {data} missing in {first!r}")
    check(_has_number(first, barrier), f"bound {barrier} missing in {first!r}")
    # Still alive and usable after refusals.
    c.probe.ok("mmap 1M")
    c.stop()


def mmap_exactly_at_barrier(rt):
    s = Session(rt)
    barrier, limit = 4096, 5120
    c = s.supervised(f"{barrier}:{limit}")
    data = c.probe.statm()
    c.probe.ok(f"mmap {pages(barrier - data)}")
    check_eq(c.probe.statm(), barrier, "statm data at the barrier")
    c.probe.err("mmap 1P")
    check_eq(c.probe.statm(), barrier, "statm data after the refusal")
    pv = s.ubcd.privvm(c.id)
    check_eq(pv["failcnt"], 1, "failcnt")
    _held_is(s, c, barrier)
    check_eq(s.ubcd.privvm(c.id)["maxheld"], barrier, "maxheld")
    c.stop()


def failcnt_counts_each_refusal(rt):
    s = Session(rt)
    barrier = 4096
    c = s.supervised(f"{barrier}:{barrier}")
    for i in range(1, 6):
        c.probe.err(f"mmap {pages(barrier)}")
        check_eq(s.ubcd.privvm(c.id)["failcnt"], i, f"failcnt after refusal {i}")
        c.probe.ok("mmap 4P")
        check_eq(s.ubcd.privvm(c.id)["failcnt"], i, f"failcnt after a granted mmap ({i})")
    c.probe.err(f"sbrk {pages(barrier)}")
    check_eq(s.ubcd.privvm(c.id)["failcnt"], 6, "failcnt after a refused brk")
    c.stop()


def refused_then_exact_fit_then_refused(rt):
    """A refusal must not leak a reservation: the exact remaining headroom is still
    granted afterwards, and anything beyond it is refused again, each refusal counted."""
    s = Session(rt)
    barrier = 4096
    c = s.supervised(f"{barrier}:{barrier}")
    data = c.probe.statm()
    c.probe.err(f"mmap {pages(barrier - data + 1)}")
    c.probe.err(f"mmap {pages(barrier - data + 1)}")
    c.probe.ok(f"mmap {pages(barrier - data)}")
    check_eq(c.probe.statm(), barrier, "statm data")
    c.probe.err("mmap 1P")
    c.probe.err(f"mmap {pages(barrier)}")
    pv = s.ubcd.privvm(c.id)
    check_eq(pv["failcnt"], 4, "failcnt")
    _held_is(s, c, barrier)
    pv = s.ubcd.privvm(c.id)
    check(pv["maxheld"] <= barrier, f"maxheld {pv['maxheld']} > barrier {barrier}")
    c.stop()


def sbrk_over_barrier(rt):
    """A refused brk returns the old break (glibc's sbrk then says ENOMEM), and the
    process's break bookkeeping stays intact for later brk calls."""
    s = Session(rt)
    barrier = 4096
    c = s.supervised(f"{barrier}:{barrier}")
    data = c.probe.statm()
    brk0 = int(c.probe.ok("brk-now")[0], 16)
    c.probe.err(f"sbrk {pages(barrier - data + 1)}")
    check_eq(int(c.probe.ok("brk-now")[0], 16), brk0, "break after the refused sbrk")
    check_eq(c.probe.statm(), data, "statm data after the refused sbrk")
    check_eq(s.ubcd.privvm(c.id)["failcnt"], 1, "failcnt")
    c.probe.ok("sbrk 16P")
    check_eq(int(c.probe.ok("brk-now")[0], 16), brk0 + 16 * 4096, "break after sbrk 16P")
    check_eq(c.probe.statm(), data + 16, "statm data after sbrk 16P")
    c.probe.ok(f"sbrk {pages(barrier - data - 16)}")
    check_eq(c.probe.statm(), barrier, "statm data with the heap at the barrier")
    c.probe.err("sbrk 1P")
    check_eq(s.ubcd.privvm(c.id)["failcnt"], 2, "failcnt")
    lines = s.ubcd.refusal_lines(c.id)
    check(any("brk" in ln for ln in lines), f"no brk refusal logged: {lines}")
    c.stop()


def malloc_after_brk_refused(rt):
    """glibc malloc under a brk refusal. Small blocks come from the brk heap (~33-page
    steps: block + 128 KiB top pad); when a step is refused glibc tries an mmap fallback of
    at least 1 MiB and a fresh arena, both at least as big as the refused step, so with
    one barrier they are refused too and malloc returns NULL cleanly. The test checks
    exactly that: the heap fills the barrier to within one step, the brk refusal and the
    fallback mmap attempt are both seen by ubcd, and after freeing room malloc works
    again through brk and, for large blocks, through mmap."""
    s = Session(rt)
    barrier = 4096
    c = s.supervised(f"{barrier}:{barrier}")
    c.probe.ok("mmap 1M")  # 256 pages of room to give back later
    n_ok, outside_brk = (int(x) for x in c.probe.ok("malloc-small-loop 10000000 4000"))
    data = c.probe.statm()
    check(n_ok > 1000, f"only {n_ok} small mallocs succeeded")
    check(data <= barrier, f"statm data {data} above barrier {barrier}")
    check(barrier - data < 64,
          f"heap stopped {barrier - data} pages below the barrier (> one brk step)")
    pv = s.ubcd.privvm(c.id)
    check(pv["failcnt"] >= 2, f"expected a refused brk and a refused fallback, {pv}")
    lines = s.ubcd.refusal_lines(c.id)
    brk_lines = [i for i, ln in enumerate(lines) if "brk" in ln]
    check(brk_lines, f"no brk refusal logged: {lines}")
    check(any("mmap" in ln for ln in lines[brk_lines[0] + 1:]),
          f"glibc's mmap fallback after the refused brk was not seen: {lines}")
    if outside_brk:
        # Not expected with one barrier (see docstring); recorded, not asserted.
        print(f"note: {outside_brk} blocks came from outside the brk heap")
    c.probe.ok("munmap")  # +256 pages of headroom
    c.probe.ok("malloc 4000")  # brk again
    c.probe.ok("malloc 512K")  # above the mmap threshold: an mmap of 129 pages
    data = c.probe.statm()
    check(data <= barrier, f"statm data {data} above barrier {barrier}")
    check(s.ubcd.privvm(c.id)["maxheld"] <= barrier, "maxheld above the barrier")
    c.stop()


def mremap_growth(rt):
    s = Session(rt)
    barrier = 4096
    c = s.supervised(f"{barrier}:{barrier}")
    c.probe.ok("mmap 256P")
    room = barrier - c.probe.statm()
    size = 256 + room - 8
    c.probe.ok(f"mremap {pages(size)}")
    check_eq(c.probe.statm(), barrier - 8, "statm data after growing within headroom")
    c.probe.err(f"mremap {pages(size + 9)}")
    check_eq(c.probe.statm(), barrier - 8, "statm data after the refused growth")
    check_eq(s.ubcd.privvm(c.id)["failcnt"], 1, "failcnt")
    c.probe.ok(f"mremap {pages(size + 8)}")
    check_eq(c.probe.statm(), barrier, "statm data after growing to the barrier")
    c.probe.ok("mremap 128P")  # shrink never fails
    check_eq(c.probe.statm(), barrier - (size + 8 - 128), "statm data after shrinking")
    c.probe.ok(f"mremap {pages(size + 8)}")  # grow back to the barrier
    c.probe.err("mmap 1P")
    check_eq(s.ubcd.privvm(c.id)["failcnt"], 2, "failcnt")
    c.stop()


def mmap_fixed_over_mapping(rt):
    """MAP_FIXED: the old range's private part is released first, then the new length
    is charged. Over a private RW mapping the net is 0; over PROT_NONE it is + len."""
    s = Session(rt)
    barrier = 4096
    c = s.supervised(f"{barrier}:{barrier}")
    data = c.probe.statm()
    fill = barrier - data - 100
    c.probe.ok(f"mmap {pages(fill)}")
    c.probe.ok(f"mmap-fixed {pages(fill)}")  # replaces itself: net 0, 100 pages left
    check_eq(c.probe.statm(), barrier - 100, "statm data after MAP_FIXED over itself")
    c.probe.ok("mmap-prot-none 1M")
    c.probe.err("mmap-fixed 1M")  # + 256 over a free PROT_NONE range: > 100 left
    check_eq(s.ubcd.privvm(c.id)["failcnt"], 1, "failcnt")
    c.probe.ok("mmap-fixed 64P")
    check_eq(c.probe.statm(), barrier - 36, "statm data after MAP_FIXED 64P")
    c.stop()


def mprotect_bc2006_checks_barrier(rt):
    s = Session(rt)
    barrier, limit = 4096, 8192
    c = s.supervised(f"{barrier}:{limit}")
    data = c.probe.statm()
    n = barrier - data + 1024  # data + n is above the barrier, below the limit
    c.probe.ok(f"mmap-prot-none {pages(n)}")
    check_eq(c.probe.statm(), data, "PROT_NONE mapping is not charged")
    c.probe.err("mprotect-rw")
    check_eq(c.probe.statm(), data, "statm data after the refused mprotect")
    check_eq(s.ubcd.privvm(c.id)["failcnt"], 1, "failcnt")
    c.probe.ok("munmap")
    c.probe.ok("mmap-prot-none 512P")
    c.probe.ok("mprotect-rw")
    check_eq(c.probe.statm(), data + 512, "statm data after mprotect RW within headroom")
    c.probe.ok("mmap-ro 256P")
    c.probe.ok("mprotect-rw")
    check_eq(c.probe.statm(), data + 768, "statm data after mprotect RO->RW")
    check_eq(s.ubcd.privvm(c.id)["failcnt"], 1, "failcnt")
    c.stop()


def mprotect_openvz_checks_limit(rt):
    s = Session(rt)
    barrier, limit = 4096, 8192
    c = s.supervised(f"{barrier}:{limit}", profile="openvz")
    check_eq(s.ubcd.require_container(c.id)["profile"], "openvz", "profile")
    data = c.probe.statm()
    n = barrier - data + 1024  # barrier < data + n <= limit
    c.probe.ok(f"mmap-prot-none {pages(n)}")
    c.probe.ok("mprotect-rw")  # openvz checks mprotect against the limit
    check_eq(c.probe.statm(), data + n, "statm data above the barrier")
    _held_is(s, c, data + n)
    c.probe.err("mmap 1P")  # mmap stays barrier-checked: held is above it
    left = limit - (data + n)
    c.probe.ok(f"mmap-prot-none {pages(left + 1)}")
    c.probe.err("mprotect-rw")  # one page over the limit
    c.probe.ok("munmap")
    c.probe.ok(f"mmap-prot-none {pages(left)}")
    c.probe.ok("mprotect-rw")  # exactly at the limit
    check_eq(c.probe.statm(), limit, "statm data at the limit")
    pv = s.ubcd.privvm(c.id)
    check_eq(pv["failcnt"], 2, "failcnt")
    check_eq(pv["maxheld"], limit, "maxheld")
    c.stop()


def _grow_to(c, target_pages):
    data = c.probe.statm()
    check(data <= target_pages, f"statm data {data} already above {target_pages}")
    if target_pages > data:
        c.probe.ok(f"mmap {pages(target_pages - data)}")
    check_eq(c.probe.statm(), target_pages, "statm data")


def fork_bc2006_checks_limit(rt):
    """fork charges the parent's private pages against the LIMIT under bc2006."""
    s = Session(rt)
    barrier, limit = 8192, 12288
    c = s.supervised(f"{barrier}:{limit}")
    c.probe.ok("fork")
    _grow_to(c, 5000)
    c.probe.ok("fork")  # 5000 + 5000 > barrier but <= limit
    _grow_to(c, 7000)
    c.probe.err("fork")  # 7000 + 7000 > limit
    check_eq(c.probe.statm(), 7000, "statm data after the refused fork")
    pv = s.ubcd.privvm(c.id)
    check_eq(pv["failcnt"], 1, "failcnt")
    check(pv["maxheld"] <= limit, f"maxheld {pv['maxheld']} above the limit")
    _held_is(s, c, 7000)
    c.stop()


def fork_openvz_checks_barrier(rt):
    s = Session(rt)
    barrier, limit = 8192, 12288
    c = s.supervised(f"{barrier}:{limit}", profile="openvz")
    _grow_to(c, 3000)
    c.probe.ok("fork")  # 6000 <= barrier
    _grow_to(c, 5000)
    c.probe.err("fork")  # 10000 > barrier (<= limit)
    check_eq(s.ubcd.privvm(c.id)["failcnt"], 1, "failcnt")
    _held_is(s, c, 5000)
    c.stop()


def fork_child_counted(rt):
    """A living child's copied private pages are held by the same beancounter."""
    s = Session(rt)
    barrier, limit = 8192, 16384
    c = s.supervised(f"{barrier}:{limit}")
    _grow_to(c, 3000)
    c.probe.ok("fork-hold")
    room = barrier - 6000
    # At once, before any status read lists the members: the parent's next call is decided
    # exactly (6000 + room + 1 is inside the headroom) and must find the silent child among
    # the forking thread's children.
    c.probe.err(f"mmap {pages(room + 1)}")
    _processes_are(s, c, 2)
    _held_is(s, c, 6000)
    c.probe.ok(f"mmap {pages(room)}")
    c.probe.ok("kill-children")
    _held_is(s, c, 3000 + room)
    _processes_are(s, c, 1)
    c.stop()


def fork_charge_stays_while_the_child_lives(rt):
    """Between exact reads a fork's charge stands for its child. ubcd takes it out of its
    estimate once the forker has no child left (exited and reaped), and only then: with the
    forked child still alive the next fork must see both copies."""
    s = Session(rt)
    barrier, limit = 8192, 12288  # bc2006: fork is checked against the limit
    c = s.supervised(f"{barrier}:{limit}")
    _grow_to(c, 4500)
    c.probe.ok("fork")  # 9000: the child exits and is reaped at once
    # 4500 + the first child's charge + 4500 is past the limit: admitted only because the
    # first child is known to be gone.
    c.probe.ok("fork-hold")
    c.probe.err("fork")  # 4500 + a living 4500 + 4500 > limit
    check_eq(s.ubcd.privvm(c.id)["failcnt"], 1, "failcnt")
    c.probe.ok("kill-children")
    c.probe.ok("fork")
    _held_is(s, c, 4500)
    c.stop()


def shared_and_readonly_not_charged(rt):
    s = Session(rt)
    barrier = 2048  # 8 MiB
    c = s.supervised(f"{barrier}:{barrier}")
    data = c.probe.statm()
    c.probe.ok("mmap-shared-file 32M")
    c.probe.ok("mmap-ro 32M")
    c.probe.ok("mmap-private-file-ro 32M")
    c.probe.ok("mmap-prot-none 32M")
    c.probe.ok("mmap-shared-anon 4M")  # bc2006: transient charge within headroom, net 0
    check_eq(c.probe.statm(), data, "statm data after uncharged mappings")
    _held_is(s, c, data)
    check_eq(s.ubcd.privvm(c.id)["failcnt"], 0, "failcnt")
    c.probe.err("mmap-private-file-rw 16M")  # private writable file mapping is charged
    check_eq(s.ubcd.privvm(c.id)["failcnt"], 1, "failcnt")
    c.stop()


def munmap_then_remap(rt):
    s = Session(rt)
    barrier = 4096
    c = s.supervised(f"{barrier}:{barrier}")
    data = c.probe.statm()
    big = barrier - data - 64
    for round_no in range(3):
        c.probe.ok(f"mmap {pages(big)}")
        c.probe.err("mmap 128P")
        c.probe.ok("munmap")
        check_eq(c.probe.statm(), data, f"statm data after munmap (round {round_no})")
    c.probe.ok(f"mmap {pages(barrier - data)}")
    pv = s.ubcd.privvm(c.id)
    check_eq(pv["failcnt"], 3, "failcnt")
    _held_is(s, c, barrier)
    c.stop()


def _threads_round(s, c, barrier, threads, size):
    """One race: returns (granted, denied, headroom before the race) after checking that
    no overshoot happened: granted*size <= headroom, held/maxheld <= barrier, and one
    failcnt per denied thread."""
    fails0 = s.ubcd.privvm(c.id)["failcnt"]
    granted, denied, data_before = (int(x) for x in
                                    c.probe.ok(f"threads {threads} {pages(size)}"))
    room = barrier - data_before
    check_eq(granted + denied, threads, "granted + denied")
    check(granted * size <= room,
          f"{granted} x {size} pages granted but only {room} pages of headroom")
    data = c.probe.statm()
    check(data <= barrier, f"statm data {data} above the barrier")
    pv = s.ubcd.privvm(c.id)
    check(pv["maxheld"] <= barrier, f"maxheld {pv['maxheld']} above barrier {barrier}")
    check_eq(pv["failcnt"] - fails0, denied, "failcnt increase == denied threads")
    return granted, denied, room


def threads_race(rt):
    """16 threads released together each mmap 256 pages: the race must never let the
    container past its barrier (thread stacks are 64 KiB and already counted in the
    probe's DATA_BEFORE)."""
    s = Session(rt)
    barrier = 4096
    c = s.supervised(f"{barrier}:{barrier}")
    granted, _, _ = _threads_round(s, c, barrier, 16, 256)
    check(granted >= 1, "no thread was granted its mapping")
    left = barrier - c.probe.statm()
    _threads_round(s, c, barrier, 8, max(1, left // 4))
    c.stop()


def threads_race_no_spurious_refusal(rt):
    """The same race, stricter: ubcd grants exactly as many as fit, as the kernel would.
    A completed mmap still held as an in-flight reservation shows up here as a spurious
    ENOMEM."""
    s = Session(rt)
    barrier = 4096
    c = s.supervised(f"{barrier}:{barrier}")
    granted, _, room = _threads_round(s, c, barrier, 16, 256)
    check_eq(granted, room // 256, f"granted (headroom {room} pages / 256 pages each)")
    c.stop()


def exec_counted_in_same_beancounter(rt):
    s = Session(rt)
    barrier = 8192
    c = s.supervised(f"{barrier}:{barrier}")
    d1 = c.probe.statm()
    e = c.exec_probe()
    d2 = e.statm()
    wait_until(lambda: s.ubcd.require_container(c.id)["notify_fds"] == 2, timeout_s=5,
               what="notify_fds == 2")
    _processes_are(s, c, 2)
    _held_is(s, c, d1 + d2)
    room = barrier - d1 - d2
    e.err(f"mmap {pages(room + 1)}")
    e.ok(f"mmap {pages(room - 100)}")
    c.probe.err("mmap 101P")
    c.probe.ok("mmap 100P")
    check_eq(c.probe.statm() + e.statm(), barrier, "sum of statm data")
    check_eq(s.ubcd.privvm(c.id)["failcnt"], 2, "failcnt")
    _held_is(s, c, barrier)
    # The exec'd probe's pages go with it.
    e.close()
    c.probe.ok(f"mmap {pages(room - 100 + d2)}")
    check_eq(c.probe.statm(), barrier, "statm data of init after the exec'd probe left")
    c.stop()


def exec_replacing_image_releases_pages(rt):
    s = Session(rt)
    barrier = 4096
    c = s.supervised(f"{barrier}:{barrier}")
    data = c.probe.statm()
    c.probe.ok(f"mmap {pages(barrier - data - 50)}")
    c.probe.send("exec /bin/ubc-probe")  # no reply: the image is replaced
    fresh = c.probe.statm()
    check(fresh < 1000, f"statm data {fresh} after exec")
    c.probe.ok(f"mmap {pages(barrier - fresh)}")
    c.probe.err("mmap 1P")
    c.stop()


def exec_resets_the_remembered_break(rt):
    """ubcd remembers each process's break to plan brk without reading /proc/PID/maps, and
    an exec (trapped, never charged) resets it. After a large heap and an exec, the new
    image's heap growth is charged: with a barrier large enough for the estimate to decide
    up to 2048 pages below it, an allocation one page past the barrier is still refused and
    one up to it admitted."""
    s = Session(rt)
    barrier = 65536  # 256 MiB: the estimate decides up to 2048 pages below the barrier
    c = s.supervised(f"{barrier}:{barrier}")
    c.probe.ok("sbrk 200M")
    c.probe.send("exec /bin/ubc-probe")  # no reply: the image is replaced
    check(c.probe.statm() < 1000, "statm data after exec")
    c.probe.ok("sbrk 100M")
    data = c.probe.statm()
    check(data >= 25600, f"statm data {data} after the new heap grew by 100 MiB")
    c.probe.err(f"mmap {pages(barrier - data + 1)}")
    c.probe.ok(f"mmap {pages(barrier - data)}")
    check_eq(s.ubcd.privvm(c.id)["failcnt"], 1, "failcnt")
    c.stop()


def unannotated_left_unchanged(rt):
    """ubc-hook patch leaves a bundle without ubc annotations byte-identical (opt_in
    "annotated"), and the container runs normally, unsupervised."""
    s = Session(rt)
    for annotations in (None, {"org.example.other": "x"}):
        cid = unique_id()
        bundle = s.new_bundle(cid, annotations=annotations)
        with open(f"{bundle}/config.json", "rb") as f:
            before = f.read()
        hook_patch(s.hook_path, bundle, s.settings_path, cid)
        with open(f"{bundle}/config.json", "rb") as f:
            after = f.read()
        check(before == after, f"config.json of an unannotated bundle changed "
                               f"({len(before)} -> {len(after)} bytes)")
        c = Container(s.runtime, bundle, cid, s.workdir).start().wait_ready()
        c.probe.ok("mmap 300M")  # above ubcd's default barrier (256 MiB): not supervised
        c.probe.ok("fork")
        check(s.ubcd.container(cid) is None, f"{cid} appeared in ubcd status")
        c.stop()
