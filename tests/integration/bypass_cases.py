"""Ways around the limit, each tried in a real container against a real ubcd.

Every case is a path to private writable memory that an earlier ubcd let through
uncharged (docs/accounting.md, "Calls that change memory"): the i386 ABI through
`int $0x80` (mmap2, old_mmap, mprotect), pkey_mprotect, mprotect with PROT_GROWSDOWN, and
brk growths the kernel refused after ubcd admitted them. Each asserts that the container
ends at or below its barrier and that the call got the answer docs/ubc-semantics.md §1
gives. The probe is static x86-64; `int $0x80` from it uses the i386 ABI, which the kernel
accepts where ia32 emulation is on at run time (Debian's kernels). Where the kernel refuses it
to every process, the i386 cases check that the path is closed from the container too.

test_runc.py and test_crun.py bind these cases to a runtime.
"""

import subprocess

from memory_cases import _held_is
from outcome import check, check_eq, log
from probe import pages
from session import Session

CASES = [
    "i386_mmap2_is_charged",
    "i386_old_mmap_is_refused",
    "i386_mprotect_is_charged",
    "pkey_mprotect_is_charged",
    "growsdown_mprotect_is_charged_the_whole_mapping",
    "brk_the_kernel_refused_is_not_planned_as_a_shrink",
    "map_fixed_takes_no_credit_while_an_mremap_moves_the_range",
]


def _kernel_takes_i386(s):
    """Whether this kernel accepts the i386 ABI at all, asked outside any container and
    without any seccomp filter: the probe, run on the host, makes getpid through
    `int $0x80` in a child."""
    out = subprocess.run([s.probe_path, "i386-works"], capture_output=True, text=True,
                         timeout=30, check=False).stdout.split()
    check(out[:2] in (["ok", "yes"], ["ok", "no"]), f"host probe i386-works said {out}")
    return out[1] == "yes"


def _i386_is_closed(s, c, barrier):
    """On a kernel that refuses the i386 ABI to every process (ia32 emulation off at run
    time: seen on PVM guests, whose kernels have CONFIG_IA32_EMULATION=y but fault
    `int $0x80` and refuse i386 ELF binaries with ENOEXEC), there is no i386 path to
    memory to charge: the case then asserts that the container cannot take that path
    either (the call faults in a child, nothing is mapped, nothing is held). True when
    that is what was checked; False when the kernel takes i386 calls and the case must
    go on to the charging assertions. (The probe's fork for the try is charged like any fork.)"""
    if _kernel_takes_i386(s):
        check_eq(c.probe.ok("i386-works"), ["yes"],
                 "i386-works in the container (the host's kernel takes int $0x80)")
        return False
    data = c.probe.statm()
    reply = c.probe.ok("i386-works")
    check_eq(reply[0], "no", f"i386-works in the container ({reply}) on a kernel that "
             "refuses int $0x80 outside any container")
    check_eq(c.probe.statm(), data, "statm data after the refused i386 call")
    _at_most_barrier(s, c, barrier)
    log(f"this kernel refuses the i386 ABI to every process ({' '.join(reply)} in the "
        "container as on the host): checked that the i386 path is closed, not its charging")
    return True


def _at_most_barrier(s, c, barrier):
    data = c.probe.statm()
    check(data <= barrier, f"statm data {data} above the barrier {barrier}")
    pv = s.ubcd.privvm(c.id)
    check(pv["held"] <= barrier, f"held {pv['held']} above the barrier {barrier}")
    return data


def i386_mmap2_is_charged(rt):
    """i386 mmap2 (192) is trapped and charged like mmap, with 32-bit registers."""
    s = Session(rt)
    barrier = 4096
    c = s.supervised(f"{barrier}:{barrier}")
    if _i386_is_closed(s, c, barrier):
        return c.stop()
    data = c.probe.statm()
    c.probe.err(f"i386-mmap2 {pages(barrier - data + 1)}")
    check_eq(s.ubcd.privvm(c.id)["failcnt"], 1, "failcnt after the refused mmap2")
    check_eq(c.probe.statm(), data, "statm data after the refusal")
    c.probe.ok("i386-mmap2 16P")
    check_eq(c.probe.statm(), data + 16, "statm data after mmap2 16P")
    _held_is(s, c, data + 16)
    lines = s.ubcd.refusal_lines(c.id)
    check(any("mmap2/i386" in ln for ln in lines), f"no mmap2/i386 refusal logged: {lines}")
    c.stop()


def i386_old_mmap_is_refused(rt):
    """i386 old_mmap (90) passes its arguments in memory, which another thread could change
    after ubcd read them: it is refused (ENOSYS), whatever its registers hold, and that is
    not a beancounter failure."""
    s = Session(rt)
    barrier = 8192
    c = s.supervised(f"{barrier}:{barrier}")
    if _i386_is_closed(s, c, barrier):
        return c.stop()
    data = c.probe.statm()
    c.probe.err("i386-old-mmap 1M", expected="ENOSYS")
    c.probe.err(f"i386-old-mmap {pages(2 * barrier)}", expected="ENOSYS")
    check_eq(c.probe.statm(), data, "statm data after old_mmap")
    check_eq(s.ubcd.privvm(c.id)["failcnt"], 0, "failcnt")
    c.stop()


