"""How an integration test passes, fails, skips or waits.

What it owns: SkipTest and the preconditions that raise it (root, a tool on PATH, a binary
the build passed in the environment), check/check_eq for assertions, wait_until for
polling live state, and log (timestamped lines on stderr that never fail the test).

Python 3.11 standard library only.
"""

import os
import shutil
import sys
import time

SKIP_EXIT_CODE = 77


class SkipTest(Exception):
    """A precondition (root, a tool, a built binary) is missing."""


def in_ci():
    return os.environ.get("CI", "").strip().lower() == "true"


def log(msg):
    try:
        sys.stderr.write(f"[{time.strftime('%H:%M:%S')}] {msg}\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass  # meson stopped reading (timeout): cleanup must go on regardless


def require_root():
    if os.geteuid() != 0:
        raise SkipTest("integration tests need root")


def which(name, extra_dirs=("/usr/sbin", "/sbin", "/usr/bin", "/bin")):
    path = shutil.which(name)
    if path:
        return path
    for d in extra_dirs:
        candidate = os.path.join(d, name)
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def require_tool(name):
    path = which(name)
    if path is None:
        raise SkipTest(f"required tool not found: {name}")
    return path


def require_built(env_name):
    """Path of a binary the build passed in the environment (UBCD, UBC_HOOK, ...)."""
    path = os.environ.get(env_name)
    if not path:
        raise SkipTest(f"{env_name} is not set (run through meson test)")
    if not os.access(path, os.X_OK):
        raise SkipTest(f"{env_name}={path} is not an executable (not built?)")
    return path


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def check_eq(actual, expected, what):
    if actual != expected:
        raise AssertionError(f"{what}: expected {expected!r}, got {actual!r}")


def wait_until(fn, timeout_s=10.0, interval_s=0.05, what="condition"):
    """Polls fn() until it returns a truthy value; returns it or raises AssertionError.

    `what` may be a callable: it is then called only on timeout, so a description that reads
    live state (an fd listing) does not race the condition being waited for."""
    deadline = time.monotonic() + timeout_s
    last_exc = None
    while True:
        try:
            value = fn()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - polled again until the deadline
            last_exc = exc
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_exc})" if last_exc else ""
            if callable(what):
                what = what()
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}{detail}")
        time.sleep(interval_s)
