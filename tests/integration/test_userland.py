"""Programs nobody here wrote, at their barrier: stress-ng from a Debian 12 userland
(scripts/debian-rootfs.sh, cached outside the clone) under runc and crun.

The allocator stressors (malloc, bigheap, brk, mmap, mremap, vm, fork, stackmmap) run in
one container at a barrier far below what they try to take. What must hold: every stressor
handles ENOMEM (stress-ng completes; no stressor fails other than by reporting ENOMEM, and
a stressor that cannot start for lack of memory gives up cleanly), glibc never sees a
wrong break (no "break adjusted to free malloc space", "free(): invalid pointer",
"corrupted size vs. prev_size" or any other abort), nothing dies of a signal, ubcd refused
calls (failcnt > 0), and held, sampled while they run, never goes above the limit (fork is
checked against the limit under bc2006, everything else against the barrier:
docs/ubc-semantics.md §3).

stress-ng restarts a bigheap or brk worker that gets SIGSEGV and says so only in its
"SIGSEGV restarts" count, which is not checked: both do it without ubc too (bigheap, after
a failed realloc, writes from the end of the block it freed when malloc hands the same
address back; brk under a plain RLIMIT_DATA), so the count cannot tell ubc's errors apart.
"""

import json
import os
import re
import subprocess
import threading
import time

from bundles import hook_patch, make_bundle, ubc_annotations
from cleanup import add_cleanup, remove_cgroup_dirs, unique_id
from files import read_text
from outcome import check, check_eq, log
from procs import run
from session import Session

HERE = os.path.dirname(os.path.abspath(__file__))
ROOTFS_SCRIPT = os.path.join(HERE, "..", "..", "scripts", "debian-rootfs.sh")

RUN_S = 15

# What glibc and the kernel print when a heap was corrupted or a process was killed.
CRASH = re.compile(r"break adjusted|invalid pointer|corrupted|double free|malloc\(\)|"
                   r"Segmentation|core dumped|Aborted|killed by signal|terminated by signal")


def _debian_rootfs():
    res = run(["bash", ROOTFS_SCRIPT], timeout_s=900)
    path = res.stdout.strip().splitlines()[-1]
    check(os.path.isfile(os.path.join(path, "usr", "bin", "stress-ng")),
          f"no stress-ng in {path}")
    return path