def i386_mprotect_is_charged(rt):
    """i386 mprotect (125) making a read-only mapping writable is charged."""
    s = Session(rt)
    barrier = 4096
    c = s.supervised(f"{barrier}:{barrier}")
    if _i386_is_closed(s, c, barrier):
        return c.stop()
    data = c.probe.statm()
    n = barrier - data - 64
    c.probe.ok(f"i386-mmap2 {pages(n)}")
    c.probe.ok("mprotect-ro")  # x86-64 mprotect to read-only: releases, not trapped
    check_eq(c.probe.statm(), data, "statm data with the mapping read-only")
    c.probe.ok("mmap 128P")
    c.probe.err("i386-mprotect-rw")
    check_eq(s.ubcd.privvm(c.id)["failcnt"], 1, "failcnt")
    _at_most_barrier(s, c, barrier)
    c.probe.ok("munmap")  # the 128 pages: now it fits
    c.probe.ok("i386-mprotect-rw")
    check_eq(c.probe.statm(), data + n, "statm data with the mapping writable")
    c.stop()


def pkey_mprotect_is_charged(rt):
    """pkey_mprotect (329) has mprotect's effect on what is writable and is charged."""
    s = Session(rt)
    barrier = 4096
    c = s.supervised(f"{barrier}:{barrier}")
    data = c.probe.statm()
    c.probe.ok(f"mmap-ro {pages(barrier - data + 16)}")
    c.probe.err("pkey-mprotect-rw")
    check_eq(s.ubcd.privvm(c.id)["failcnt"], 1, "failcnt")
    check_eq(c.probe.statm(), data, "statm data after the refusal")
    lines = s.ubcd.refusal_lines(c.id)
    check(any("pkey_mprotect" in ln for ln in lines), f"no pkey_mprotect refusal: {lines}")
    c.stop()


def growsdown_mprotect_is_charged_the_whole_mapping(rt):
    """mprotect(top page, PROT_WRITE|PROT_GROWSDOWN) of a read-only MAP_GROWSDOWN mapping
    makes the whole mapping writable: it is charged the whole mapping, not one page. The
    read-only mapping itself is charged too (statm counts a stack whatever its protection),
    so the refusal may come at the mmap already."""
    s = Session(rt)
    barrier = 4096
    c = s.supervised(f"{barrier}:{barrier}")
    data = c.probe.statm()
    c.probe.err(f"growsdown {pages(barrier - data + 256)}")
    check_eq(s.ubcd.privvm(c.id)["failcnt"], 1, "failcnt")
    _at_most_barrier(s, c, barrier)
    c.probe.ok("growsdown 64P")
    check_eq(c.probe.statm(), data + 64, "statm data after a growsdown mapping that fits")
    c.stop()


def brk_the_kernel_refused_is_not_planned_as_a_shrink(rt):
    """brk growths ubcd admitted but the kernel refused (RLIMIT_DATA) must not move the
    break ubcd plans from: a later growth to the same height is a growth, refused at the
    barrier, and the refused brk returns the kernel's break."""
    s = Session(rt)
    barrier = 16384  # 64 MiB
    c = s.supervised(f"{barrier}:{barrier}")
    brk0 = int(c.probe.ok("brk-now")[0], 16)
    c.probe.ok("rlimit-data 1M")
    for step in range(1, 6):
        # glibc asks for its own break + 40 MiB * step; the kernel refuses each
        # (RLIMIT_DATA) when ubcd lets it through.
        c.probe.err(f"sbrk {40 * step}M")
        check_eq(int(c.probe.ok("brk-now")[0], 16), brk0, f"break after step {step}")
    c.probe.ok("rlimit-data inf")
    c.probe.err("sbrk 200M")
    check_eq(int(c.probe.ok("brk-now")[0], 16), brk0, "break after the refused 200M")
    _at_most_barrier(s, c, barrier)
    c.probe.ok("sbrk 16M")
    check_eq(int(c.probe.ok("brk-now")[0], 16), brk0 + 16 * 1024 * 1024, "break after 16M")
    c.stop()


def map_fixed_takes_no_credit_while_an_mremap_moves_the_range(rt):
    """One thread moves a region back and forth with mremap(MREMAP_FIXED) while another maps
    over its first place with MAP_FIXED. A MAP_FIXED is credited the private part it
    replaces, but if the mremap moves that part away first, both stay mapped: no credit is
    taken in a process where another thread's mremap may be in flight (or waiting for
    ubcd behind the MAP_FIXED's decision). The barrier has room for the region once, not
    twice, so without the credit no MAP_FIXED fits: every one is refused. (statm data,
    sampled throughout, also peaks at twice the region while an mremap moves it: the kernel
    maps the new place before it unmaps the old one, so the peak is not what is checked;
    ubcd's held and maxheld must not show it.)"""
    s = Session(rt)
    c = s.supervised("4096:4096")  # only to learn the probe's own size
    data = c.probe.statm()
    c.stop()
    region = 2048  # 8 MiB
    barrier = data + region + 256
    c = s.supervised(f"{barrier}:{barrier}")
    max_data, granted, refused = (int(x) for x in c.probe.ok("fixed-race 1000 8M"))
    check(granted == 0 and refused > 0,
          f"{granted} MAP_FIXED granted on a credit an mremap could void ({refused} refused, "
          f"statm data peaked at {max_data}, barrier {barrier})")
    _at_most_barrier(s, c, barrier)
    # Exact reads taken while a move runs see the region twice; neither held nor maxheld
    # may show that double count as memory the container held.
    maxheld = s.ubcd.privvm(c.id)["maxheld"]
    check(maxheld <= barrier, f"maxheld {maxheld} above the barrier {barrier} "
          f"(statm data peaked at {max_data})")
    c.stop()
