"""Growth the kernel does without a trapped call, bounded by the kernel's own limits that
ubc-hook writes into the config (core/kernel_bounds.h, docs/accounting.md "Growth the
kernel does without a syscall"), each tried in a real container against a real ubcd.

A stack grows on a page fault and exec maps the new image's bss: ubcd never sees either.
Before the bounds, a container could raise RLIMIT_STACK to unlimited and grow its stack (or
a MAP_GROWSDOWN mapping) by 256 MiB, exec a 1 GiB .bss, and fill a tmpfs or a memfd without
limit. Each case asserts what holds now.

test_runc.py and test_crun.py bind these cases to a runtime; the memory cgroup cases are
runc's only (crun runs here without a cgroup of the container's own: docs/runtimes.md).
"""

import json
import os
import subprocess

from bundles import hook_patch, ubc_annotations
from cleanup import add_cleanup, remove_cgroup_dirs, unique_id
from outcome import check, check_eq, log
from session import Session

CASES = [
    "stack_growth_is_bounded_by_the_hard_rlimit",
    "exec_of_an_image_beyond_the_limit_is_killed",
    "tmpfs_is_bounded",
]
RUNC_CASES = [
    "memory_cgroup_is_the_backstop_for_shared_memory",
    "a_shmpages_limit_is_the_shared_part_of_the_memory_cgroup",
    "shared_anonymous_pages_end_in_the_memory_cgroup",
]

STACK_BOUND_PAGES = 2048  # the hook's default stack_bytes, 8 MiB
SIGSEGV = 11
SIGKILL = 9


def stack_growth_is_bounded_by_the_hard_rlimit(rt):
    """RLIMIT_STACK and RLIMIT_DATA are hard-limited: a container process cannot raise
    them (no CAP_SYS_RESOURCE); with its soft RLIMIT_STACK raised as far as it may go, its
    main stack and a MAP_GROWSDOWN mapping each grow to the 8 MiB bound and no further (the
    kernel sends SIGSEGV), however far the program touches."""
    s = Session(rt)
    barrier, limit = 16384, 20480
    c = s.supervised(f"{barrier}:{limit}")
    c.probe.err("rlimit-raise stack", expected="EPERM")
    c.probe.err("rlimit-raise data", expected="EPERM")
    c.probe.ok("rlimit-stack inf")
    data = c.probe.statm()
    for command in ("stack-grow 256M", "growsdown-grow 256M"):
        reply = c.probe.ok(command, timeout_s=60)
        check_eq(reply[:2], ["signal", str(SIGSEGV)], f"{command}: the growth must stop")
        max_data = int(reply[2])
        # The child starts with the probe's pages, grows by at most the bound (plus the
        # frame or page that faulted).
        check(max_data <= data + STACK_BOUND_PAGES + 32,
              f"{command}: data reached {max_data}, start {data} + bound {STACK_BOUND_PAGES}")
        check(max_data >= data + STACK_BOUND_PAGES // 2,
              f"{command}: grew only to {max_data} from {data}: not the bound that stopped it")
    pv = s.ubcd.privvm(c.id)
    check(pv["maxheld"] <= limit, f"maxheld {pv['maxheld']} above the limit {limit}")
    c.stop()


def _run_to_exit(s, args, privvmpages, mounts=(), timeout_s=60):
    """Runs one container in the foreground until it exits: (exit code, output)."""
    cid = unique_id()
    bundle = s.new_bundle(cid, args=args, annotations=ubc_annotations(privvmpages))
    if mounts:
        path = os.path.join(bundle, "config.json")
        with open(path, encoding="utf-8") as f:
            cfg = json.load(f)
        cfg["mounts"].extend(mounts)
        with open(path, "w", encoding="utf-8") as f:
            json.dump(cfg, f)
    hook_patch(s.hook_path, bundle, s.settings_path, cid)

    def cleanup():
        s.runtime.delete(cid)
        remove_cgroup_dirs(cid)
    add_cleanup(f"container {cid}", cleanup)
    res = subprocess.run(s.runtime.cmd("run", "--bundle", bundle, cid), stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout_s,
                         check=False)
    out = res.stdout.decode("utf-8", "replace")
    log(f"{cid}: exit {res.returncode}: {out[-2000:]}")
    return res.returncode, out


def exec_of_an_image_beyond_the_limit_is_killed(rt):
    """A static program with a 1 GiB .bss makes no trapped call after its exec: the
    kernel maps its bss unasked. RLIMIT_DATA (the privvmpages limit) makes the kernel
    refuse the image at exec, after the point of no return: the process is killed before
    main() and never holds the 1 GiB. One that fits runs."""
    s = Session(rt)
    rc, out = _run_to_exit(s, ["/bin/ubc-bss-1024m"], "16384:20480")
    check("bss 1024 MiB" not in out, f"the 1 GiB image ran:\n{out}")
    # runc and crun report a signal death as 128 + the signal, or the signal itself.
    check(rc in (128 + SIGSEGV, 128 + SIGKILL, -SIGSEGV, -SIGKILL),
          f"exit status {rc}: the image was not killed at exec:\n{out}")
    rc, out = _run_to_exit(s, ["/bin/ubc-bss-24m"], "16384:20480")
    check_eq(rc, 0, f"the 24 MiB image (within the limit) failed:\n{out}")
    check("bss 24 MiB" in out, f"the 24 MiB image did not run:\n{out}")
    check(s.ubcd.alive(), "ubcd died")


