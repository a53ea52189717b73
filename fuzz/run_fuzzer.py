#!/usr/bin/env python3
"""Runs one libFuzzer target briefly, as a meson test (suite 'fuzz', docs/fuzzing.md).

1. Replays the saved reproducers in --crashes (tests/fixtures/fuzz/crashes/<target>/), if any:
   each is a bug found earlier, and must stay fixed.
2. Fuzzes for --seconds, starting from the seeds in --seeds (tests/fixtures/fuzz/<target>/,
   never written to) and a fresh scratch corpus under --work. --seconds 0 only replays
   the seeds.

Exits non-zero on any crash, sanitizer report, leak, timeout or broken invariant, and
says where the reproducer is and how to rerun it.
"""
import argparse
import os
import shutil
import subprocess
import sys


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--fuzzer", required=True)
    p.add_argument("--seeds", required=True)
    p.add_argument("--crashes", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--seconds", type=int, default=10)
    p.add_argument("--max-len", type=int, default=16384)
    args = p.parse_args()

    env = dict(os.environ)
    # Findings must fail the test; the build already uses -fno-sanitize-recover=all.
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:strict_string_checks=1")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")

    seeds = sorted(os.listdir(args.seeds)) if os.path.isdir(args.seeds) else []
    if not seeds:
        print(f"run_fuzzer: no seeds in {args.seeds}", file=sys.stderr)
        return 1

    corpus = os.path.join(args.work, "corpus")
    artifacts = os.path.join(args.work, "artifacts")
    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(corpus)
    os.makedirs(artifacts)
    prefix = artifacts + os.sep
    # No -max_len here: libFuzzer would cut longer reproducers down to it.
    common = [f"-artifact_prefix={prefix}", "-timeout=25", "-rss_limit_mb=2560"]

    if os.path.isdir(args.crashes):
        saved = [os.path.join(args.crashes, f) for f in sorted(os.listdir(args.crashes))]
        saved = [f for f in saved if os.path.isfile(f)]
        if saved:
            print(f"run_fuzzer: replaying {len(saved)} saved reproducer(s) from {args.crashes}",
                  flush=True)
            rc = subprocess.run([args.fuzzer, *common, *saved], env=env).returncode
            if rc != 0:
                print(f"run_fuzzer: a saved reproducer fails again (exit {rc}); rerun one with\n"
                      f"  {args.fuzzer} {args.crashes}/<file>", file=sys.stderr)
                return 1

    if args.seconds > 0:
        cmd = [args.fuzzer, *common, f"-max_len={args.max_len}", f"-max_total_time={args.seconds}",
               "-print_final_stats=1", corpus, args.seeds]
    else:
        cmd = [args.fuzzer, *common, "-runs=0", args.seeds]
    print("run_fuzzer: " + " ".join(cmd), flush=True)
    rc = subprocess.run(cmd, env=env).returncode
    if rc != 0:
        found = sorted(os.listdir(artifacts))
        print(f"run_fuzzer: finding (exit {rc}); reproducer(s) in {artifacts}: {found}",
              file=sys.stderr)
        for f in found:
            print(f"  rerun: {args.fuzzer} {os.path.join(artifacts, f)}", file=sys.stderr)
        print(f"  keep it as a regression input: copy it to {args.crashes}/", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
