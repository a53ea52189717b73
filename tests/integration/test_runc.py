"""Memory accounting under ubcd with runc driven directly (`runc run --bundle`), the bundle
patched by `ubc-hook patch`. The cases live in memory_cases.py; each is one meson test
named runc_<case>. Cases that need the container's own cgroup are here."""

import json
import os

import bound_cases
import bypass_cases
import memory_cases
import resource_cases
import locked_cases
import meminfo_cases
import shm_cases
from cleanup import add_cleanup, unique_id
from memory_cases import _grow_to, _held_is, _processes_are
from outcome import check, check_eq, log, wait_until
from probe import pages
from procs import kill_pid
from session import Session

RUNTIME = "runc"


def _bind(name, cases=memory_cases):
    case = getattr(cases, name)

    def test():
        case(RUNTIME)

    test.__name__ = "test_" + name
    test.__doc__ = case.__doc__
    return test


for _name in memory_cases.CASES:
    globals()["test_" + _name] = _bind(_name)
for _name in bypass_cases.CASES:
    globals()["test_" + _name] = _bind(_name, bypass_cases)
for _name in bound_cases.CASES:
    globals()["test_" + _name] = _bind(_name, bound_cases)
for _name in shm_cases.CASES:
    globals()["test_" + _name] = _bind(_name, shm_cases)
for _name in locked_cases.CASES:
    globals()["test_" + _name] = _bind(_name, locked_cases)
for _name in meminfo_cases.CASES:
    globals()["test_" + _name] = _bind(_name, meminfo_cases)
for _name in resource_cases.CASES:
    globals()["test_" + _name] = _bind(_name, resource_cases)
for _name in bound_cases.RUNC_CASES:
    globals()["test_" + _name] = _bind(_name, bound_cases)


def test_nested_cgroup_member_counted():
    """A process the container moved into a cgroup below its own still counts: ubcd walks
    nested cgroups (it skips the walk only while the directory's link count says it has
    no subdirectory). runc only: crun runs here without a cgroup of the container's own."""
    s = Session(RUNTIME)
    barrier, limit = 12288, 16384
    c = s.supervised(f"{barrier}:{limit}")
    membership = s.ubcd.require_container(c.id)["membership"]
    check(membership.startswith("cgroup "), f"membership by cgroup, got {membership!r}")
    cgroup = membership[len("cgroup "):]
    _grow_to(c, 3000)
    c.probe.ok("fork-hold")
    _processes_are(s, c, 2)
    init = c.host_pid()
    with open(os.path.join(cgroup, "cgroup.procs")) as f:
        children = [int(p) for p in f.read().split() if int(p) != init]
    check_eq(len(children), 1, "children in the container's cgroup")
    child = children[0]

    nested = os.path.join(cgroup, unique_id("ubct-nested"))
    os.mkdir(nested)

    def remove_nested():
        kill_pid(child)  # the container's stop kills it too; this cleanup may run first
        try:
            os.rmdir(nested)
        except FileNotFoundError:
            pass
        except OSError as exc:
            log(f"could not remove {nested}: {exc}")

    add_cleanup(f"rmdir {nested}", remove_nested)
    with open(os.path.join(nested, "cgroup.procs"), "w") as f:
        f.write(str(child))
    with open(os.path.join(cgroup, "cgroup.procs")) as f:
        check(str(child) not in f.read().split(), "the child left the container's own cgroup")

    # A second child makes ubcd list the members again: both children and the init count.
    c.probe.ok("fork-hold")
    _processes_are(s, c, 3)
    _held_is(s, c, 9000)
    room = barrier - 9000
    c.probe.err(f"mmap {pages(room + 1)}")
    c.probe.ok(f"mmap {pages(room)}")
    c.probe.ok("kill-children")
    c.stop()


def test_numproc_limit_stops_a_fork_bomb_with_eagain():
    """ubc.numproc=8 under runc: the container's own pids cgroup gets pids.max 8 (from
    ubc-hook's linux.resources.pids.limit and from ubcd), so with the probe itself one
    task, seven held children fork and the eighth fork fails with EAGAIN; the numproc row
    is enforced, held 8, failcnt from pids.events. The children are killed afterwards."""
    s = Session(RUNTIME)
    c = s.container(privvmpages="65536:65536", annotations={"ubc.numproc": "8"})
    s.ubcd.wait_container(c.id)
    with open(os.path.join(c.bundle, "config.json")) as f:
        check_eq(json.load(f)["linux"]["resources"]["pids"]["limit"], 8,
                 "linux.resources.pids.limit written by ubc-hook")
    forked = 0
    for _ in range(20):
        reply = c.probe.cmd("fork-hold")
        if not reply.startswith("ok "):
            check_eq(reply, "err EAGAIN", "the fork past numproc")
            break
        forked += 1
    check_eq(forked, 7, "children forked under numproc 8 (the probe is the 8th task)")
    row = wait_until(
        lambda: next((r for r in s.ubcd.require_container(c.id)["resources"]
                      if r["resource"] == "numproc" and r["failcnt"] >= 1), None),
        timeout_s=5, what="numproc failcnt >= 1")
    check_eq((row["tracking"], row["held"], row["limit"]), ("enforced", 8, 8), "numproc row")
    c.probe.ok("kill-children")
    c.probe.ok("fork-hold")  # room again
    c.probe.ok("kill-children")
    c.stop()
