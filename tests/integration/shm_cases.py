"""SysV shared memory under the shmpages beancounter, in a real container against a real
ubcd (docs/accounting.md, "Shared memory").

A segment is charged to shmpages when shmget creates it (its size in pages, attached or
not) and leaves held when it is destroyed; past the barrier shmget fails with ENOMEM and
failcnt counts it. Held comes from the container's own IPC namespace, which ubcd reads
through its namespace reader. Before shmpages, a container held 512 MiB of SysV shm
against a privvmpages limit of 80 MiB.

test_runc.py and test_crun.py bind these cases to a runtime.
"""

from outcome import check, check_eq, wait_until
from session import Session
from test_rest import get_json

CASES = [
    "shmget_is_charged_to_shmpages_and_refused_at_the_barrier",
    "a_destroyed_segment_leaves_shmpages",
    "opening_an_existing_segment_is_free",
    "openvz_holds_a_shared_anonymous_mapping_in_both_counters",
    "openvz_charges_a_segment_to_privvmpages_too",
]


def _shm_container(s, shmpages, privvmpages="16384:16384", profile=None):
    c = s.container(privvmpages=privvmpages, profile=profile,
                    annotations={"ubc.shmpages": shmpages})
    s.ubcd.wait_container(c.id)
    return c


def _shm_held_is(s, c, pages, what):
    wait_until(lambda: s.ubcd.shm(c.id)["held"] == pages, timeout_s=10,
               what=f"shmpages held {pages} ({what}); now {s.ubcd.shm(c.id)}")


def _privvm_held_is(s, c, pages, what):
    wait_until(lambda: s.ubcd.privvm(c.id)["held"] == pages, timeout_s=10,
               what=lambda: f"privvmpages held {pages} ({what}); now {s.ubcd.privvm(c.id)}")


def shmget_is_charged_to_shmpages_and_refused_at_the_barrier(rt):
    """512 MiB of SysV shm in a container whose shmpages barrier is 1 MiB: ENOMEM, failcnt,
    a refusal event naming shmpages; segments up to the barrier exactly are created, and
    none of it is privvmpages."""
    s = Session(rt)
    c = _shm_container(s, "256:300")
    data = c.probe.statm()
    c.probe.err("shmget 512M")
    check_eq(s.ubcd.shm(c.id)["failcnt"], 1, "shmpages failcnt after the 512 MiB shmget")
    c.probe.ok("shmget 512K")
    _shm_held_is(s, c, 128, "one segment of 128 pages")
    c.probe.err("shmget 600K")  # 128 + 150 > 256
    c.probe.ok("shmget 512K")  # 256: the barrier exactly
    _shm_held_is(s, c, 256, "at the barrier")
    c.probe.err("shmget 1B")
    shm = s.ubcd.shm(c.id)
    check_eq(shm["failcnt"], 3, "shmpages failcnt")
    check_eq(shm["barrier"], 256, "shmpages barrier")
    check_eq(shm["limit"], 300, "shmpages limit")
    check(shm["maxheld"] >= 256, f"shmpages maxheld {shm['maxheld']}")
    pv = s.ubcd.privvm(c.id)
    check_eq(pv["failcnt"], 0, "privvmpages failcnt (shm is not privvmpages)")
    check_eq(c.probe.statm(), data, "statm data after the segments")
    lines = s.ubcd.refusal_lines(c.id)
    check(any("syscall=shmget" in ln and "resource=shmpages" in ln for ln in lines),
          f"no shmget refusal of shmpages logged: {lines}")
    events = get_json(s.ubcd, f"/v1/containers/{c.id}/events",
                      "rest-events.schema.json")["events"]
    check(any(e.get("resource") == "shmpages" and e.get("syscall") == "shmget"
              for e in events), f"no shmpages event: {events}")
    check(s.ubcd.alive(), "ubcd died")
    c.stop()


