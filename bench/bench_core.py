"""The state and tools every benchmark group shares (class Bench): the temp dir, the
compiled programs and snapshots, runc with its rootfs, the bundles and containers made
from them, the interleaved runs of one command in several containers and the comparison
rows made from them.

Imported by ubc_bench.py, which puts tests/integration (the integration-test
harness) on sys.path first.
"""

import json
import os
import shutil

from bench_build import add_dynamic_program, compile_programs, snapshot_binary
from bench_results import Row, median
from bundles import build_rootfs, hook_patch, make_bundle
from cleanup import make_temp_dir, unique_id
from runtimes import Container, make_runtime

MIB = 1 << 20
PAGE = 4096


class Bench:
    """Shared state (rows, extras, raw results) and the tools the groups use;
    the groups are mixins of Suite (ubc_bench.py)."""

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

    def bundle(self, cid, args, settings, annotations=None):
        bdir = os.path.join(self.workdir, "bundles", cid)
        ann = {"ubc.privvmpages": self.privvm}
        if annotations:
            ann.update(annotations)
        make_bundle(bdir, self.rootfs, args, annotations=ann, spec_tool=self.runtime.binary)
        if settings is not None:
            hook_patch(self.hook_bin, bdir, settings, cid)
        return bdir

    def container(self, label, settings, annotations=None):
        cid = unique_id(f"ubcb-{label}")
        bdir = self.bundle(cid, ["/bin/ubc-bench-work"], settings, annotations)
        c = Container(self.runtime, bdir, cid, self.workdir).start()
        c.wait_ready()
        return c

    @staticmethod
    def cmd(c, line, timeout_s=300):
        fields = c.probe.ok(line, timeout_s=timeout_s)
        return json.loads(" ".join(fields)) if fields else {}

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
