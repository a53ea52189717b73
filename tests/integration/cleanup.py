"""Everything a test creates is undone: the cleanup stack, temp dirs, ids and cgroups.

What it owns: every temp dir, process, container and cgroup a test creates is registered
in one cleanup stack (`add_cleanup`) the moment it exists; `run_cleanups()` undoes them in
reverse order. The runner (run.py) calls it in a finally block, at exit, and on
SIGTERM/SIGINT/SIGHUP (`install_handlers`; the signal raises `Interrupted`); it runs each
test in a child outside meson's process group so that meson's SIGKILL after a timeout
cannot interrupt the cleanup. Debug dumps (`add_debug_dump`) are printed on failure, before
the cleanup. Also here: unique ids for what a test names, temp dirs (removed through the
stack, never across a mount) and the removal of a container's cgroup dirs.

Nothing here kills or deletes by name pattern: only the ids and pids this process created.

Thread-safety: none needed; tests are single-threaded (one meson test = one process).
Python 3.11 standard library only.
"""

import atexit
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile

from outcome import log

CGROUP_ROOT = "/sys/fs/cgroup"


class Interrupted(BaseException):
    """Raised by the signal handler: unwinds the test so that the cleanup runs."""


_cleanups = []  # (token, label, fn)
_next_token = 0
_cleaning = False
_handlers_installed = False


def add_cleanup(label, fn):
    """Registers fn() to run at cleanup (LIFO). Returns a token for remove_cleanup."""
    global _next_token
    _next_token += 1
    _cleanups.append((_next_token, label, fn))
    return _next_token


def remove_cleanup(token):
    for i, entry in enumerate(_cleanups):
        if entry[0] == token:
            del _cleanups[i]
            return


def run_cleanups():
    global _cleaning
    if _cleaning:
        return
    _cleaning = True
    try:
        # A second signal during cleanup must not abort it half-way.
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            try:
                signal.signal(sig, signal.SIG_IGN)
            except (ValueError, OSError):
                pass
        while _cleanups:
            _, label, fn = _cleanups.pop()
            try:
                fn()
            except Exception as exc:  # noqa: BLE001 - keep cleaning the rest
                log(f"cleanup '{label}' failed: {exc!r}")
    finally:
        _cleaning = False


_debug_dumps = []  # (label, fn returning text)


def add_debug_dump(label, fn):
    """Registers fn() -> str, printed to stderr when the test fails (before cleanup)."""
    _debug_dumps.append((label, fn))


def dump_debug():
    for label, fn in _debug_dumps:
        try:
            text = fn()
        except Exception as exc:  # noqa: BLE001 - diagnostics only
            text = f"(unavailable: {exc!r})"
        if text and text.strip():
            try:
                sys.stderr.write(f"----- {label} -----\n{text.rstrip()}\n")
            except (OSError, ValueError):
                return
    try:
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def _on_signal(signum, _frame):
    log(f"received signal {signum}; cleaning up")
    raise Interrupted(f"signal {signum}")


def install_handlers():
    global _handlers_installed
    if _handlers_installed:
        return
    _handlers_installed = True
    atexit.register(run_cleanups)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, _on_signal)


_id_counter = 0


def unique_id(prefix="ubct"):
    global _id_counter
    _id_counter += 1
    return f"{prefix}-{os.getpid()}-{_id_counter}-{random.randrange(16**4):04x}"


def _mounts_under(path):
    path = os.path.realpath(path)
    found = []
    try:
        with open("/proc/self/mountinfo", encoding="utf-8") as f:
            for line in f:
                fields = line.split()
                mnt = fields[4].encode().decode("unicode_escape")
                if mnt == path or mnt.startswith(path + "/"):
                    found.append(mnt)
    except OSError:
        pass
    return found


def safe_rmtree(path):
    """Removes a tree after lazily unmounting anything mounted inside it (deepest
    first), so a leftover bind mount can never make rmtree walk into the host."""
    if not os.path.lexists(path):
        return
    for mnt in sorted(_mounts_under(path), key=len, reverse=True):
        subprocess.run(["umount", "-l", mnt], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False)
    if _mounts_under(path):
        log(f"not removing {path}: still has mounts {_mounts_under(path)}")
        return
    shutil.rmtree(path, ignore_errors=True)


def make_temp_dir(label="ubct"):
    """A fresh dir under /tmp (short: unix socket paths must stay < 108 bytes)."""
    d = tempfile.mkdtemp(prefix=f"{label}-", dir="/tmp")
    os.chmod(d, 0o755)
    if os.environ.get("UBCT_KEEP"):
        add_cleanup(f"keep {d}", lambda: log(f"UBCT_KEEP set: leaving {d}"))
    else:
        add_cleanup(f"rm {d}", lambda: safe_rmtree(d))
    return d


def remove_cgroup_dirs(relative):
    """rmdir's /sys/fs/cgroup/*/<relative> (and its empty children), bottom-up. Only
    empty cgroups can be removed; a busy one stays and is reported."""
    relative = relative.strip("/")
    if not relative:
        return
    try:
        hierarchies = sorted(os.listdir(CGROUP_ROOT))
    except OSError:
        return
    for h in hierarchies:
        target = os.path.join(CGROUP_ROOT, h, relative)
        if not os.path.isdir(target):
            continue
        for dirpath, _dirnames, _files in os.walk(target, topdown=False):
            try:
                os.rmdir(dirpath)
            except OSError as exc:
                log(f"could not remove cgroup {dirpath}: {exc}")


def cgroup_dirs(relative):
    relative = relative.strip("/")
    out = []
    try:
        hierarchies = os.listdir(CGROUP_ROOT)
    except OSError:
        return out
    for h in hierarchies:
        target = os.path.join(CGROUP_ROOT, h, relative)
        if os.path.isdir(target):
            out.append(target)
    return out
