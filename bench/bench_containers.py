"""Group B, containers: trapped mmap and brk, glibc malloc, fork and exec start-up in
containers with no filter, the CONTINUE responder and ubcd, below 90% of the barrier,
near it and at the edge; plus ubcd's /proc opens (strace) and its kernel reads' cost.

Imported by ubc_bench.py, which puts tests/integration (the integration-test
harness) on sys.path first.
"""

import json
import os
import re
import signal
import subprocess
import time

from bench_results import Row
from cleanup import add_cleanup
from files import read_text
from outcome import log, which
from procs import run, stop_process


class ContainerBench:
    """Mixed into Suite; uses Bench's tools."""

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

        # thread create+join. A finite numproc makes ubc-hook trap every clone (ubcd counts
        # tasks itself where the container has no pids cgroup; runc gives it one, so ubcd
        # continues a thread at once). Containers of their own, beside the plain ones, whose
        # threads are not trapped at all.
        g = "thread create+join (pthread_create to joined), every clone trapped (ubc.numproc set)"
        nthr = 300 if self.quick else 1000
        numproc = {"ubc.numproc": "4096"}
        tc = {"none": cs["none"], "plain-ubcd": cs["ubcd"],
              "resp": [self.container("resp-np", resp_settings, numproc) for _ in range(per)],
              "ubcd": [self.container("ubcd-np", ubcd_settings, numproc) for _ in range(per)]}
        for c in tc["ubcd"]:
            ubcd.wait_container(c.id)
        th = self.interleave(tc, f"threads {nthr}", reps)
        raw["threads"] = th
        f = lambda x: x["ns_median"]  # noqa: E731
        self.cmp(g, "thread create+join: ubcd / CONTINUE responder", th, "ubcd", "resp", f, 1.05)
        self.cmp(g, "thread create+join: responder / no filter", th, "resp", "none", f)
        self.cmp(g, "thread create+join: ubcd / no filter", th, "ubcd", "none", f)
        self.cmp(g, "thread create+join without numproc (clone of a thread not trapped): ubcd / "
                 "no filter", th, "plain-ubcd", "none", f)
        for kind in ("resp", "ubcd"):
            for c in tc[kind]:
                c.stop()
                c.cleanup()

        # sysinfo: trapped under the default meminfo mode (privvmpages:1). The responder
        # lets the kernel answer; ubcd writes the container's struct into the caller.
        g = "trapped sysinfo(2) (meminfo privvmpages:1)"
        nsi = n // 2
        si = self.interleave(cs, f"sysinfo {nsi}", reps)
        raw["sysinfo"] = si
        self.cmp(g, "sysinfo call p50: ubcd / CONTINUE responder", si, "ubcd", "resp",
                 lambda x: x["call_ns"]["p50"], 1.10)
        self.cmp(g, "sysinfo call p50: responder / no filter", si, "resp", "none",
                 lambda x: x["call_ns"]["p50"])
        self.cmp(g, "sysinfo loop: ubcd / no filter", si, "ubcd", "none",
                 lambda x: x["ns_per_op"])

        # /proc/meminfo: ubcd's containers read the FUSE view bound over it, the others
        # (no filter) the kernel's file. Each read is an open, reads to EOF and a close.
        g = "read of /proc/meminfo (open + read to EOF + close)"
        nrd = 2000 if self.quick else 6000
        rd = self.interleave(cs, f"readfile {nrd} /proc/meminfo", reps)
        raw["meminfo_read"] = rd
        self.cmp(g, "meminfo read p50: FUSE view (ubcd) / host file (no filter)", rd, "ubcd",
                 "none", lambda x: x["call_ns"]["p50"], 3.0)
        self.cmp(g, "meminfo read p50: host file under the responder / no filter", rd, "resp",
                 "none", lambda x: x["call_ns"]["p50"])
        # The view keeps a container's text 10 ms: reads further apart than that each
        # ask ubcd (a GETATTR, and a READ when the text changed), as a monitoring agent's
        # once-a-second read does.
        nsp = 40 if self.quick else 120
        rs = self.interleave(cs, f"readfile {nsp} /proc/meminfo 15000", reps)
        raw["meminfo_read_spaced"] = rs
        self.cmp(g, "meminfo read 15 ms apart p50: FUSE view (ubcd) / host file (no filter)",
                 rs, "ubcd", "none", lambda x: x["call_ns"]["p50"])

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
