#!/usr/bin/env python3
"""ubc benchmark suite: ratios against baselines measured in the same invocation.

Run it through `bash bench/run.sh [--quick] [--out FILE]` (root, runc, a built ubcd and
ubc-hook). What it measures and why is in docs/performance.md.

Every figure is a ratio subject/baseline, both measured in this run, interleaved (rounds
rotate the order of the containers) and reduced to medians over rounds. Results are printed
as a table and written as JSON (default bench/results/<UTC timestamp>.json).

Layout: this file is the entry point (arguments, the run, the JSON); bench_core.py the
shared state and tools, bench_filter.py, bench_containers.py, bench_startup.py and
bench_scaling.py the four groups, bench_supervisors.py ubcd and the responder,
bench_build.py the binaries, bench_procfs.py the /proc readings, bench_results.py rows
and the table. The integration tests' harness (tests/integration) does the rest.

Cleanup: everything (temp dir, ubcd and responder processes, containers, cgroups) is
registered in tests/integration/cleanup.py's cleanup stack the moment it exists and undone
at exit or on SIGINT/SIGTERM/SIGHUP; nothing is killed or deleted by name, only by the
ids and pids created here.
"""

import argparse
import os
import platform
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))

from bench_build import sha256_file  # noqa: E402
from bench_containers import ContainerBench  # noqa: E402
from bench_core import Bench  # noqa: E402
from bench_filter import FilterBench  # noqa: E402
from bench_polling import PollingBench  # noqa: E402
from bench_results import print_table  # noqa: E402
from bench_scaling import ScalingBench  # noqa: E402
from bench_startup import StartupBench  # noqa: E402
from bench_supervisors import BenchUbcd, Listener, start_responder  # noqa: E402
from bundles import write_hook_settings  # noqa: E402
from cleanup import Interrupted, install_handlers, run_cleanups  # noqa: E402
from files import write_json  # noqa: E402
from outcome import log  # noqa: E402
from procs import run  # noqa: E402


class Suite(FilterBench, ContainerBench, StartupBench, ScalingBench, PollingBench, Bench):
    """The groups over one Bench; run() runs the ones asked for, prints the table
    and writes the JSON."""

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
        if want("polling"):
            self.bench_polling()
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
    ap.add_argument("--only", help="comma list of: filter,containers,startup,polling,scaling")
    ap.add_argument("--ubcd", default=os.path.join(REPO, "build", "supervisor", "ubcd"))
    ap.add_argument("--hook", default=os.path.join(REPO, "build", "runtime-hook", "ubc-hook"))
    ap.add_argument("--ubcctl", default=os.path.join(REPO, "build", "ctl", "ubcctl"))
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
