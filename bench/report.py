#!/usr/bin/env python3
"""Renders a bench result as the Markdown tables of docs/performance.md, or writes its summary.

    python3 bench/report.py RESULT.json                # Markdown: run line, every row, extras
    python3 bench/report.py --summary RESULT.json > bench/results/summary.json

RESULT.json is either a full result (bench/ubc_bench.py --out: meta, rows, extras and every
raw measurement) or a summary written by --summary (the same meta, rows and extras, numbers
rounded, no raw samples). Both render the same tables."""
import argparse
import json
import os
import sys

# Keys of a row kept in a summary, in this order (the full result's names).
ROW_KEYS = ("group", "name", "subject", "baseline", "unit", "ratio",
            "ratio_min_max_over_rounds", "target", "verdict", "note")


def fmt(v):
    if v is None:
        return "n/a"
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.2f}"


def rounded(v, digits):
    return round(v, digits) if isinstance(v, float) else v


def summarize(d, source):
    """The summary of a full result: meta, rows and extras, no raw samples."""
    meta = dict(d["meta"])
    for k in ("loadavg_start", "loadavg_end"):
        if k in meta:
            meta[k] = [rounded(x, 2) for x in meta[k]]
    rows = []
    for r in d["rows"]:
        row = {k: r.get(k) for k in ROW_KEYS}
        row["subject"] = rounded(row["subject"], 3)
        row["baseline"] = rounded(row["baseline"], 3)
        row["ratio"] = rounded(row["ratio"], 5)
        if row["ratio_min_max_over_rounds"]:
            row["ratio_min_max_over_rounds"] = [rounded(x, 5)
                                                for x in row["ratio_min_max_over_rounds"]]
        rows.append(row)
    return {"summary_of": source, "meta": meta, "rows": rows, "extras": d.get("extras", {})}


def dump_summary(s):
    """JSON with one line per meta key, per row and per extras line: small diffs."""
    def j(v):
        return json.dumps(v, ensure_ascii=False)

    def block(items, opener, closer, indent):
        pad = " " * indent
        return opener + "\n" + ",\n".join(pad + it for it in items) + "\n" + " " * (indent - 1) \
            + closer

    meta = block([f"{j(k)}: {j(v)}" for k, v in s["meta"].items()], "{", "}", 2)
    rows = block([j(r) for r in s["rows"]], "[", "]", 2)
    extras = block([f"{j(t)}: " + block([j(ln) for ln in lines], "[", "]", 3)
                    for t, lines in s["extras"].items()], "{", "}", 2) if s["extras"] else "{}"
    return (f"{{\n \"summary_of\": {j(s['summary_of'])},\n \"meta\": {meta},\n"
            f" \"rows\": {rows},\n \"extras\": {extras}\n}}\n")


def render(d):
    m = d["meta"]
    print(f"Run {m['date_utc']}, {m['mode']} mode, {m['reps']} rounds, {m['duration_s']} s; "
          f"`{m['uname'].strip()}`, {m['nproc']} CPUs; {m['runc']}; load average at start "
          f"{m['loadavg_start'][0]:.1f}, at end {m['loadavg_end'][0]:.1f}; "
          f"git HEAD {m.get('git_head', '?')[:7]}.\n")
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


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--summary", action="store_true",
                    help="print the summary JSON (meta, rows, extras; no raw samples)")
    ap.add_argument("result", help="a full result JSON or a summary")
    args = ap.parse_args(argv)
    with open(args.result, encoding="utf-8") as f:
        d = json.load(f)
    if args.summary:
        sys.stdout.write(dump_summary(
            summarize(d, d.get("summary_of", os.path.basename(args.result)))))
    else:
        render(d)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
