"""What the container sees of its memory: sysinfo(2) answered by ubcd from the
privvmpages beancounter (docs/accounting.md, "What the container sees"), in a real
container against a real ubcd.

The default meminfo mode is privvmpages:1: totalram is the privvmpages barrier, freeram
what is left below it, swap 0, procs the container's tasks, uptime the container's age.
glibc's sysconf(_SC_PHYS_PAGES) and _SC_AVPHYS_PAGES come from it. `ubc.meminfo=none`
keeps the host's figures (sysinfo is not trapped then); `pages:N` is a fixed total.

test_runc.py and test_crun.py bind these cases to a runtime.
"""

from outcome import check, check_eq, wait_until
from session import Session
from test_rest import http, token_of, wait_rest

CASES = [
    "sysinfo_shows_the_privvmpages_barrier_and_moves_as_the_container_allocates",
    "meminfo_none_shows_the_host_and_pages_a_fixed_total",
]


def _sysinfo(c):
    total, free, procs, uptime, swap = c.probe.ok("sysinfo")
    return int(total), int(free), int(procs), int(uptime), int(swap)


def _host_memtotal_pages():
    with open("/proc/meminfo", encoding="ascii") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 4


def sysinfo_shows_the_privvmpages_barrier_and_moves_as_the_container_allocates(rt):
    """A container with barrier 256 MiB sees totalram 65536 pages and freeram = barrier -
    held, through sysinfo(2), glibc's sysconf and the i386 entry; a 64 MiB allocation
    takes 16384 pages off freeram; swap is 0, uptime the container's, procs its tasks;
    a bad pointer gets EFAULT as from the kernel."""
    s = Session(rt)
    c = s.container(privvmpages="65536:69632")
    s.ubcd.wait_container(c.id)
    total, free, procs, uptime, swap = _sysinfo(c)
    check_eq(total, 65536, "totalram pages (the barrier)")
    held = s.ubcd.privvm(c.id)["held"]
    check(abs(free - (65536 - held)) <= 64, f"freeram {free} vs barrier - held {65536 - held}")
    check_eq(swap, 0, "totalswap")
    check(1 <= procs <= 4, f"procs {procs} (the probe)")
    with open("/proc/uptime", encoding="ascii") as f:
        host_uptime = float(f.read().split()[0])
    check(0 <= uptime <= 120 and uptime < host_uptime - 1 or host_uptime < 120,
          f"uptime {uptime} is the container's (host {host_uptime})")
    phys, avphys = (int(x) for x in c.probe.ok("sysconf"))
    check_eq(phys, 65536, "sysconf(_SC_PHYS_PAGES)")
    check(abs(avphys - free) <= 64, f"sysconf(_SC_AVPHYS_PAGES) {avphys} vs freeram {free}")
    c.probe.ok("mmap 64M")
    total2, free2, _, _, _ = _sysinfo(c)
    check_eq(total2, 65536, "totalram after the allocation")
    check(free - free2 >= 16384 - 64, f"freeram {free} -> {free2} after a 64 MiB allocation")
    check_eq(c.probe.cmd("sysinfo-bad"), "err EFAULT", "sysinfo of a bad pointer")
    check_eq(c.probe.cmd("sysinfo-ro"), "err EFAULT", "sysinfo into a read-only page")
    if c.probe.ok("i386-works")[0] == "yes":
        total32, free32, _ = (int(x) for x in c.probe.ok("i386-sysinfo"))
        check_eq(total32, 65536, "i386 sysinfo totalram pages")
        # i386-works forked a child: until it is known reaped its pages may still be held.
        held = s.ubcd.privvm(c.id)["held"]
        check(0 < free32 <= free2 + 64 and abs(free32 - (65536 - held)) <= 16384 + 64,
              f"i386 freeram {free32} (before {free2}, barrier - held {65536 - held})")
    check_eq(s.ubcd.privvm(c.id)["failcnt"], 0, "sysinfo is never charged")
    check(s.ubcd.alive(), "ubcd died")
    c.stop()


def meminfo_none_shows_the_host_and_pages_a_fixed_total(rt):
    """ubc.meminfo=none: the host's totalram; pages:16M: 4096 pages; a live REST change
    of meminfo applies to the next sysinfo."""
    s = Session(rt)
    host = _host_memtotal_pages()
    c = s.container(privvmpages="65536:69632", annotations={"ubc.meminfo": "none"})
    s.ubcd.wait_container(c.id)
    total, _, _, _, _ = _sysinfo(c)
    check(abs(total - host) <= 256, f"totalram {total} is the host's ({host})")
    c.stop()
    c = s.container(privvmpages="65536:69632", annotations={"ubc.meminfo": "pages:16M"})
    s.ubcd.wait_container(c.id)
    total, free, _, _, _ = _sysinfo(c)
    check_eq(total, 4096, "totalram under pages:16M")
    check(free <= 4096, f"freeram {free}")
    wait_rest(s.ubcd)
    url = f"{s.ubcd.rest_url}/v1/containers/{c.id}"
    status, _, body = http("PATCH", url, '{"meminfo": "privvmpages:2"}', token_of(s.ubcd))
    check_eq(status, 200, f"PATCH meminfo: {body}")
    wait_until(lambda: _sysinfo(c)[0] == 2 * 65536, timeout_s=5,
               what="totalram 2 x the barrier after the PATCH")
    status, _, body = http("PATCH", url, '{"meminfo": "swap:1"}', token_of(s.ubcd))
    check_eq(status, 400, f"PATCH of a bad meminfo: {body}")
    c.stop()