def tmpfs_is_bounded(rt):
    """A tmpfs mount without size= could hold half the host's RAM in shared pages no
    trapped call charges: the hook gives it size= the privvmpages limit, and a writer
    gets ENOSPC there."""
    s = Session(rt)
    limit = 10240  # 40 MiB
    mount = {"destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "nodev", "mode=1777"]}
    script = ("dd if=/dev/zero of=/scratch/fill bs=1048576 count=256 2>&1; "
              "echo size=$(wc -c < /scratch/fill)")
    rc, out = _run_to_exit(s, ["/bin/sh", "-c", script], f"8192:{limit}", mounts=[mount])
    check("No space left on device" in out, f"the tmpfs took 256 MiB:\n{out}")
    sizes = [ln for ln in out.splitlines() if ln.startswith("size=")]
    check(len(sizes) == 1, f"no size line:\n{out}")
    size_bytes = int(sizes[0][len("size="):])
    check(size_bytes <= limit * 4096, f"the tmpfs holds {size_bytes} bytes > the limit")
    check(size_bytes >= limit * 4096 // 2, f"the tmpfs holds only {size_bytes} bytes")
    log(f"rc {rc}")


def _memory_cgroup_limit_bytes(pid):
    """memory.limit_in_bytes (cgroup v1) or memory.max (v2) of `pid`'s memory cgroup."""
    with open(f"/proc/{pid}/cgroup", encoding="utf-8") as f:
        lines = f.read().splitlines()
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            with open(f"/sys/fs/cgroup/memory{path}/memory.limit_in_bytes",
                      encoding="utf-8") as f:
                return int(f.read())
    for line in lines:
        if line.startswith("0::"):
            with open(f"/sys/fs/cgroup{line[3:]}/memory.max", encoding="utf-8") as f:
                text = f.read().strip()
            return None if text == "max" else int(text)
    return None


def _probe_gone_after(c, line):
    """Sends `line` to the probe; True when the probe was gone before it answered (the
    memory cgroup's kill), False when it answered."""
    try:
        reply = c.probe.cmd(line, timeout_s=60)
        log(f"{line} -> {reply}")
        return False
    except AssertionError as exc:
        log(f"the probe is gone: {exc}")
        return True


def memory_cgroup_is_the_backstop_for_shared_memory(rt):
    """Pages written into a memfd are shared: no trapped call charges them (shmpages counts
    SysV segments only). With shmpages unlimited, the container's memory cgroup is capped at
    twice the privvmpages limit + 64 MiB: 1 GiB written into a memfd ends with the writer killed by the kernel
    (the backstop is the OOM killer, not ENOMEM), ubcd alive."""
    s = Session(rt)
    limit = 10240  # 40 MiB -> a 144 MiB memory cgroup
    c = s.supervised(f"8192:{limit}")
    pid = c.probe.pid()
    bound = 2 * limit * 4096 + (64 << 20)
    cg_limit = _memory_cgroup_limit_bytes(c.host_pid())
    check_eq(cg_limit, bound, "the container's memory cgroup limit")
    log(f"probe pid {pid} in the container")
    check(_probe_gone_after(c, "memfd 1G"), "1 GiB of memfd pages fitted in the container")
    check(s.ubcd.alive(), "ubcd died")


def a_shmpages_limit_is_the_shared_part_of_the_memory_cgroup(rt):
    """With a finite shmpages limit the memory cgroup allows the privvmpages limit, the
    shmpages limit and the margin (not twice the privvmpages limit): 160 MiB of memfd pages,
    which would fit the 192 MiB an unlimited shmpages gives, end in the kernel's kill."""
    s = Session(rt)
    limit, shm_limit = 16384, 2048  # 64 MiB + 8 MiB + 64 MiB -> a 136 MiB memory cgroup
    c = s.container(privvmpages=f"12288:{limit}", annotations={"ubc.shmpages": f"{shm_limit}"})
    s.ubcd.wait_container(c.id)
    bound = (limit + shm_limit) * 4096 + (64 << 20)
    check_eq(_memory_cgroup_limit_bytes(c.host_pid()), bound,
             "the container's memory cgroup limit")
    check_eq(s.ubcd.shm(c.id)["limit"], shm_limit, "the shmpages limit ubcd resolved")
    check(_probe_gone_after(c, "memfd 160M"),
          "160 MiB of memfd pages fitted in a 136 MiB memory cgroup")
    check(s.ubcd.alive(), "ubcd died")


def shared_anonymous_pages_end_in_the_memory_cgroup(rt):
    """Under bc2006 a shared anonymous mapping is checked against the barrier only for the
    moment of its mmap (docs/ubc-semantics.md §3): many of them, each within the barrier and
    touched, once held 816 MiB in a container limited to 80 MiB. They are shared pages of
    the memory cgroup, whose ceiling (here 144 MiB) ends them in the kernel's kill."""
    s = Session(rt)
    limit = 10240  # 40 MiB -> a 144 MiB memory cgroup
    c = s.supervised(f"8192:{limit}")
    killed = False
    mapped = 0
    try:
        for _ in range(32):  # 32 x 16 MiB = 512 MiB
            c.probe.ok("mmap-shared-anon 16M")
            mapped += 16
    except AssertionError as exc:
        # A refusal ("err ENOMEM") is not the kill this case is about.
        killed = "exited" in str(exc)
        log(f"after {mapped} MiB: {exc}")
    check(killed, f"{mapped} MiB of shared anonymous pages fitted in a 144 MiB memory cgroup")
    check(mapped <= 144, f"{mapped} MiB mapped and touched before the kill")
    check(s.ubcd.alive(), "ubcd died")
