#!/usr/bin/env python3
"""ubc benchmark suite: ratios against baselines measured in the same invocation.

Run it through `bash bench/run.sh [--quick] [--out FILE]` (root, runc, a built ubcd and
ubc-hook). What it measures and why is in docs/performance.md.

Every figure is a ratio subject/baseline, both measured in this run, interleaved (rounds
rotate the order of the containers) and reduced to medians over rounds. Results are printed
as a table and written as JSON (default bench/results/<UTC timestamp>.json).

Cleanup: everything (temp dir, ubcd and responder processes, containers, cgroups) is
registered in tests/integration/cleanup.py's cleanup stack the moment it exists and undone
at exit or on SIGINT/SIGTERM/SIGHUP; nothing is killed or deleted by name, only by the
ids and pids created here.
"""

import argparse
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))

from bundles import build_rootfs, hook_patch, make_bundle, write_hook_settings  # noqa: E402
from cleanup import (Interrupted, add_cleanup, install_handlers, make_temp_dir,  # noqa: E402
                     remove_cgroup_dirs, remove_cleanup, run_cleanups, unique_id)
from files import read_json, read_text, tail, write_json  # noqa: E402
from outcome import log, wait_until, which  # noqa: E402
from procs import kill_pid, run, stop_process, unix_socket_exists  # noqa: E402
from runtimes import Container, make_runtime  # noqa: E402

PROGRAMS = os.path.join(REPO, "bench", "programs")
MIB = 1 << 20
PAGE = 4096
CLK_TCK = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------------
# Build


def compile_programs(outdir):
    """Compiles the bench programs with the system compiler (the same sources and flags
    bench/meson.build uses), so the suite does not depend on the state of the shared build
    dir's bench targets."""
    os.makedirs(outdir, exist_ok=True)
    cc = os.environ.get("CC", "cc")
    cxx = os.environ.get("CXX", "c++")
    jobs = [
        [cc, "-O2", "-Wall", "-Wextra", "-Werror", "-static", "-pthread", "-o",
         f"{outdir}/ubc-bench-work", f"{PROGRAMS}/ubc_bench_work.c"],
        [cc, "-O2", "-Wall", "-Wextra", "-Werror", "-pthread", "-o",
         f"{outdir}/ubc-bench-responder", f"{PROGRAMS}/ubc_bench_responder.c"],
        [cc, "-O2", "-Wall", "-Wextra", "-Werror", "-o", f"{outdir}/ubc-bench-filter",
         f"{PROGRAMS}/ubc_bench_filter.c", "-lseccomp"],
        [cc, "-O2", "-Wall", "-Wextra", "-Werror", "-o", f"{outdir}/ubc-bench-procread",
         f"{PROGRAMS}/ubc_bench_procread.c"],
        [cxx, "-O2", "-Wall", "-Werror", "-o", f"{outdir}/ubc-bench-hello",
         f"{PROGRAMS}/ubc_bench_hello.cc"],
    ]
    for argv in jobs:
        run(argv, timeout_s=120)
    return {name: os.path.join(outdir, name) for name in
            ("ubc-bench-work", "ubc-bench-responder", "ubc-bench-filter", "ubc-bench-hello",
             "ubc-bench-procread")}


def sha256_file(path):
    import hashlib
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def snapshot_binary(path, outdir, tries=30):
    """Copies a built binary (retrying while a concurrent build rewrites it)."""
    dest = os.path.join(outdir, os.path.basename(path))
    for _ in range(tries):
        if os.access(path, os.X_OK):
            try:
                shutil.copy2(path, dest)
                if run([dest, "--help"], check_rc=False, timeout_s=10).returncode in (0, 1, 2):
                    return dest
            except (OSError, subprocess.SubprocessError):
                pass
        time.sleep(1)
    raise SystemExit(f"not built or not runnable: {path} (run ninja -C build)")


