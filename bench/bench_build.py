"""The bench's own binaries: compiling the bench programs, snapshotting the built ubcd and
ubc-hook (the build dir may be rebuilt while the suite runs), and copying a dynamic
program with its loader and libraries into the rootfs.

Imported by ubc_bench.py, which puts tests/integration (the integration-test
harness) on sys.path first.
"""

import os
import shutil
import subprocess
import time

from procs import run

PROGRAMS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "programs")


def compile_programs(outdir):
    """Compiles the bench programs with the system compiler (the same sources and flags
    bench/meson.build uses), so the suite does not depend on the state of the shared build
    dir's bench targets."""
    os.makedirs(outdir, exist_ok=True)
    cc = os.environ.get("CC", "cc")
    cxx = os.environ.get("CXX", "c++")
    jobs = [
        [cc, "-O2", "-Wall", "-Wextra", "-Werror", "-static", "-pthread", "-o",
         f"{outdir}/ubc-bench-work", f"{PROGRAMS}/ubc_bench_work.c"],
        [cc, "-O2", "-Wall", "-Wextra", "-Werror", "-pthread", "-o",
         f"{outdir}/ubc-bench-responder", f"{PROGRAMS}/ubc_bench_responder.c"],
        [cc, "-O2", "-Wall", "-Wextra", "-Werror", "-o", f"{outdir}/ubc-bench-filter",
         f"{PROGRAMS}/ubc_bench_filter.c", "-lseccomp"],
        [cc, "-O2", "-Wall", "-Wextra", "-Werror", "-o", f"{outdir}/ubc-bench-procread",
         f"{PROGRAMS}/ubc_bench_procread.c"],
        [cxx, "-O2", "-Wall", "-Werror", "-o", f"{outdir}/ubc-bench-hello",
         f"{PROGRAMS}/ubc_bench_hello.cc"],
    ]
    for argv in jobs:
        run(argv, timeout_s=120)
    return {name: os.path.join(outdir, name) for name in
            ("ubc-bench-work", "ubc-bench-responder", "ubc-bench-filter", "ubc-bench-hello",
             "ubc-bench-procread")}


def sha256_file(path):
    import hashlib
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def snapshot_binary(path, outdir, tries=30):
    """Copies a built binary (retrying while a concurrent build rewrites it)."""
    dest = os.path.join(outdir, os.path.basename(path))
    for _ in range(tries):
        if os.access(path, os.X_OK):
            try:
                shutil.copy2(path, dest)
                if run([dest, "--help"], check_rc=False, timeout_s=10).returncode in (0, 1, 2):
                    return dest
            except (OSError, subprocess.SubprocessError):
                pass
        time.sleep(1)
    raise SystemExit(f"not built or not runnable: {path} (run ninja -C build)")


def add_dynamic_program(rootfs, binary, dest_rel):
    """Copies a dynamic binary into the rootfs with its loader and every library ldd lists,
    at the same paths."""
    dest = os.path.join(rootfs, dest_rel.lstrip("/"))
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    shutil.copy2(binary, dest)
    out = run(["ldd", binary]).stdout
    libs = []
    for line in out.splitlines():
        parts = line.split()
        if "=>" in parts:
            p = parts[parts.index("=>") + 1]
            if p.startswith("/"):
                libs.append(p)
        elif parts and parts[0].startswith("/"):
            libs.append(parts[0])
    for lib in libs:
        target = os.path.join(rootfs, lib.lstrip("/"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(os.path.realpath(lib), target)
    return libs
