"""Group C, container start-up: wall time of `runc run` of a dynamic C++ program, with
the bundle patched for ubcd or not.

Imported by ubc_bench.py, which puts tests/integration (the integration-test
harness) on sys.path first.
"""

import subprocess
import time

from cleanup import add_cleanup, remove_cgroup_dirs, unique_id
from outcome import log
from procs import run


class StartupBench:
    """Mixed into Suite; uses Bench's tools."""

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
