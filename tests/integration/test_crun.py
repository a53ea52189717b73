"""Memory accounting under ubcd with crun driven directly (`crun run --bundle`), the bundle
patched by `ubc-hook patch`. The cases live in memory_cases.py; each is one meson test
named crun_<case>. Cases that need crun's own setup are here."""

import os

import bound_cases
import bypass_cases
import memory_cases
import resource_cases
import locked_cases
import meminfo_cases
import shm_cases
from bundles import hook_patch, ubc_annotations, write_hook_settings
from cleanup import unique_id
from files import read_json, write_json
from memory_cases import _grow_to, _held_is, _processes_are
from outcome import check, check_eq
from probe import pages
from runtimes import Container, make_runtime
from session import Session

RUNTIME = "crun"


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


def test_cgroup2_membership_lists_afresh():
    """With a cgroup of its own in the cgroup2 hierarchy (crun's cgroupfs manager), ubcd
    keeps that cgroup's cgroup.procs open and reads it again from offset 0 at each listing:
    every fork's child must appear in the listing after it, and every exit leave it."""
    s = Session(RUNTIME)
    runtime = make_runtime(RUNTIME, s.workdir, cgroup_manager="cgroupfs")
    barrier, limit = 12288, 16384
    cid = unique_id()
    bundle = s.new_bundle(cid, annotations=ubc_annotations(f"{barrier}:{limit}"))
    config_path = os.path.join(bundle, "config.json")
    config = read_json(config_path)
    config["linux"].pop("resources", None)
    config["linux"]["cgroupsPath"] = "/" + cid
    write_json(config_path, config)
    # crun's cgroup2 here has no memory controller (it is bound to the host's v1
    # hierarchy): a memory limit would fail the container (docs/runtimes.md).
    settings = write_hook_settings(os.path.join(s.workdir, "hook-nomemcg.json"), s.ubcd,
                                   kernel_bounds={"memory_cgroup": False})
    hook_patch(s.hook_path, bundle, settings, cid)
    c = Container(runtime, bundle, cid, s.workdir).start()
    c.wait_ready()
    info = s.ubcd.wait_container(cid)
    check(info["membership"].startswith("cgroup ") and info["membership"].endswith("/" + cid),
          f"membership by the container's cgroup2 cgroup, got {info['membership']!r}")
    cgroup = info["membership"][len("cgroup "):]
    check(os.path.exists(os.path.join(cgroup, "cgroup.controllers")),
          f"{cgroup} is in a cgroup2 hierarchy")

    _grow_to(c, 3000)
    for round_ in range(3):
        c.probe.ok("fork-hold")
        _processes_are(s, c, 2, what=f"processes (round {round_})")
        _held_is(s, c, 6000)
        room = barrier - 6000
        c.probe.err(f"mmap {pages(room + 1)}")
        c.probe.ok("kill-children")
        _processes_are(s, c, 1, what=f"processes (round {round_})")
        _held_is(s, c, 3000)
    c.stop()


def test_numproc_without_a_pids_cgroup_is_counted_by_ubcd():
    """crun with cgroups disabled gives the container no pids cgroup, so ubc-hook traps
    every clone and vfork for ubc.numproc=8 and ubcd counts the tasks itself: with the
    probe one task, seven held children fork, the eighth fork fails with EAGAIN, and so
    do threads past the limit; the numproc row is enforced with failcnt from ubcd's own
    refusals, and a refusal event names numproc. The children are killed afterwards."""
    s = Session(RUNTIME)
    c = s.container(privvmpages="65536:65536", annotations={"ubc.numproc": "8"})
    info = s.ubcd.wait_container(c.id)
    check(not info["membership"].startswith("cgroup "),
          f"crun without cgroups: membership {info['membership']!r}")
    forked = 0
    for _ in range(20):
        reply = c.probe.cmd("fork-hold")
        if not reply.startswith("ok "):
            check_eq(reply, "err EAGAIN", "the fork past numproc")
            break
        forked += 1
    check_eq(forked, 7, "children forked under numproc 8 (the probe is the 8th task)")
    row = next(r for r in s.ubcd.require_container(c.id)["resources"]
               if r["resource"] == "numproc")
    check_eq((row["tracking"], row["limit"], row["failcnt"]), ("enforced", 8, 1),
             "numproc row after the refused fork")
    # Threads are tasks too: none can start at the limit.
    check_eq(c.probe.ok("threads-exit 2")[0], "0", "threads started past numproc")
    c.probe.ok("kill-children")
    c.probe.ok("fork-hold")  # room again
    c.probe.ok("kill-children")
    lines = s.ubcd.refusal_lines(c.id)
    check(any("resource=numproc" in ln for ln in lines), f"no numproc refusal logged: {lines}")
    check(s.ubcd.alive(), "ubcd died")
    c.stop()
