"""Results: medians and percentiles, a result row (subject, baseline, ratio, target,
verdict) and the printed table.
"""

import statistics


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def percentile(sorted_xs, q):
    if not sorted_xs:
        return None
    i = int(round(q * (len(sorted_xs) - 1)))
    return sorted_xs[i]


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
