#!/usr/bin/env python3
"""Renders a bench result JSON (bench/ubc_bench.py --out) as Markdown tables for
docs/performance.md: python3 bench/report.py bench/results/full-run.json"""
import json
import sys


def fmt(v):
    if v is None:
        return "n/a"
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.2f}"


def main(path):
    d = json.load(open(path, encoding="utf-8"))
    m = d["meta"]
    print(f"Run {m['date_utc']}, {m['mode']} mode, {m['reps']} rounds, {m['duration_s']} s; "
          f"`{m['uname']}`, {m['nproc']} CPUs; {m['runc']}; load average at start "
          f"{m['loadavg_start'][0]:.1f}, at end {m['loadavg_end'][0]:.1f}.\n")
    print("| group | benchmark | subject | baseline | ratio (rounds min-max) | target | verdict |")
    print("|---|---|---:|---:|---:|---:|---|")
    for r in d["rows"]:
        ratio = f"{r['ratio']:.3f}" if r["ratio"] is not None else "n/a"
        sp = r.get("ratio_min_max_over_rounds")
        if sp:
            ratio += f" ({sp[0]:.2f}-{sp[1]:.2f})"
        tgt = f"<= {r['target']:g}" if r["target"] is not None else ""
        verdict = r["verdict"] if r["verdict"] != "-" else ""
        unit = r["unit"]
        print(f"| {r['group']} | {r['name']} | {fmt(r['subject'])} {unit} | "
              f"{fmt(r['baseline'])} {unit} | {ratio} | {tgt} | {verdict} |")
    for title, lines in d.get("extras", {}).items():
        print(f"\n{title}:\n")
        for ln in lines:
            print(f"- {ln}")


if __name__ == "__main__":
    main(sys.argv[1])
