"""Group D, scaling: N containers allocating at once against one supervisor (ubcd, or the
CONTINUE responder as the floor): call latency percentiles, the supervisor's CPU per
call, its RSS per container, fds and threads.

Imported by ubc_bench.py, which puts tests/integration (the integration-test
harness) on sys.path first.
"""

import json
import os
import signal
import subprocess
import time

from bench_procfs import count_fds, proc_cpu_s, proc_sched_ns, proc_status_kib
from bench_results import Row, median, percentile
from bench_supervisors import BenchUbcd, Listener, start_responder
from bundles import write_hook_settings
from cleanup import add_cleanup, remove_cgroup_dirs, unique_id
from files import read_json, read_text, write_json
from outcome import log, wait_until
from procs import kill_pid, stop_process


class ScalingBench:
    """Mixed into Suite; uses Bench's tools."""

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
