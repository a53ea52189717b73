#!/usr/bin/python3
"""Runs one integration test function: `run.py MODULE NAME` calls MODULE.test_NAME().

`run.py --list` prints "meson_name module function parallel|serial timeout_s" per test,
for tests/meson.build (a module's SERIAL and TIMEOUT_S, default 120 s). Exit codes: 0 pass, 1 fail, 77 skip (meson's SKIP). With CI=true a skip
is a failure: integration tests never skip in CI.

The test runs in a forked child in its own session. On a timeout meson sends SIGTERM to
the test's process group and SIGKILL half a second later, too soon to delete containers;
the child is outside that group, gets SIGTERM from the parent (or notices the parent's
death through a pipe) and cleans up whatever it created before exiting.
"""

import importlib
import os
import signal
import sys
import threading
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from cleanup import dump_debug, install_handlers, run_cleanups  # noqa: E402
from outcome import SKIP_EXIT_CODE, SkipTest, in_ci, log  # noqa: E402


def test_modules():
    return sorted(f[:-3] for f in os.listdir(HERE) if f.startswith("test_") and f.endswith(".py"))


def list_tests():
    for mod_name in test_modules():
        mod = importlib.import_module(mod_name)
        prefix = getattr(mod, "MESON_PREFIX", mod_name[len("test_"):])
        for name in sorted(vars(mod)):
            if name.startswith("test_") and callable(getattr(mod, name)):
                short = name[len("test_"):]
                flags = "serial" if getattr(mod, "SERIAL", False) else "parallel"
                timeout_s = getattr(mod, "TIMEOUT_S", 120)
                print(f"{prefix}_{short} {mod_name} {short} {flags} {timeout_s}")


def run_test(mod_name, short):
    install_handlers()
    try:
        try:
            mod = importlib.import_module(mod_name)
            fn = getattr(mod, "test_" + short)
            log(f"=== {mod_name}.test_{short}")
            try:
                fn()
            except SkipTest:
                raise
            except BaseException:
                dump_debug()
                raise
        finally:
            run_cleanups()
    except SkipTest as exc:
        if in_ci():
            log(f"FAIL (CI=true, a missing precondition is a failure): {exc}")
            return 1
        log(f"SKIP: {exc}")
        return SKIP_EXIT_CODE
    except AssertionError as exc:
        traceback.print_exc()
        log(f"FAIL: {exc}")
        return 1
    except BaseException as exc:  # noqa: BLE001 - signals and crashes are failures too
        traceback.print_exc()
        log(f"ERROR: {exc!r}")
        return 1
    log("PASS")
    return 0


def _watch_parent(read_fd):
    """Child side: EOF on the pipe means the parent is gone (killed): clean up and exit."""
    try:
        os.read(read_fd, 1)
    except OSError:
        pass
    os.kill(os.getpid(), signal.SIGTERM)


def main(argv):
    if len(argv) == 2 and argv[1] == "--list":
        list_tests()
        return 0
    if len(argv) != 3:
        sys.stderr.write("usage: run.py MODULE NAME | run.py --list\n")
        return 2
    sys.stdout.flush()
    sys.stderr.flush()
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(write_fd)
        os.setsid()
        threading.Thread(target=_watch_parent, args=(read_fd,), daemon=True).start()
        rc = 1
        try:
            rc = run_test(argv[1], argv[2])
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(rc)
    os.close(read_fd)

    def forward(signum, _frame):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, forward)
    _, status = os.waitpid(pid, 0)
    os.close(write_fd)
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