def _run_to_exit(s, rootfs, args, annotations, timeout_s):
    """Runs one container with the Debian rootfs (read-only, a tmpfs /tmp) in the
    foreground until it exits; returns (exit code, stdout + stderr) and samples held."""
    cid = unique_id()
    bundle = os.path.join(s.workdir, "bundles", cid)
    cfg_path = make_bundle(bundle, rootfs, args, annotations=annotations,
                           spec_tool=s.runtime.spec_tool)
    with open(cfg_path, encoding="utf-8") as f:
        cfg = json.load(f)
    cfg["root"]["readonly"] = True
    cfg["mounts"].append({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
                          "options": ["nosuid", "nodev", "mode=1777", "size=64m"]})
    cfg["process"]["cwd"] = "/tmp"
    cfg["process"]["env"] = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/tmp"]
    with open(cfg_path, "w", encoding="utf-8") as f:
        json.dump(cfg, f)
    hook_patch(s.hook_path, bundle, s.settings_path, cid)
    out_path = os.path.join(s.workdir, f"{cid}.out")

    def cleanup():
        s.runtime.delete(cid)
        remove_cgroup_dirs(cid)
    add_cleanup(f"container {cid}", cleanup)

    samples = []  # held, every 0.2 s
    last = {}  # the last privvmpages seen (ubcd forgets the container when it exits)
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            st = s.ubcd.container(cid)
            if st is not None:
                samples.append(st["privvmpages"]["held"])
                last.update(st["privvmpages"])
            time.sleep(0.2)

    with open(out_path, "wb") as out:
        proc = subprocess.Popen(s.runtime.cmd("run", "--bundle", bundle, cid),
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            rc = proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
            raise AssertionError(f"{cid} did not exit within {timeout_s} s:\n"
                                 f"{read_text(out_path)[-4000:]}") from None
        finally:
            stop.set()
            sampler.join(timeout=5)
    # All of it: the checks below look for lines anywhere in it, and --verbose makes
    # bigheap print a line per refused realloc (hundreds of KB in a run).
    return cid, rc, read_text(out_path, limit_bytes=64 << 20), samples, last


def _stress_ng_at_the_barrier(runtime, stressors, barrier_pages, limit_pages, extra=(),
                              exit_codes=(0,), must_run=()):
    rootfs = _debian_rootfs()
    s = Session(runtime)
    # --cache-level 2: stress-ng maps a shared buffer the size of the chosen CPU cache at
    # start, and some VMs report an L3 of hundreds of MiB (480 MiB here), past the barrier.
    args = ["stress-ng", "--timeout", f"{RUN_S}s", "--metrics-brief", "--verbose",
            "--temp-path", "/tmp", "--cache-level", "2", *extra]
    for name, instances in stressors:
        args += [f"--{name}", str(instances)]
    ann = ubc_annotations(f"{barrier_pages}:{limit_pages}")
    cid, rc, out, samples, final = _run_to_exit(s, rootfs, args, ann, RUN_S + 60)
    log(f"stress-ng exit {rc}; {len(samples)} held samples, max "
        f"{max(samples) if samples else None}; last {final}")
    crashes = [ln for ln in out.splitlines() if CRASH.search(ln)]
    check_eq(crashes, [], f"heap corruption or signals in stress-ng's output:\n{out[-4000:]}")
    check(rc >= 0, f"stress-ng died of signal {-rc}")
    fails = [ln for ln in out.splitlines() if re.search(r"stress-ng: fail:", ln)]
    not_enomem = [ln for ln in fails if "errno=12 (Cannot allocate memory)" not in ln]
    check_eq(not_enomem, [], "stressor failures other than ENOMEM")
    if fails:
        # stress-ng's mremap stressor retries an ENOMEM mremap 100 times, then calls the
        # run failed (exit 2): ENOMEM is what the barrier gives, so that is allowed.
        exit_codes = (*exit_codes, 2)
    check(rc in exit_codes, f"stress-ng exit status {rc} (output:\n{out[-4000:]})")
    check("successful run completed" in out, f"stress-ng did not complete:\n{out[-4000:]}")
    worked = []
    for name in must_run:
        m = re.search(rf"metrc: \[\d+\] {name}\s+(\d+)", out)
        if m is not None and int(m.group(1)) > 0:
            worked.append(name)
            continue
        # stress-ng's own clean give-up: the stressor's start-up allocation met ENOMEM
        # while the others held the barrier (seen once in CI for malloc). Not a crash.
        gave_up = re.search(rf"\({name}\) aborted early, out of system resources", out)
        check(gave_up is not None,
              f"stressor {name} did no work and did not give up cleanly:\n{out[-3000:]}")
        log(f"stressor {name} gave up at start for lack of memory (the barrier was held)")
    check(worked, f"none of {must_run} did work:\n{out[-3000:]}")
    check(len(samples) >= RUN_S, f"only {len(samples)} held samples")
    check(max(samples) <= limit_pages, f"held reached {max(samples)} > limit {limit_pages}")
    check(bool(final), "ubcd never listed the container")
    check(final["failcnt"] > 0, f"no refusal at the barrier: {final}")
    check(final["maxheld"] <= limit_pages, f"maxheld {final['maxheld']} > limit {limit_pages}")


# The report's case: four malloc workers at 128 MiB:160 MiB aborted in every run with a
# wrong break ("break adjusted to free malloc space", "corrupted size vs. prev_size").
MALLOC = [("malloc", 4)]
# Every allocator stressor at once; each is one worker, and sizes are bounded so that
# they all start and meet the barrier while they run.
ALLOCATORS = [("malloc", 1), ("bigheap", 1), ("brk", 1), ("mmap", 1), ("mremap", 1),
              ("vm", 1), ("fork", 1), ("stackmmap", 1)]
ALLOCATOR_SIZES = ("--vm-bytes", "48M", "--mmap-bytes", "48M", "--mremap-bytes", "48M",
                   "--malloc-bytes", "48M")
# Exit 3 is stress-ng's "a stressor could not start for lack of resources": a stressor
# whose first allocation met ENOMEM (mmap, vm, stackmmap when the others hold the
# barrier) gives up cleanly, and mremap counts a bogo op only for a whole grow-and-shrink
# cycle, which it seldom finishes at the barrier. These must do work there all the same:
ALLOCATORS_MUST_RUN = ("malloc", "bigheap", "brk", "fork")


# With sysinfo showing the barrier (128 MiB), a worker that starts while the others hold
# the barrier may find no room for its shared counter lock and skip cleanly (exit 3);
# the malloc workers must still have done work.
def test_stress_ng_malloc_at_the_barrier_runc():
    _stress_ng_at_the_barrier("runc", MALLOC, 32768, 40960, exit_codes=(0, 3),
                              must_run=("malloc",))


def test_stress_ng_malloc_at_the_barrier_crun():
    _stress_ng_at_the_barrier("crun", MALLOC, 32768, 40960, exit_codes=(0, 3),
                              must_run=("malloc",))


def test_stress_ng_allocators_at_the_barrier_runc():
    _stress_ng_at_the_barrier("runc", ALLOCATORS, 65536, 81920, ALLOCATOR_SIZES, (0, 3),
                              ALLOCATORS_MUST_RUN)


def test_stress_ng_allocators_at_the_barrier_crun():
    _stress_ng_at_the_barrier("crun", ALLOCATORS, 65536, 81920, ALLOCATOR_SIZES, (0, 3),
                              ALLOCATORS_MUST_RUN)


# A program that sizes itself from the machine's memory, as JVM ergonomics, caches and
# build tools do: half of what sysconf says, allocated and touched.
SIZE_FROM_SYSCONF = (
    "import os\n"
    "phys = os.sysconf('SC_PHYS_PAGES')\n"
    "avphys = os.sysconf('SC_AVPHYS_PAGES')\n"
    "print('phys', phys, 'avphys', avphys, flush=True)\n"
    "b = bytearray(phys * os.sysconf('SC_PAGE_SIZE') // 2)\n"
    "b[::4096] = b'x' * len(b[::4096])\n"
    "print('allocated', len(b), flush=True)\n")


def _python_sizes_itself(runtime):
    """Debian's python3 in a container with barrier 256 MiB reads os.sysconf: PHYS_PAGES
    is the barrier (65536 pages), AVPHYS_PAGES what is left below it, and half of it
    allocates and touches without MemoryError (with the host's 24 GiB it would ask for
    12 GiB and fail at the barrier)."""
    rootfs = _debian_rootfs()
    s = Session(runtime)
    ann = ubc_annotations("65536:69632")
    _, rc, out, _, _ = _run_to_exit(s, rootfs, ["python3", "-c", SIZE_FROM_SYSCONF], ann, 60)
    check_eq(rc, 0, f"python3 exit status (output:\n{out[-2000:]})")
    m = re.search(r"phys (\d+) avphys (\d+)", out)
    check(m is not None, f"no sysconf line in:\n{out}")
    phys, avphys = int(m.group(1)), int(m.group(2))
    check_eq(phys, 65536, "os.sysconf('SC_PHYS_PAGES') in the container")
    check(0 < avphys < 65536, f"os.sysconf('SC_AVPHYS_PAGES') {avphys}")
    check(f"allocated {65536 * 4096 // 2}" in out, f"half of PHYS_PAGES allocated:\n{out}")
    # The same program shown the host (ubc.meminfo=none) asks for half the machine.
    ann["ubc.meminfo"] = "none"
    _, rc, out, _, _ = _run_to_exit(s, rootfs, ["python3", "-c", SIZE_FROM_SYSCONF], ann, 60)
    check(rc != 0 and "MemoryError" in out,
          f"with the host's figures python3 should fail (exit {rc}):\n{out[-2000:]}")


def test_python_sizes_itself_from_sysconf_runc():
    _python_sizes_itself("runc")


def test_python_sizes_itself_from_sysconf_crun():
    _python_sizes_itself("crun")


# procps' free and vmstat, and a psutil-style parser of /proc/meminfo, in a Debian
# userland: what an operator's shell and monitoring read.
MEMINFO_READERS = (
    "free -k; vmstat -s | grep 'total memory'; "
    "python3 -c \"\n"
    "def mi():\n"
    "    return {l.split(':')[0]: int(l.split()[1]) for l in open('/proc/meminfo')}\n"
    "d = mi()\n"
    "print('py', d['MemTotal'], d['MemFree'], d['MemAvailable'], d['SwapTotal'], flush=True)\n"
    "b = bytearray(64 << 20)\n"
    "b[::4096] = b'x' * len(b[::4096])\n"
    "print('py-after', mi()['MemFree'], flush=True)\n"
    "\"")


def _procps_reads_the_view(runtime):
    """With barrier 256 MiB, procps `free` and `vmstat -s` in a Debian container show a
    262144 kB total and a used figure that is neither negative nor the host's; Python
    parsing /proc/meminfo sees the same total, no swap, and 64 MiB it allocates come off
    MemFree. With ubc.meminfo=none they all show the host."""
    rootfs = _debian_rootfs()
    s = Session(runtime)
    ann = ubc_annotations("65536:69632")
    _, rc, out, _, _ = _run_to_exit(s, rootfs, ["sh", "-c", MEMINFO_READERS], ann, 60)
    check_eq(rc, 0, f"exit status (output:\n{out[-2000:]})")
    mem = re.search(r"^Mem:\s+(\d+)\s+(\d+)\s+(\d+)", out, re.M)
    check(mem is not None, f"no Mem: line from free:\n{out}")
    total, used, free = (int(x) for x in mem.groups())
    check_eq(total, 262144, "free's total (kB)")
    check(0 <= used < total and 0 < free <= total and used + free <= total,
          f"free's used {used} and free {free} of {total}")
    check(re.search(r"^\s*262144 K total memory", out, re.M) is not None,
          f"vmstat -s total memory:\n{out}")
    py = re.search(r"^py (\d+) (\d+) (\d+) (\d+)", out, re.M)
    check(py is not None, f"no py line:\n{out}")
    check_eq(int(py.group(1)), 262144, "MemTotal parsed by Python")
    check_eq(int(py.group(4)), 0, "SwapTotal parsed by Python")
    after = re.search(r"^py-after (\d+)", out, re.M)
    check(after is not None, f"no py-after line:\n{out}")
    check(int(py.group(2)) - int(after.group(1)) >= 65536 - 2048,
          f"MemFree {py.group(2)} -> {after.group(1)} kB after 64 MiB")
    ann["ubc.meminfo"] = "none"
    _, rc, out, _, _ = _run_to_exit(s, rootfs, ["sh", "-c", "free -k"], ann, 60)
    mem = re.search(r"^Mem:\s+(\d+)", out, re.M)
    with open("/proc/meminfo", encoding="ascii") as f:
        host_total = int(f.readline().split()[1])
    check(mem is not None and int(mem.group(1)) == host_total,
          f"free under meminfo none shows the host's {host_total} kB:\n{out}")


def test_procps_reads_the_view_runc():
    _procps_reads_the_view("runc")


def test_procps_reads_the_view_crun():
    _procps_reads_the_view("crun")
