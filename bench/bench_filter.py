"""Group A, untrapped calls: the production filter, an allow-everything filter and a
one-rule filter against no filter, outside containers (bench/programs/ubc_bench_filter.c).
"""

import json

from outcome import log
from procs import run


class FilterBench:
    """Mixed into Suite; uses Bench's tools."""

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
