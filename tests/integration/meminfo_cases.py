"""What the container sees of its memory: sysinfo(2) answered by ubcd from the
privvmpages beancounter (docs/accounting.md, "What the container sees"), in a real
container against a real ubcd.

The default meminfo mode is privvmpages:1: totalram is the privvmpages barrier, freeram
what is left below it, swap 0, procs the container's tasks, uptime the container's age.
glibc's sysconf(_SC_PHYS_PAGES) and _SC_AVPHYS_PAGES come from it. `ubc.meminfo=none`
keeps the host's figures (sysinfo is not trapped then); `pages:N` is a fixed total.
/proc/meminfo and /dev/user_beancounters are ubcd's FUSE view (supervisor/proc_view_fs.h),
bound in by ubc-hook: read with busybox in the container.

test_runc.py and test_crun.py bind these cases to a runtime.
"""

import errno
import os

from outcome import check, check_eq, wait_until
from probe import pages
from session import Session
from test_rest import http, token_of, wait_rest
from vzformat import parse_ubc_table

CASES = [
    "sysinfo_shows_the_privvmpages_barrier_and_moves_as_the_container_allocates",
    "meminfo_none_shows_the_host_and_pages_a_fixed_total",
    "proc_meminfo_shows_the_beancounter_and_moves_as_the_container_allocates",
    "user_beancounters_inside_shows_the_containers_own_rows_only",
]


def _meminfo_kb(text):
    fields = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            fields[name] = int(parts[0])
    return fields


def _container_meminfo(c):
    return _meminfo_kb(c.run("cat", "/proc/meminfo").stdout)


def _host_meminfo():
    with open("/proc/meminfo", encoding="ascii") as f:
        return _meminfo_kb(f.read())


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
    # No view is bound: /proc/meminfo is the kernel's, no /dev/user_beancounters.
    check_eq(_container_meminfo(c)["MemTotal"], _host_meminfo()["MemTotal"],
             "MemTotal under meminfo none")
    missing = c.run("cat", "/dev/user_beancounters", check_rc=False)
    check(missing.returncode != 0, "/dev/user_beancounters exists under meminfo none")
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


def proc_meminfo_shows_the_beancounter_and_moves_as_the_container_allocates(rt):
    """With barrier 256 MiB, /proc/meminfo in the container says MemTotal 262144 kB,
    MemFree = MemAvailable = barrier - held, no swap and no host caches; busybox `free`
    agrees; a 64 MiB allocation takes 65536 kB off MemFree; writes are refused; a reader
    on the host, in no container, gets the host's file."""
    s = Session(rt)
    c = s.container(privvmpages="65536:69632")
    s.ubcd.wait_container(c.id)
    m = _container_meminfo(c)
    check_eq(m["MemTotal"], 262144, "MemTotal kB (the barrier)")
    held = s.ubcd.privvm(c.id)["held"]
    # The reading `cat` (an exec'd busybox, a few hundred pages) is held while it reads.
    check(abs(m["MemFree"] - (65536 - held) * 4) <= 8192,
          f"MemFree {m['MemFree']} kB vs barrier - held {(65536 - held) * 4} kB")
    check_eq(m["MemAvailable"], m["MemFree"], "MemAvailable")
    for field in ("SwapTotal", "SwapFree", "Buffers", "Cached"):
        check_eq(m[field], 0, field)
    free = c.run("free").stdout.split("\n")[1].split()
    check_eq(free[0], "Mem:", f"busybox free: {free}")
    check_eq(int(free[1]), 262144, "busybox free total (kB)")
    c.probe.ok(f"mmap {pages(16384)}")
    m2 = _container_meminfo(c)
    check_eq(m2["MemTotal"], 262144, "MemTotal after the allocation")
    check(m["MemFree"] - m2["MemFree"] >= 65536 - 1024,
          f"MemFree {m['MemFree']} -> {m2['MemFree']} kB after a 64 MiB allocation")
    write = c.run("sh", "-c", "echo 1 > /proc/meminfo", check_rc=False)
    check(write.returncode != 0 and ("Read-only" in write.stderr or
                                     "denied" in write.stderr),
          f"a write to /proc/meminfo: rc {write.returncode} {write.stderr!r}")
    # The view itself, on the host: a read-only mount, so opens for writing get EROFS
    # even from root, and a reader in no container is shown the host's figures.
    view = os.path.join(s.ubcd.config["state_dir"], "proc")
    try:
        os.close(os.open(os.path.join(view, "meminfo"), os.O_WRONLY))
        check(False, "the view opened for writing")
    except OSError as e:
        check_eq(e.errno, errno.EROFS, "errno of an O_WRONLY open of the view")
    with open(os.path.join(view, "meminfo"), encoding="ascii") as f:
        check_eq(_meminfo_kb(f.read())["MemTotal"], _host_meminfo()["MemTotal"],
                 "MemTotal read from the host")
    check(s.ubcd.alive(), "ubcd died")
    c.stop()


def user_beancounters_inside_shows_the_containers_own_rows_only(rt):
    """/dev/user_beancounters in the container has the host endpoint's format (Version
    2.5, header, 24 rows) with this container's rows only, and its figures: a refused
    allocation shows as failcnt 1."""
    s = Session(rt)
    c = s.container(privvmpages="16M:20M")
    other = s.container(privvmpages="16M:20M")
    s.ubcd.wait_container(c.id)
    s.ubcd.wait_container(other.id)
    data = c.probe.statm()
    c.probe.err(f"mmap {pages(4096 - data + 1)}")
    text = c.run("cat", "/dev/user_beancounters").stdout
    table = parse_ubc_table(text)
    check_eq(list(table), [c.id], f"containers in the table read inside:\n{text}")
    check_eq(len(text.splitlines()), 2 + 24, "lines: version, header, 24 rows")
    row = table[c.id]["privvmpages"]
    check_eq(row[2:], [4096, 5120, 1], "barrier, limit, failcnt")
    host = parse_ubc_table(s.ubcd.status_text())[c.id]["privvmpages"]
    check_eq(row[2:], host[2:], "the same row as ubcd --status")
    check_eq(list(parse_ubc_table(other.run("cat", "/dev/user_beancounters").stdout)),
             [other.id], "the other container sees its own row")
    other.stop()
    c.stop()
