"""A bounded soak: waves of two dozen containers allocating, forking and exiting against
one ubcd at the same time. At the end ubcd's fd count is back where it started and its
memory flat between waves, and every container left at rest has held equal to the sum
of its processes' statm data, read from the host."""

import os

from outcome import check, check_eq, wait_until
from procs import process_tree, same_address_space
from session import Session

CONTAINERS_PER_WAVE = 24
WAVES = 3


def _rss_kib(pid):
    with open(f"/proc/{pid}/status", encoding="utf-8") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def _statm_data(pid):
    with open(f"/proc/{pid}/statm", encoding="utf-8") as f:
        return int(f.read().split()[5])


def _host_data(init_pid):
    """(address spaces, sum of their statm data in pages) over the container's processes: its
    init and every descendant, read from the host, each address space counted once. ubcd's
    own figures play no part in it."""
    spaces = []
    for pid in process_tree(init_pid):
        if not any(same_address_space(pid, other) for other in spaces):
            spaces.append(pid)
    return len(spaces), sum(_statm_data(pid) for pid in spaces)


def _wave(s):
    containers = [s.supervised("16M:20M") for _ in range(CONTAINERS_PER_WAVE)]
    for c in containers:  # all at once: each probe works through its commands alone
        c.probe.send("mmap-for 1500 128K")
    for c in containers:
        words = c.probe.read_line(timeout_s=60, what="mmap-for").split()
        check(words[0] == "ok" and words[3] == "0", f"{c.id}: mmap-for {words} (ENOSYS?)")
        c.probe.send("fork-bomb 6 64K")
    for c in containers:
        words = c.probe.read_line(timeout_s=60, what="fork-bomb").split()
        check(words[0] == "ok", f"{c.id}: fork-bomb {words}")
    return containers


def test_soak_runc():
    s = Session("runc")
    pid = s.ubcd.proc.pid
    fds_start = _fds(pid)
    rss = []
    for _ in range(WAVES):
        containers = _wave(s)
        for c in containers:
            c.stop()
        wait_until(lambda: all(e["state"] == "retired" for e in s.ubcd.status_json()["containers"]),
                   timeout_s=30, what="every container of the wave retired")
        rss.append(_rss_kib(pid))
    wait_until(lambda: _fds(pid) <= fds_start, timeout_s=15,
               what=lambda: f"ubcd fds back to {fds_start} (now {_fds(pid)})")
    # The first wave sizes ubcd's allocator and thread stacks; later ones reuse them.
    check(rss[-1] - rss[1] <= 4096,
          f"ubcd RSS grew from {rss[1]} KiB after wave 2 to {rss[-1]} KiB after wave {WAVES}")

    # At rest, held is the kernel's truth for each container.
    rest = [s.supervised("16M:20M") for _ in range(6)]
    for i, c in enumerate(rest):
        c.probe.ok(f"mmap {(i + 1) * 256}K")
        c.probe.ok("fork-hold")
    for c in rest:
        init = c.host_pid()
        wait_until(lambda: s.ubcd.require_container(c.id)["processes"] == 2, timeout_s=10,
                   what=f"{c.id} has 2 processes")
        wait_until(lambda: _host_data(init)[0] == 2, timeout_s=10,
                   what=lambda: f"{c.id}: 2 address spaces on the host ({_host_data(init)})")
        wait_until(lambda: s.ubcd.privvm(c.id)["held"] == _host_data(init)[1], timeout_s=10,
                   what=lambda: f"{c.id}: held {s.ubcd.privvm(c.id)['held']} == the host's "
                                f"statm data sum {_host_data(init)[1]}")
    for c in rest:
        c.probe.ok("kill-children")
        data = c.probe.statm()
        wait_until(lambda: s.ubcd.privvm(c.id)["held"] == data, timeout_s=10,
                   what=f"{c.id}: held == statm data {data} once the child is gone")
        c.stop()
    check_eq(s.ubcd.alive(), True, "ubcd alive")