def a_destroyed_segment_leaves_shmpages(rt):
    """IPC_RMID of an unattached segment destroys it: held drops and the room is there
    for a new one."""
    s = Session(rt)
    c = _shm_container(s, "256:256")
    first = c.probe.ok("shmget 1M")[0]
    _shm_held_is(s, c, 256, "a 1 MiB segment")
    c.probe.err("shmget 4K")
    c.probe.ok(f"shmrm {first}")
    _shm_held_is(s, c, 0, "after IPC_RMID")
    c.probe.ok("shmget 1M")
    _shm_held_is(s, c, 256, "a new 1 MiB segment")
    check_eq(s.ubcd.shm(c.id)["failcnt"], 1, "shmpages failcnt")
    c.stop()


def opening_an_existing_segment_is_free(rt):
    """shmget of an existing key without IPC_CREAT creates nothing and is not charged,
    even at the barrier."""
    s = Session(rt)
    c = _shm_container(s, "256:256")
    created = c.probe.ok("shmget-key 4242 1M")[0]
    _shm_held_is(s, c, 256, "the keyed segment")
    check_eq(c.probe.ok("shm-open 4242")[0], created, "shmid of the opened segment")
    check_eq(s.ubcd.shm(c.id)["failcnt"], 0, "shmpages failcnt after opening")
    c.probe.ok(f"shmrm {created}")
    c.stop()


def openvz_holds_a_shared_anonymous_mapping_in_both_counters(rt):
    """Under openvz a writable MAP_SHARED|MAP_ANONYMOUS mapping stays charged while it is
    mapped, to privvmpages and to shmpages (bc2006 only checks it at mmap:
    memory_cases.shared_and_readonly_not_charged); past the shmpages barrier it is
    refused with ENOMEM and only shmpages' failcnt moves; munmap releases both."""
    s = Session(rt)
    c = _shm_container(s, "1024:1024", privvmpages="16384:16384", profile="openvz")
    data = c.probe.statm()
    c.probe.ok("mmap-shared-anon 2M")
    check_eq(c.probe.statm(), data, "statm data (shared pages are not in it)")
    _privvm_held_is(s, c, data + 512, "statm data + the shared object")
    _shm_held_is(s, c, 512, "the shared object")
    c.probe.err("mmap-shared-anon 3M")  # 512 + 768 > 1024
    check_eq(s.ubcd.shm(c.id)["failcnt"], 1, "shmpages failcnt")
    check_eq(s.ubcd.privvm(c.id)["failcnt"], 0, "privvmpages failcnt")
    c.probe.ok("munmap")
    _privvm_held_is(s, c, data, "after munmap")
    _shm_held_is(s, c, 0, "after munmap")
    c.probe.ok("mmap-shared-anon 4M")  # the barrier exactly
    check(s.ubcd.alive(), "ubcd died")
    c.stop()


def openvz_charges_a_segment_to_privvmpages_too(rt):
    """Under openvz a new SysV segment is charged to privvmpages as well as shmpages: one
    that fits shmpages but not the privvmpages barrier is refused with ENOMEM (privvmpages'
    failcnt, not shmpages'); one that fits is held in both until it is destroyed."""
    s = Session(rt)
    c = _shm_container(s, "65536:65536", privvmpages="8192:8192", profile="openvz")
    data = c.probe.statm()
    c.probe.err("shmget 32M")  # data + 8192 > 8192
    check_eq(s.ubcd.privvm(c.id)["failcnt"], 1, "privvmpages failcnt")
    check_eq(s.ubcd.shm(c.id)["failcnt"], 0, "shmpages failcnt")
    seg = c.probe.ok("shmget 4M")[0]
    _privvm_held_is(s, c, data + 1024, "statm data + the segment")
    _shm_held_is(s, c, 1024, "the segment")
    lines = s.ubcd.refusal_lines(c.id)
    check(any("syscall=shmget" in ln and "resource=privvmpages" in ln for ln in lines),
          f"no shmget refusal of privvmpages logged: {lines}")
    c.probe.ok(f"shmrm {seg}")
    _privvm_held_is(s, c, data, "after IPC_RMID")
    _shm_held_is(s, c, 0, "after IPC_RMID")
    check(s.ubcd.alive(), "ubcd died")
    c.stop()