def add_dynamic_program(rootfs, binary, dest_rel):
    """Copies a dynamic binary into the rootfs with its loader and every library ldd lists,
    at the same paths."""
    dest = os.path.join(rootfs, dest_rel.lstrip("/"))
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    shutil.copy2(binary, dest)
    out = run(["ldd", binary]).stdout
    libs = []
    for line in out.splitlines():
        parts = line.split()
        if "=>" in parts:
            p = parts[parts.index("=>") + 1]
            if p.startswith("/"):
                libs.append(p)
        elif parts and parts[0].startswith("/"):
            libs.append(parts[0])
    for lib in libs:
        target = os.path.join(rootfs, lib.lstrip("/"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(os.path.realpath(lib), target)
    return libs


# ---------------------------------------------------------------------------
# Helpers


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def percentile(sorted_xs, q):
    if not sorted_xs:
        return None
    i = int(round(q * (len(sorted_xs) - 1)))
    return sorted_xs[i]


def proc_status_kib(pid, key):
    with open(f"/proc/{pid}/status", encoding="utf-8") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return None


def proc_cpu_s(pid):
    """utime + stime of a process (all its threads), seconds."""
    with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_sched_ns(pid):
    """On-CPU time of every live thread of a process, ns (schedstat: exact, not ticks)."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat", encoding="utf-8") as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total


def count_fds(pid):
    """Open fds of a process by kind: notify, socket, proc, other."""
    kinds = {"total": 0, "notify": 0, "socket": 0, "proc": 0, "other": 0}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        kinds["total"] += 1
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link == "anon_inode:seccomp notify":
            kinds["notify"] += 1
        elif link.startswith("socket:"):
            kinds["socket"] += 1
        elif link.startswith("/proc/"):
            kinds["proc"] += 1
        else:
            kinds["other"] += 1
    return kinds


class BenchUbcd:
    """ubcd in the foreground with a temp config (listener, status, state and containers.d
    in workdir). Kept here rather than using the tests' ubcd.Ubcd so that the suite only relies on
    the config keys every ubcd knows."""

    def __init__(self, binary, workdir, env=None):
        self.binary = binary
        self.workdir = workdir
        self.listener_path = os.path.join(workdir, "ubcd.sock")
        self.status_path = os.path.join(workdir, "status.sock")
        self.state_dir = os.path.join(workdir, "state")
        self.containers_dir = os.path.join(workdir, "containers")
        self.config_path = os.path.join(workdir, "ubcd.json")
        self.log_path = os.path.join(workdir, "ubcd.log")
        self.env = env
        os.makedirs(self.state_dir, exist_ok=True)
        os.makedirs(self.containers_dir, exist_ok=True)
        write_json(self.config_path, {
            "listener_path": self.listener_path, "status_path": self.status_path,
            "state_dir": self.state_dir, "containers_dir": self.containers_dir,
            "defaults": {"privvmpages": "65536:69632", "profile": "bc2006"},
            "retire_after_seconds": 300, "log_level": "warning"})
        self.proc = None

    def start(self):
        env = dict(os.environ)
        env.update(self.env or {})
        with open(self.log_path, "ab") as logf:
            self.proc = subprocess.Popen([self.binary, "--config", self.config_path],
                                         stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                                         env=env)
        proc = self.proc
        self._token = add_cleanup(f"stop ubcd {proc.pid}", lambda: stop_process(proc))
        wait_until(lambda: proc.poll() is not None or unix_socket_exists(self.listener_path),
                     15, 0.02, "ubcd listener socket")
        if proc.poll() is not None:
            raise AssertionError(f"ubcd exited: {tail(read_text(self.log_path))}")
        return self

    def stop(self):
        stop_process(self.proc)
        remove_cleanup(self._token)

    def status_json(self):
        res = run([self.binary, "--status", "--json", "--config", self.config_path],
                    timeout_s=30)
        return json.loads(res.stdout)

    def require_container(self, cid):
        for c in self.status_json().get("containers", []):
            if c.get("id") == cid:
                return c
        raise AssertionError(f"{cid} not in ubcd status")

    def privvm(self, cid):
        return self.require_container(cid)["privvmpages"]

    def wait_container(self, cid):
        wait_until(lambda: any(c.get("id") == cid for c in
                                 self.status_json().get("containers", [])),
                     15, 0.1, f"{cid} in ubcd status")


class Listener:
    """What write_hook_settings needs of a supervisor."""

    def __init__(self, listener_path, containers_dir):
        self.listener_path = listener_path
        self.containers_dir = containers_dir


def start_responder(binary, workdir, read_statm=False):
    """The CONTINUE responder; with read_statm the floor of an exact decision (one pread of
    the caller's kept statm fd before each answer)."""
    name = "responder-statm" if read_statm else "responder"
    sock = os.path.join(workdir, name + ".sock")
    logf = open(os.path.join(workdir, name + ".log"), "ab")  # noqa: SIM115
    try:
        proc = subprocess.Popen([binary] + (["--read-statm"] if read_statm else []) + [sock],
                                stdin=subprocess.DEVNULL, stdout=logf, stderr=logf)
    finally:
        logf.close()
    add_cleanup(f"stop responder {proc.pid}", lambda: stop_process(proc))
    wait_until(lambda: unix_socket_exists(sock), 10, what="responder socket")
    return proc, sock


class Row:
    def __init__(self, group, name, subject, baseline, unit, target=None, note=""):
        self.group = group
        self.name = name
        self.subject = subject
        self.baseline = baseline
        self.unit = unit
        self.target = target
        self.note = note
        self.ratio = (subject / baseline) if (subject is not None and baseline) else None
        self.ratio_spread = None

    def verdict(self):
        if self.target is None:
            return "-"
        if self.ratio is None:
            return "n/a"
        return "PASS" if self.ratio <= self.target else "FAIL"

    def as_dict(self):
        return {"group": self.group, "name": self.name, "subject": self.subject,
                "baseline": self.baseline, "unit": self.unit, "ratio": self.ratio,
                "target": self.target, "verdict": self.verdict(), "note": self.note,
                "ratio_min_max_over_rounds": self.ratio_spread}


def fmt(v):
    if v is None:
        return "n/a"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:.2f}"


def print_table(rows, extras):
    print()
    print(f"{'benchmark':<62} {'subject':>12} {'baseline':>12} {'unit':<5} "
          f"{'ratio':>7} {'rounds min-max':>14} {'target':>7} verdict")
    print("-" * 135)
    group = None
    for r in rows:
        if r.group != group:
            group = r.group
            print(f"[{group}]")
        tgt = f"<={r.target:g}" if r.target is not None else ""
        ratio = f"{r.ratio:.3f}" if r.ratio is not None else "n/a"
        spread = f"{r.ratio_spread[0]:.2f}-{r.ratio_spread[1]:.2f}" if r.ratio_spread else ""
        print(f"  {r.name:<60} {fmt(r.subject):>12} {fmt(r.baseline):>12} {r.unit:<5} "
              f"{ratio:>7} {spread:>14} {tgt:>7} {r.verdict()}")
    for title, lines in extras:
        print()
        print(f"[{title}]")
        for line in lines:
            print("  " + line)
    print()


# ---------------------------------------------------------------------------
# The suite


class Suite:
    def __init__(self, args):
        self.args = args
        self.quick = args.quick
        self.reps = args.reps or (5 if self.quick else 9)
        self.n_mmap = args.n or (1000 if self.quick else 3000)
        self.rows = []
        self.extras = []
        self.raw = {}
        self.workdir = make_temp_dir("ubcb")
        self.bins = compile_programs(os.path.join(self.workdir, "bin"))
        # Snapshots of ubcd and ubc-hook: the build dir may be rebuilt while the suite runs.
        self.ubcd_bin = snapshot_binary(os.path.abspath(args.ubcd),
                                        os.path.join(self.workdir, "bin"))
        self.hook_bin = snapshot_binary(os.path.abspath(args.hook),
                                        os.path.join(self.workdir, "bin"))
        self.runtime = make_runtime("runc", self.workdir)
        self.rootfs = build_rootfs(os.path.join(self.workdir, "rootfs"),
                                     self.bins["ubc-bench-work"])
        shutil.copy2(self.bins["ubc-bench-work"], os.path.join(self.rootfs, "bin/ubc-bench-work"))
        self.hello_libs = add_dynamic_program(self.rootfs, self.bins["ubc-bench-hello"],
                                              "/bin/ubc-bench-hello")
        self.barrier_pages = 256 * MIB // PAGE
        self.privvm = "256M:288M"

    # -- containers ----------------------------------------------------------

    def bundle(self, cid, args, settings, annotations=None):
        bdir = os.path.join(self.workdir, "bundles", cid)
        ann = {"ubc.privvmpages": self.privvm}
        if annotations:
            ann.update(annotations)
        make_bundle(bdir, self.rootfs, args, annotations=ann, spec_tool=self.runtime.binary)
        if settings is not None:
            hook_patch(self.hook_bin, bdir, settings, cid)
        return bdir

    def container(self, label, settings):
        cid = unique_id(f"ubcb-{label}")
        bdir = self.bundle(cid, ["/bin/ubc-bench-work"], settings)
        c = Container(self.runtime, bdir, cid, self.workdir).start()
        c.wait_ready()
        return c

    @staticmethod
    def cmd(c, line, timeout_s=300):
        fields = c.probe.ok(line, timeout_s=timeout_s)
        return json.loads(" ".join(fields)) if fields else {}

    # -- A: untrapped calls ----------------------------------------------------

    def bench_filter(self):
        log("untrapped memory calls: production filter vs none (outside containers)")
        rounds = 6 if self.quick else 10
        n = 2000 if self.quick else 4000
        out = run([self.bins["ubc-bench-filter"], str(rounds), str(n)], timeout_s=600).stdout
        data = json.loads(out)
        self.raw["filter"] = data
        w = data["workloads"]
        g = "untrapped calls, production filter / no filter"
        labels = [("mmap_ro_notouch", "mmap PROT_READ private anon 64K + munmap (pair)", 1.05),
                  ("mmap_shared_notouch", "mmap RW MAP_SHARED file 64K + munmap (pair)", 1.05),
                  ("mmap_ro", "mmap PROT_READ private anon 64K + touch + munmap", 1.05),
                  ("mmap_shared", "mmap RW MAP_SHARED file 64K + touch + munmap", 1.05),
                  ("mmap_ro_call", "strict: the PROT_READ mmap call alone", 1.05),
                  ("mmap_shared_call", "strict: the MAP_SHARED file mmap call alone", 1.05),
                  ("munmap", "strict: munmap 64K alone", 1.05)]
        def as_rounds(key, mode):
            return [[{"v": v}] for v in w[key][mode]]

        f = lambda x: x["v"]  # noqa: E731
        for key, label, target in labels:
            self.cmp(g, label, {"s": as_rounds(key, "filtered"), "b": as_rounds(key, "bare")},
                     "s", "b", f, target)
        g = "untrapped calls, allow-everything filter / no filter (fixed cost of any filter)"
        for key, label, _ in labels:
            self.cmp(g, label, {"s": as_rounds(key, "allow_only"), "b": as_rounds(key, "bare")},
                     "s", "b", f)
        # A filter whose only rule is an argument check on mmap: the kernel must run it on
        # every mmap (the action cache skips only calls whose verdict ignores the arguments).
        mmap_keys = [x for x in labels if x[0].startswith("mmap")]
        g = "untrapped calls, one argument rule on mmap / no filter (fixed cost of a BPF run)"
        for key, label, _ in mmap_keys:
            self.cmp(g, label, {"s": as_rounds(key, "one_rule"), "b": as_rounds(key, "bare")},
                     "s", "b", f)
        g = "untrapped calls, production filter / one argument rule on mmap (the rules' length)"
        for key, label, _ in mmap_keys:
            self.cmp(g, label, {"s": as_rounds(key, "filtered"), "b": as_rounds(key, "one_rule")},
                     "s", "b", f)

    # -- B: containers ---------------------------------------------------------

    def interleave(self, containers, line, rounds):
        """Runs `line` in every container, rounds times, rotating the order; one discarded
        warm-up run first. containers: {kind: [Container, ...]}; several containers per kind
        average out placement effects (which CPU a container's task and its supervisor
        thread settle on differs between containers by up to ~30% here). Returns
        {kind: [result per round and container]}."""
        flat = [(k, c) for k, cl in containers.items() for c in cl]
        for _, c in flat:
            self.cmd(c, line)
        res = {k: [] for k in containers}
        for r in range(rounds):
            order = flat[r % len(flat):] + flat[:r % len(flat)]
            for k in res:
                res[k].append([])
            for k, c in order:
                res[k][-1].append(self.cmd(c, line))
        return res

    def cmp(self, g, name, res, subj, base, f, target=None, note="", unit="ns"):
        """A row comparing two kinds of an interleave() result: subject and baseline are
        medians over every run; the ratio is the median over rounds of the per-round ratio
        (runs of one round are adjacent in time, so load drift cancels)."""
        sv = median([f(x) for rnd in res[subj] for x in rnd])
        bv = median([f(x) for rnd in res[base] for x in rnd])
        ratios = []
        for rs, rb in zip(res[subj], res[base]):
            a, b = median([f(x) for x in rs]), median([f(x) for x in rb])
            if a is not None and b:
                ratios.append(a / b)
        row = Row(g, name, sv, bv, unit, target, note)
        row.ratio = median(ratios)
        row.ratio_spread = (min(ratios), max(ratios)) if ratios else None
        self.rows.append(row)
        return row

    def bench_containers(self, ubcd, resp_settings, ubcd_settings, respx_settings):
        log("containers: none / responder / ubcd")
        per = self.args.per_kind or (2 if self.quick else 3)
        cs = {"none": [], "resp": [], "ubcd": []}
        for _ in range(per):
            cs["none"].append(self.container("none", None))
            cs["resp"].append(self.container("resp", resp_settings))
            cs["ubcd"].append(self.container("ubcd", ubcd_settings))
            ubcd.wait_container(cs["ubcd"][-1].id)
        self.raw["containers_per_kind"] = per
        reps, n = self.reps, self.n_mmap
        raw = self.raw.setdefault("containers", {})
        nsp = 10 if self.quick else 30

        # trapped mmap, below 90% of the barrier: one page touched per mapping (the pair stays
        # dominated by the calls, as in the anchors), then every page touched.
        g = "trapped mmap (64K RW private anon, 1 page touched), below 90% of the barrier"
        self.mmap_rows(cs, ubcd, g, f"mmap {n} 64K 1", reps, "below90", 1.05, 4.7)
        g = "trapped mmap (64K RW private anon, all 16 pages touched), below 90%"
        self.mmap_rows(cs, ubcd, g, f"mmap {n} 64K", reps, "below90_touchall", None, None)

        # /proc/PID/maps reads on the common path: strace ubcd during below-90% runs.
        self.strace_ubcd(ubcd, cs["ubcd"][0], "mmap below 90%", f"mmap {n} 64K 1", n + n // 10 + 1,
                         0.0)

        # brk: every growing or shrinking brk is trapped; ubcd resolves the current break.
        g = "trapped brk (sbrk +64K, touch, sbrk -64K), below 90% of the barrier"
        nb = n // 2
        bk = self.interleave(cs, f"sbrk {nb} 64K", reps)
        raw["sbrk"] = bk
        self.cmp(g, "growing brk call p50: ubcd / CONTINUE responder", bk, "ubcd", "resp",
                 lambda x: x["call_ns"]["p50"], 1.05)
        self.cmp(g, "sbrk pair loop: ubcd / CONTINUE responder", bk, "ubcd", "resp",
                 lambda x: x["ns_per_op"])
        self.cmp(g, "sbrk pair loop: ubcd / no filter", bk, "ubcd", "none",
                 lambda x: x["ns_per_op"])
        self.strace_ubcd(ubcd, cs["ubcd"][0], "brk below 90%", f"sbrk {nb} 64K",
                         2 * nb, 0.0)

        # glibc malloc
        g = "glibc malloc/free"
        ops_default = 2_000_000 if self.quick else 6_000_000
        ops_mmap = 1000 if self.quick else 3000
        for threads in (1, 4):
            # Four threads on two CPUs: each run's placement moves it by up to ±10%, so this
            # row gets three times the rounds (its runs are short).
            rounds = reps * 3 if threads > 1 else reps
            ml = self.interleave(cs, f"malloc {ops_default // threads} {threads} 0", rounds)
            raw[f"malloc_default_{threads}t"] = ml
            f = lambda x: x["ns_per_op"]  # noqa: E731
            self.cmp(g, f"glibc defaults, {threads} thread(s): ubcd / no filter", ml, "ubcd",
                     "none", f, 1.02)
            self.cmp(g, f"glibc defaults, {threads} thread(s): responder / no filter", ml,
                     "resp", "none", f)
            self.cmp(g, f"glibc defaults, {threads} thread(s): ubcd / responder", ml, "ubcd",
                     "resp", f)
        for threads in (1, 4):
            ml = self.interleave(cs, f"malloc {ops_mmap} {threads} 4096", reps)
            raw[f"malloc_mmap_{threads}t"] = ml
            f = lambda x: x["ns_per_op"]  # noqa: E731
            self.cmp(g, f"mmap per allocation (M_MMAP_THRESHOLD=4096), {threads}T: ubcd / none",
                     ml, "ubcd", "none", f)
            self.cmp(g, f"mmap per allocation, {threads}T: responder / none", ml, "resp",
                     "none", f)
            self.cmp(g, f"mmap per allocation, {threads}T: ubcd / responder", ml, "ubcd",
                     "resp", f)

        # fork of a process with 100 MiB touched. The target row times the fork call (until
        # it returns in the parent): that is where a supervisor sits. The child's exit and
        # its reaping run wherever the scheduler puts the child and are shown apart.
        g = "fork of a 100 MiB touched process (fork() returning in the parent)"
        nfork = 10 if self.quick else 30
        fk = self.interleave(cs, f"fork {nfork} 100M", reps)
        raw["fork_100m"] = fk
        f = lambda x: x["call_ns"]["p50"]  # noqa: E731
        self.cmp(g, "fork: ubcd / no filter", fk, "ubcd", "none", f, 1.05)
        self.cmp(g, "fork: responder / no filter", fk, "resp", "none", f)
        self.cmp(g, "fork: ubcd / responder", fk, "ubcd", "resp", f)
        g = "fork (100 MiB private, touched) + child exit + waitpid"
        f = lambda x: x["ns_median"]  # noqa: E731
        self.cmp(g, "fork+exit+wait: ubcd / no filter", fk, "ubcd", "none", f)
        self.cmp(g, "fork+exit+wait: responder / no filter", fk, "resp", "none", f)
        self.cmp(g, "fork+exit+wait: ubcd / responder", fk, "ubcd", "resp", f)

        # start-up of a dynamic program inside the container
        g = "start-up of a dynamic program (fork + exec ld.so + libstdc++ + wait), in container"
        sp = self.interleave(cs, f"spawn {nsp} /bin/ubc-bench-hello", reps)
        raw["spawn_hello"] = sp
        self.cmp(g, "exec start-up: ubcd / no filter", sp, "ubcd", "none", f)
        self.cmp(g, "exec start-up: responder / no filter", sp, "resp", "none", f)
        self.cmp(g, "exec start-up: ubcd / responder", sp, "ubcd", "resp", f)

        self.strace_ubcd(ubcd, cs["ubcd"][0], "glibc malloc defaults 1T (brk heap)",
                         f"malloc {ops_default} 1 0", None, None)
        self.strace_ubcd(ubcd, cs["ubcd"][0], "exec start-up of the dynamic program",
                         f"spawn {nsp} /bin/ubc-bench-hello", None, None)

        # near the barrier: fill to 94% of the barrier
        target = int(self.barrier_pages * 0.94)
        for cl in cs.values():
            for c in cl:
                self.cmd(c, f"fill {target}")
        g = "trapped mmap near the barrier (held ~94% of it), 1 page touched"
        self.mmap_rows(cs, ubcd, g, f"mmap {n} 64K 1", reps, "near", 1.15, None)
        self.strace_ubcd(ubcd, cs["ubcd"][0], "mmap near the barrier", f"mmap {n} 64K 1",
                         n + n // 10 + 1, None)
        # At the edge: within ubcd's 2048-page headroom every decision reads statm. Its floor
        # is the responder that preads a kept statm fd before each answer ("respx"), in
        # containers of its own that take part in this row only.
        edge = self.barrier_pages - 1024
        cs["respx"] = [self.container("respx", respx_settings) for _ in range(per)]
        for cl in cs.values():
            for c in cl:
                self.cmd(c, f"fill {edge}")
        g = ("trapped mmap at the edge (held within 2048 pages of the barrier: every decision "
             "exact), 1 page touched")
        self.mmap_rows(cs, ubcd, g, f"mmap {n} 64K 1", reps, "edge", 1.15, None)
        self.proc_read_costs(ubcd, cs["ubcd"][0])
        self.strace_ubcd(ubcd, cs["ubcd"][0], "mmap at the edge", f"mmap {n} 64K 1",
                         n + n // 10 + 1, None)
        for cl in cs.values():
            for c in cl:
                c.stop()
                c.cleanup()

    def mmap_rows(self, cs, ubcd, g, line, reps, key, target_resp, target_bare):
        mm = self.interleave(cs, line, reps)
        held = ubcd.privvm(cs["ubcd"][0].id)
        self.raw["containers"][f"mmap_{key}"] = {"line": line, "results": mm, "ubcd_held": held}
        note = f"ubcd held {held['held']} of barrier {held['barrier']} pages"
        p50 = lambda x: x["call_ns"]["p50"]  # noqa: E731
        p99 = lambda x: x["call_ns"]["p99"]  # noqa: E731
        loop = lambda x: x["ns_per_op"]  # noqa: E731
        self.cmp(g, "mmap call p50: ubcd / CONTINUE responder", mm, "ubcd", "resp", p50,
                 target_resp, note)
        self.cmp(g, "mmap call p99: ubcd / CONTINUE responder", mm, "ubcd", "resp", p99)
        self.cmp(g, "mmap+touch+munmap loop: ubcd / CONTINUE responder", mm, "ubcd", "resp", loop)
        self.cmp(g, "mmap+touch+munmap loop: ubcd / no filter", mm, "ubcd", "none", loop,
                 target_bare)
        self.cmp(g, "mmap+touch+munmap loop: responder / no filter (floor)", mm, "resp", "none",
                 loop)
        if "respx" in mm:
            self.cmp(g, "mmap call p50: responder reading statm / CONTINUE responder (floor of "
                     "an exact decision)", mm, "respx", "resp", p50)
            self.cmp(g, "mmap call p50: ubcd / responder reading statm (what ubcd adds to the "
                     "read)", mm, "ubcd", "respx", p50)

    def proc_read_costs(self, ubcd, c):
        """Diagnosis: the cost of each kernel read on ubcd's paths, against this container."""
        info = ubcd.require_container(c.id)
        membership = info.get("membership", "")
        pid = c.host_pid()
        if not membership.startswith("cgroup ") or not pid:
            self.extras.append(("cost of ubcd's kernel reads", [f"not measured ({membership})"]))
            return
        out = run([self.bins["ubc-bench-procread"], membership[len("cgroup "):], str(pid),
                     "2000"]).stdout
        costs = json.loads(out)
        self.raw["proc_read_costs_ns"] = costs
        self.extras.append(("cost of ubcd's kernel reads (median ns, measured from outside "
                            "against the near-barrier container)",
                            [", ".join(f"{k} {v}" for k, v in costs.items())]))

    def strace_ubcd(self, ubcd, c, label, line, calls, target):
        """Counts ubcd's opens (every thread) while the container runs `line`."""
        strace = which("strace")
        if strace is None:
            self.extras.append(("proc reads", [f"{label}: strace missing, not checked"]))
            return
        out = os.path.join(self.workdir, f"strace-{len(self.raw.get('strace', {}))}.txt")
        proc = subprocess.Popen([strace, "-f", "-qq", "-e", "trace=openat,open", "-o", out,
                                 "-p", str(ubcd.proc.pid)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        add_cleanup(f"stop strace {proc.pid}", lambda: stop_process(proc, signal.SIGINT))
        time.sleep(1.0)  # attach to every thread
        self.cmd(c, line)
        time.sleep(0.2)
        stop_process(proc, signal.SIGINT)
        lines = read_text(out, 50_000_000).splitlines()
        paths = {}
        for ln in lines:
            m = re.search(r'"([^"]*)"', ln)
            if not m:
                continue
            p = re.sub(r"/\d+", "/N", m.group(1))
            p = re.sub(r"ubcb-[\w-]+", "ID", p)
            paths[p] = paths.get(p, 0) + 1
        maps = sum(v for p, v in paths.items() if p.endswith("/maps"))
        self.raw.setdefault("strace", {})[label] = {"line": line, "trapped_calls": calls,
                                                   "opens_by_path": paths}
        g = "/proc reads by ubcd (strace -f -e openat,open on ubcd)"
        top = ", ".join(f"{p} x{v}" for p, v in sorted(paths.items(), key=lambda x: -x[1])[:4])
        if calls:
            self.rows.append(Row(g, f"opens of /proc/PID/maps per trapped call: {label}",
                                 maps / calls, 1.0, "n", target,
                                 f"{calls} calls; opens: {top or 'none'}"))
        else:
            self.rows.append(Row(g, f"opens of /proc/PID/maps: {label}", float(maps), 1.0, "n",
                                 target, f"opens: {top or 'none'}"))

    # -- C: container start-up -------------------------------------------------

    def bench_container_startup(self, ubcd_settings):
        log("container start-up: runc run of a dynamic program, patched vs not")
        reps = 5 if self.quick else 10
        times = {"none": [], "ubcd": []}
        for r in range(reps):
            for k in (("none", "ubcd") if r % 2 == 0 else ("ubcd", "none")):
                cid = unique_id(f"ubcb-st{k}")
                bdir = self.bundle(cid, ["/bin/ubc-bench-hello"],
                                   ubcd_settings if k == "ubcd" else None)
                add_cleanup(f"delete {cid}", lambda cid=cid: (self.runtime.delete(cid),
                                                                remove_cgroup_dirs(cid)))
                t0 = time.monotonic()
                res = run(self.runtime.cmd("run", "--bundle", bdir, cid), timeout_s=60,
                            stdin=subprocess.DEVNULL)
                times[k].append(time.monotonic() - t0)
                if "hello" not in res.stdout:
                    raise AssertionError(f"hello did not run: {res.stdout!r} {res.stderr!r}")
        self.raw["container_startup_s"] = times
        g = "container start-up (runc run of a dynamic C++ program, wall time)"
        self.cmp(g, "runc run: ubcd / no filter",
                 {"s": [[t * 1e9] for t in times["ubcd"]], "b": [[t * 1e9] for t in times["none"]]},
                 "s", "b", lambda x: x)

    # -- D: scaling ------------------------------------------------------------

    def bench_scaling(self, steps):
        k_base = 100 if self.quick else 200
        res_all = {"ubcd": {}, "resp": {}}
        lines = []
        for m in steps:
            k_calls = max(k_base, min(5000, 20000 // m))
            for sup in ("resp", "ubcd"):
                log(f"scaling: {m} containers against one {sup}")
                r = self.scale_step(m, k_calls, sup)
                res_all[sup][m] = r
                lines.append(
                    f"{sup:>4} {m:>4} containers x {k_calls} calls: trapped mmap call p50 "
                    f"{r['p50_us']:.1f} p90 {r['p90_us']:.1f} p99 {r['p99_us']:.1f} p99.9 "
                    f"{r['p999_us']:.1f} max {r['max_us']:.0f} us; CPU {r['cpu_us_per_call']:.2f} "
                    f"us/call (schedstat; stat ticks {r['cpu_s']:.2f} s); {r['wall_s']:.2f} s "
                    f"wall; RSS "
                    f"{r['rss_before_kib']}->{r['rss_first_kib']}->{r['rss_idle_kib']} KiB "
                    f"(first container {r['rss_first_container_kib']:.0f} KiB, then "
                    f"{r['rss_per_container_kib']:.1f} KiB/container); fds {r['fds']}; "
                    f"threads {r['threads']}; started in {r['start_all_s']:.1f} s")
        self.raw["scaling"] = res_all
        self.extras.append(("scaling: N containers allocating concurrently against one "
                            "supervisor (resp = CONTINUE responder, the floor)", lines))
        g = "scaling (ubcd vs the CONTINUE responder at the same N)"
        for m in steps:
            u, r = res_all["ubcd"][m], res_all["resp"][m]
            self.rows.append(Row(g, f"{m:>3} containers: trapped mmap call p50, ubcd / responder",
                                 u["p50_us"], r["p50_us"], "us"))
            self.rows.append(Row(g, f"{m:>3} containers: trapped mmap call p99, ubcd / responder",
                                 u["p99_us"], r["p99_us"], "us"))
            self.rows.append(Row(g, f"{m:>3} containers: CPU per call, ubcd / responder",
                                 u["cpu_us_per_call"], r["cpu_us_per_call"] or None, "us"))
            if m > 1:
                self.rows.append(Row(g, f"{m:>3} containers: ubcd idle RSS per container / 64 KiB",
                                     u["rss_per_container_kib"], 64.0, "KiB", 1.0,
                                     f"responder: {r['rss_per_container_kib']:.1f} KiB/container;"
                                     f" ubcd fds {u['fds']}"))

    def scale_step(self, m, k_calls, sup):
        sdir = os.path.join(self.workdir, f"scale-{sup}-{m}")
        os.makedirs(sdir)
        if sup == "ubcd":
            ubcd = BenchUbcd(self.ubcd_bin, os.path.join(sdir, "ubcd")).start()
            settings = write_hook_settings(os.path.join(sdir, "hook.json"), ubcd,
                                             runtime=self.runtime.binary)
            proc = ubcd.proc
            stop = ubcd.stop
        else:
            proc, rsock = start_responder(self.bins["ubc-bench-responder"], sdir)
            empty = os.path.join(sdir, "containers.d")
            os.makedirs(empty)
            settings = write_hook_settings(os.path.join(sdir, "hook.json"),
                                             Listener(rsock, empty), runtime=self.runtime.binary)
            stop = lambda: stop_process(proc)  # noqa: E731
        go_rel = f"tmp/go-{os.getpid()}-{sup}-{m}"
        go = os.path.join(self.rootfs, go_rel)
        add_cleanup(f"rm {go}", lambda: os.path.exists(go) and os.unlink(go))
        stop_rel = go_rel + "-stop"
        stopf = os.path.join(self.rootfs, stop_rel)
        add_cleanup(f"rm {stopf}", lambda: os.path.exists(stopf) and os.unlink(stopf))
        # Containers stay alive after their run until the stop file exists, so that the
        # supervisor's threads (and their CPU time) are still there to be read.
        args = ["/bin/ubc-bench-work", "echo ready", f"waitfile /{go_rel}",
                f"lat {k_calls} 64K 1", f"waitfile /{stop_rel}", "exit"]
        # one patched template, copied per container (the patch does not depend on the id)
        tmpl = self.bundle(unique_id("ubcb-tmpl"), args, settings)
        cfg = read_json(os.path.join(tmpl, "config.json"))
        time.sleep(0.5)
        pid = proc.pid
        rss0 = proc_status_kib(pid, "VmRSS")
        procs = []

        def out_lines(p):
            return read_text(p[2]).splitlines()

        def ready(p):
            ls = out_lines(p)
            return bool(ls) and ls[0] == "ok ready"

        def cleanup_all():
            for cid, rp, _ in procs:
                if rp.poll() is None:
                    kill_pid(rp.pid, signal.SIGKILL)
            for cid, rp, _ in procs:
                self.runtime.delete(cid)
                try:
                    rp.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pass
                remove_cgroup_dirs(cid)
            procs.clear()

        add_cleanup(f"scale-{sup}-{m} containers", cleanup_all)

        def launch(count, parallel=4):
            pending = []
            for _ in range(count):
                cid = unique_id(f"ubcb-s{m}")
                bdir = os.path.join(sdir, "b", cid)
                os.makedirs(bdir)
                write_json(os.path.join(bdir, "config.json"), cfg)
                outp = os.path.join(sdir, f"{cid}.out")
                with open(outp, "wb") as o, open(os.path.join(sdir, f"{cid}.err"), "wb") as e:
                    rp = subprocess.Popen(self.runtime.cmd("run", "--bundle", bdir, cid),
                                          stdin=subprocess.DEVNULL, stdout=o, stderr=e)
                p = (cid, rp, outp)
                procs.append(p)
                pending.append(p)
                while len(pending) >= parallel:
                    pending = [q for q in pending if not ready(q)]
                    for q in pending:
                        if q[1].poll() is not None:
                            raise AssertionError(
                                f"container {q[0]} exited early: "
                                f"{read_text(os.path.join(sdir, q[0] + '.err'))}")
                    if len(pending) >= parallel:
                        time.sleep(0.01)
            wait_until(lambda: all(ready(p) for p in procs), 120, 0.05,
                         "all containers ready")

        t_start = time.monotonic()
        launch(1)
        time.sleep(0.5)
        rss_first = proc_status_kib(pid, "VmRSS")
        if m > 1:
            launch(m - 1)
        t_ready = time.monotonic() - t_start
        time.sleep(1.0)
        rss1 = proc_status_kib(pid, "VmRSS")
        fds = count_fds(pid)
        threads = proc_status_kib(pid, "Threads")
        cpu0 = proc_cpu_s(pid)
        sched0 = proc_sched_ns(pid)
        t0 = time.monotonic()
        with open(go, "w", encoding="utf-8") as f:
            f.write("go\n")

        def done(p):
            return any(ln.startswith("ok {\"ns_per_op\"") or ln.startswith("err")
                       for ln in out_lines(p))

        wait_until(lambda: all(done(p) for p in procs), 600, 0.05, "all containers done")
        wall = time.monotonic() - t0
        cpu1 = proc_cpu_s(pid)
        sched1 = proc_sched_ns(pid)
        with open(stopf, "w", encoding="utf-8") as f:
            f.write("stop\n")
        for _, rp, _ in procs:
            rp.wait(timeout=600)
        samples = []
        ns_per_op = []
        for p in procs:
            ls = out_lines(p)
            lat = [ln for ln in ls if ln.startswith("ok {\"ns_per_op\"")]
            if not lat:
                raise AssertionError(f"container {p[0]} printed no latencies: {ls[:3]}")
            d = json.loads(lat[0][3:])
            samples += d["samples"]
            ns_per_op.append(d["ns_per_op"])
        samples.sort()
        calls = m * (k_calls + k_calls // 10 + 1)
        rss_after = proc_status_kib(pid, "VmRSS")
        stop()
        cleanup_all()
        os.unlink(go)
        os.unlink(stopf)
        return {
            "supervisor": sup, "containers": m, "calls_per_container": k_calls,
            "start_all_s": t_ready, "calls": calls,
            "p50_us": percentile(samples, 0.5) / 1e3, "p90_us": percentile(samples, 0.9) / 1e3,
            "p99_us": percentile(samples, 0.99) / 1e3,
            "p999_us": percentile(samples, 0.999) / 1e3, "max_us": samples[-1] / 1e3,
            "loop_ns_per_op_median": median(ns_per_op),
            "cpu_s": cpu1 - cpu0, "cpu_tick_us_per_call": (cpu1 - cpu0) * 1e6 / calls,
            "cpu_us_per_call": (sched1 - sched0) / 1e3 / calls,
            "wall_s": wall, "rss_before_kib": rss0, "rss_first_kib": rss_first,
            "rss_idle_kib": rss1, "rss_after_kib": rss_after,
            "rss_first_container_kib": rss_first - rss0,
            "rss_per_container_kib": (rss1 - rss_first) / (m - 1) if m > 1 else
            float(rss_first - rss0),
            "fds": fds, "threads": threads,
        }

    # -- run -----------------------------------------------------------------

    def run(self):
        t0 = time.monotonic()
        meta = {
            "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "uname": " ".join(platform.uname()), "nproc": os.cpu_count(),
            "mode": "quick" if self.quick else "full", "reps": self.reps,
            "mmap_calls_per_run": self.n_mmap,
            "runc": run([self.runtime.binary, "--version"]).stdout.splitlines()[0],
            "ubcd": os.path.abspath(self.args.ubcd),
            "ubcd_sha256": sha256_file(self.ubcd_bin),
            "git_head": run(["git", "-C", REPO, "rev-parse", "HEAD"], check_rc=False).stdout.strip(),
            "git_dirty_files": len(run(["git", "-C", REPO, "status", "--porcelain"],
                                         check_rc=False).stdout.splitlines()),
        }
        if self.args.wait_idle:
            deadline = time.monotonic() + self.args.wait_idle
            while os.getloadavg()[0] > 0.7 and time.monotonic() < deadline:
                log(f"waiting for an idle machine (load {os.getloadavg()[0]:.2f})")
                time.sleep(10)
        meta["loadavg_start"] = os.getloadavg()
        t0 = time.monotonic()  # the suite's own duration, without the wait
        only = set(self.args.only.split(",")) if self.args.only else None

        def want(x):
            return only is None or x in only

        if want("filter"):
            self.bench_filter()
        if want("containers") or want("startup"):
            ubcd = BenchUbcd(self.ubcd_bin, os.path.join(self.workdir, "ubcd")).start()
            ubcd_settings = write_hook_settings(os.path.join(self.workdir, "hook-ubcd.json"),
                                                  ubcd, runtime=self.runtime.binary)
            _, rsock = start_responder(self.bins["ubc-bench-responder"], self.workdir)
            resp_settings = write_hook_settings(
                os.path.join(self.workdir, "hook-resp.json"),
                Listener(rsock, ubcd.containers_dir), runtime=self.runtime.binary)
            if want("containers"):
                _, xsock = start_responder(self.bins["ubc-bench-responder"], self.workdir,
                                           read_statm=True)
                respx_settings = write_hook_settings(
                    os.path.join(self.workdir, "hook-respx.json"),
                    Listener(xsock, ubcd.containers_dir), runtime=self.runtime.binary)
                self.bench_containers(ubcd, resp_settings, ubcd_settings, respx_settings)
            if want("startup"):
                self.bench_container_startup(ubcd_settings)
            ubcd.stop()
        if want("scaling"):
            steps = [int(x) for x in self.args.scale.split(",")] if self.args.scale else (
                [1, 10, 100] if self.quick else [1, 10, 100, 300])
            self.bench_scaling(steps)
        meta["duration_s"] = round(time.monotonic() - t0, 1)
        meta["loadavg_end"] = os.getloadavg()
        print_table(self.rows, self.extras)
        result = {"meta": meta, "rows": [r.as_dict() for r in self.rows],
                  "extras": {t: ls for t, ls in self.extras}, "raw": self.raw}
        out = self.args.out or os.path.join(
            REPO, "bench", "results", time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + ".json")
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
        write_json(out, result)
        missed = [r for r in self.rows if r.verdict() == "FAIL"]
        print(f"load average at start {meta['loadavg_start']}, at end {meta['loadavg_end']}")
        print(f"results: {out}")
        print(f"{sum(r.verdict() == 'PASS' for r in self.rows)} targets met, {len(missed)} missed"
              f" ({meta['duration_s']} s)")
        return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer rounds, scaling up to 100")
    ap.add_argument("--out", help="JSON result path (default bench/results/TIMESTAMP.json)")
    ap.add_argument("--reps", type=int, help="rounds per interleaved comparison")
    ap.add_argument("--n", type=int, help="trapped mmap calls per run")
    ap.add_argument("--wait-idle", type=int, default=0, metavar="S",
                    help="wait up to S seconds for a 1-minute load average below 0.7")
    ap.add_argument("--per-kind", type=int, help="containers per kind (none/resp/ubcd)")
    ap.add_argument("--scale", help="comma-separated container counts for scaling")
    ap.add_argument("--only", help="comma list of: filter,containers,startup,scaling")
    ap.add_argument("--ubcd", default=os.path.join(REPO, "build", "supervisor", "ubcd"))
    ap.add_argument("--hook", default=os.path.join(REPO, "build", "runtime-hook", "ubc-hook"))
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("the benchmark needs root (runc containers, seccomp listeners)")
    install_handlers()
    try:
        return Suite(args).run()
    except Interrupted:  # the cleanup stack's signal exception
        return 130
    finally:
        run_cleanups()


if __name__ == "__main__":
    sys.exit(main())
