"""Integration-test harness for ubc: real runc, crun, podman, containerd and a real ubcd.

What it owns: every temp dir, process, container and cgroup a test creates is registered
in one cleanup stack (`add_cleanup`) the moment it exists; `run_cleanups()` undoes them in
reverse order. The runner (run.py) calls it in a finally block, at exit, and on
SIGTERM/SIGINT/SIGHUP; it runs each test in a child outside meson's process group so that
meson's SIGKILL after a timeout cannot interrupt the cleanup.

Nothing here kills or deletes by name pattern: only the ids and pids this process created.

Thread-safety: none needed; tests are single-threaded (one meson test = one process).
Python 3.11 standard library only.
"""

import atexit
import json
import os
import random
import select
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time

PAGE_BYTES = 4096
SKIP_EXIT_CODE = 77
DEFAULT_TIMEOUT_S = 30.0
CGROUP_ROOT = "/sys/fs/cgroup"


# ---------------------------------------------------------------------------
# Outcome helpers


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


# ---------------------------------------------------------------------------
# Cleanup stack


class _Interrupted(BaseException):
    pass


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
    raise _Interrupted(f"signal {signum}")


def install_handlers():
    global _handlers_installed
    if _handlers_installed:
        return
    _handlers_installed = True
    atexit.register(run_cleanups)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, _on_signal)


# ---------------------------------------------------------------------------
# Temp dirs, ids, mounts


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


def fd_targets(pid):
    """What each open fd of a process points to (readlink of /proc/PID/fd/*). An fd closed
    between the listing and its readlink is left out."""
    d = f"/proc/{pid}/fd"
    targets = []
    for n in os.listdir(d):
        try:
            targets.append(os.readlink(f"{d}/{n}"))
        except OSError:
            pass
    return targets


def pids_where(match):
    """Pids of the running processes whose argv (a list of bytes) satisfies match(argv)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if match(argv):
            pids.append(int(entry))
    return pids


def kill_pid(pid, sig=signal.SIGKILL):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def stop_process(proc, sig=signal.SIGTERM, timeout_s=10.0):
    """Stops a Popen we started: sig, wait, then SIGKILL. Returns the exit code."""
    if proc.poll() is None:
        kill_pid(proc.pid, sig)
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            kill_pid(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    return proc.returncode


def read_text(path, limit_bytes=200_000):
    try:
        with open(path, "rb") as f:
            data = f.read()
        return data[-limit_bytes:].decode("utf-8", "replace")
    except OSError:
        return ""


def tail(text, lines=40):
    return "\n".join(text.splitlines()[-lines:])


def run(argv, timeout_s=60.0, check_rc=True, **kw):
    """subprocess.run with captured text output; raises with both streams on failure."""
    res = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         timeout=timeout_s, check=False, **kw)
    if check_rc and res.returncode != 0:
        raise AssertionError(f"command failed (rc {res.returncode}): {' '.join(argv)}\n"
                             f"stdout: {tail(res.stdout)}\nstderr: {tail(res.stderr)}")
    return res


# ---------------------------------------------------------------------------
# Rootfs and bundles


def _is_static_elf(path):
    """True if the ELF file has no PT_INTERP program header."""
    with open(path, "rb") as f:
        head = f.read(64)
        if head[:4] != b"\x7fELF" or head[4] != 2:  # 64-bit only
            return False
        little = head[5] == 1
        order = "little" if little else "big"
        phoff = int.from_bytes(head[32:40], order)
        phentsize = int.from_bytes(head[54:56], order)
        phnum = int.from_bytes(head[56:58], order)
        f.seek(phoff)
        for _ in range(phnum):
            ph = f.read(phentsize)
            if int.from_bytes(ph[0:4], order) == 3:  # PT_INTERP
                return False
    return True


def find_static_busybox():
    for candidate in (which("busybox"), "/bin/busybox", "/usr/bin/busybox"):
        if candidate and os.path.exists(candidate) and _is_static_elf(candidate):
            return candidate
    raise SkipTest("a static busybox is needed (apt-get install busybox-static)")


def build_rootfs(dest, probe_path):
    """A minimal rootfs: static busybox with its applet links, one-line passwd/group,
    /tmp, and the probe at /bin/ubc-probe. About 3 MB."""
    busybox = find_static_busybox()
    for d in ("bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "root",
              "tmp", "run", "var/tmp"):
        os.makedirs(os.path.join(dest, d), exist_ok=True)
    os.chmod(os.path.join(dest, "tmp"), 0o1777)
    os.chmod(os.path.join(dest, "var/tmp"), 0o1777)
    shutil.copy2(busybox, os.path.join(dest, "bin/busybox"))
    os.chmod(os.path.join(dest, "bin/busybox"), 0o755)
    # `busybox --install -s` equivalent: one symlink per applet at its usual place.
    listing = run([busybox, "--list-full"], check_rc=False)
    applets = listing.stdout.split() if listing.returncode == 0 else []
    if not applets:
        applets = ["bin/" + a for a in run([busybox, "--list"]).stdout.split()]
    for rel in applets:
        rel = rel.lstrip("/")
        if rel == "bin/busybox":
            continue
        link = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(link), exist_ok=True)
        if not os.path.lexists(link):
            os.symlink("/bin/busybox", link)
    with open(os.path.join(dest, "etc/passwd"), "w", encoding="utf-8") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\n")
    with open(os.path.join(dest, "etc/group"), "w", encoding="utf-8") as f:
        f.write("root:x:0:\n")
    shutil.copy2(probe_path, os.path.join(dest, "bin/ubc-probe"))
    os.chmod(os.path.join(dest, "bin/ubc-probe"), 0o755)
    return dest


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def read_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def make_bundle(bundle_dir, rootfs, args, annotations=None, spec_tool=None, hostname="ubct"):
    """`runc spec` (or crun spec), then: terminal false, process.args, absolute
    writable root, annotations. linux.resources and the network namespace stay."""
    os.makedirs(bundle_dir, exist_ok=True)
    tool = spec_tool or which("runc") or which("crun")
    if tool is None:
        raise SkipTest("runc or crun is needed to generate a bundle spec")
    run([tool, "spec"], cwd=bundle_dir)
    path = os.path.join(bundle_dir, "config.json")
    cfg = read_json(path)
    cfg["process"]["terminal"] = False
    cfg["process"]["args"] = list(args)
    cfg["root"] = {"path": os.path.abspath(rootfs), "readonly": False}
    cfg["hostname"] = hostname
    if annotations:
        cfg.setdefault("annotations", {}).update(annotations)
    write_json(path, cfg)
    return path


def ubc_annotations(privvmpages=None, profile=None, extra=None):
    ann = {}
    if privvmpages is not None:
        ann["ubc.privvmpages"] = privvmpages
    if profile is not None:
        ann["ubc.profile"] = profile
    if extra:
        ann.update(extra)
    return ann


def free_port():
    """A TCP port free on 127.0.0.1 right now (bind to port 0, read it, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---------------------------------------------------------------------------
# ubcd


class Ubcd:
    """One ubcd in the foreground with a per-test config, listener and state in workdir."""

    def __init__(self, binary, workdir, defaults=None, retire_after_seconds=300,
                 log_level=None, extra_config=None):
        self.binary = binary
        self.workdir = workdir
        self.listener_path = os.path.join(workdir, "ubcd.sock")
        self.status_path = os.path.join(workdir, "status.sock")
        self.state_dir = os.path.join(workdir, "state")
        self.containers_dir = os.path.join(workdir, "containers")
        self.config_path = os.path.join(workdir, "ubcd.json")
        self.log_path = os.path.join(workdir, "ubcd.log")
        os.makedirs(self.state_dir, exist_ok=True)
        os.makedirs(self.containers_dir, exist_ok=True)
        self.config = {
            "listener_path": self.listener_path,
            "status_path": self.status_path,
            "state_dir": self.state_dir,
            "containers_dir": self.containers_dir,
            "defaults": defaults or {"privvmpages": "65536:69632", "profile": "bc2006"},
            "retire_after_seconds": retire_after_seconds,
            "log_level": log_level or os.environ.get("UBCT_LOG_LEVEL", "info"),
            # Own port and token file: never the shared default 8765 or /etc/ubc/api-token.
            "rest": {"port": free_port(), "token_file": os.path.join(workdir, "api-token")},
        }
        if extra_config:
            self.config.update(extra_config)
        write_json(self.config_path, self.config)
        self.rest_url = f"http://127.0.0.1:{self.config['rest']['port']}"
        self.token_path = self.config["rest"]["token_file"]
        self.proc = None
        self._token = None

    def start(self, timeout_s=10.0):
        logf = open(self.log_path, "ab")  # noqa: SIM115 - owned by the Popen below
        try:
            self.proc = subprocess.Popen([self.binary, "--config", self.config_path],
                                         stdin=subprocess.DEVNULL, stdout=logf, stderr=logf)
        finally:
            logf.close()
        self._token = add_cleanup(f"stop ubcd {self.proc.pid}", self._cleanup)
        add_debug_dump(f"ubcd log {self.log_path} (last 80 lines)",
                       lambda: tail(self.log(), 80))
        deadline = time.monotonic() + timeout_s
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"ubcd exited with {self.proc.returncode} before its "
                                     f"socket appeared:\n{tail(self.log())}")
            try:
                if stat.S_ISSOCK(os.stat(self.listener_path).st_mode):
                    break
            except FileNotFoundError:
                pass
            if time.monotonic() >= deadline:
                raise AssertionError(f"ubcd socket {self.listener_path} did not appear in "
                                     f"{timeout_s}s:\n{tail(self.log())}")
            time.sleep(0.02)
        # The REST API starts right after the listener; "ready" includes it (or its
        # logged failure), so a test never races its threads and fds.
        if self.config.get("rest", {}).get("enabled", True):
            while "rest api " not in self.log():
                if self.proc.poll() is not None or time.monotonic() >= deadline:
                    raise AssertionError(f"ubcd did not report its REST API in {timeout_s}s:\n"
                                         f"{tail(self.log())}")
                time.sleep(0.02)
        log(f"ubcd pid {self.proc.pid} ready at {self.listener_path}")
        return self

    def _cleanup(self):
        if self.proc is not None and self.proc.poll() is None:
            stop_process(self.proc, signal.SIGTERM, timeout_s=10)
        if self.proc is not None and os.environ.get("UBCT_VERBOSE"):
            log(f"ubcd log:\n{tail(self.log(), 200)}")

    def stop(self, sig=signal.SIGTERM, timeout_s=10.0):
        rc = stop_process(self.proc, sig, timeout_s)
        if self._token is not None:
            remove_cleanup(self._token)
            self._token = None
        return rc

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log(self):
        return read_text(self.log_path)

    def refusal_lines(self, container_id=None):
        lines = [ln for ln in self.log().splitlines() if "refused" in ln]
        if container_id is not None:
            lines = [ln for ln in lines if container_id in ln]
        return lines

    def status_text(self):
        return run([self.binary, "--status", "--config", self.config_path],
                   timeout_s=20).stdout

    def status_json(self):
        res = run([self.binary, "--status", "--json", "--config", self.config_path],
                  timeout_s=20)
        try:
            return json.loads(res.stdout)
        except json.JSONDecodeError as exc:
            raise AssertionError(f"ubcd --status --json printed no JSON ({exc}):\n"
                                 f"{res.stdout}") from exc

    def container(self, container_id):
        """The status JSON entry of one container, or None."""
        for c in self.status_json().get("containers", []):
            if c.get("id") == container_id:
                return c
        return None

    def require_container(self, container_id):
        c = self.container(container_id)
        if c is None:
            raise AssertionError(f"container {container_id} not in ubcd status:\n"
                                 f"{json.dumps(self.status_json(), indent=1)}\n"
                                 f"ubcd log:\n{tail(self.log())}")
        return c

    def privvm(self, container_id):
        return self.require_container(container_id)["privvmpages"]

    def wait_container(self, container_id, pred=lambda c: True, timeout_s=10.0,
                       what="container in ubcd status"):
        def probe():
            c = self.container(container_id)
            return c if c is not None and pred(c) else None
        return wait_until(probe, timeout_s, what=f"{what} ({container_id})")

    def debug_dump(self):
        log(f"ubcd log ({self.log_path}):\n{tail(self.log(), 80)}")


def write_hook_settings(path, ubcd, opt_in="annotated", runtime=None, runtime_args=None):
    settings = {
        "listener_path": ubcd.listener_path,
        "containers_dir": ubcd.containers_dir,
        "opt_in": opt_in,
        "runtime": runtime or which("runc") or "/usr/bin/runc",
        "runtime_args": list(runtime_args or []),
    }
    write_json(path, settings)
    return path


def hook_patch(hook, bundle, settings, container_id):
    return run([hook, "patch", bundle, "--settings", settings, "--id", container_id],
               timeout_s=30)


# ---------------------------------------------------------------------------
# Talking to a probe over pipes


class ProbeChannel:
    """Line protocol with ubc-probe over a Popen's stdin/stdout: one command line in,
    one result line out."""

    def __init__(self, proc, label, stderr_path=None):
        self.proc = proc
        self.label = label
        self.stderr_path = stderr_path
        self._buf = b""

    def _describe_exit(self):
        err = read_text(self.stderr_path) if self.stderr_path else ""
        return f"{self.label} exited (rc {self.proc.poll()}); stderr:\n{tail(err)}"

    def send(self, line):
        try:
            self.proc.stdin.write((line + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise AssertionError(f"cannot send {line!r}: {exc}; {self._describe_exit()}") \
                from exc

    def read_line(self, timeout_s=DEFAULT_TIMEOUT_S, what="a reply"):
        deadline = time.monotonic() + timeout_s
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {what} from {self.label} within {timeout_s}s "
                                     f"(partial {self._buf!r})")
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                raise AssertionError(f"EOF waiting for {what}; {self._describe_exit()}")
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return line.decode("utf-8", "replace").strip()

    def cmd(self, line, timeout_s=DEFAULT_TIMEOUT_S):
        """Sends one command and returns its result line."""
        self.send(line)
        reply = self.read_line(timeout_s, what=f"reply to {line!r}")
        log(f"{self.label}: {line} -> {reply}")
        return reply

    def ok(self, line, timeout_s=DEFAULT_TIMEOUT_S):
        """Sends a command that must succeed; returns the fields after "ok"."""
        reply = self.cmd(line, timeout_s)
        fields = reply.split()
        if not fields or fields[0] != "ok":
            raise AssertionError(f"{self.label}: expected ok for {line!r}, got {reply!r}")
        return fields[1:]

    def err(self, line, expected="ENOMEM", timeout_s=DEFAULT_TIMEOUT_S):
        reply = self.cmd(line, timeout_s)
        if reply != f"err {expected}":
            raise AssertionError(f"{self.label}: expected 'err {expected}' for {line!r}, "
                                 f"got {reply!r}")
        return reply

    def statm(self):
        return int(self.ok("statm")[0])

    def pid(self):
        return int(self.ok("pid")[0])

    def close(self, timeout_s=10.0):
        """Asks the probe to exit and waits for the process (runc run / exec) to end."""
        if self.proc.poll() is None:
            try:
                self.send("exit")
                self.read_line(timeout_s=5, what="exit reply")
            except AssertionError:
                pass
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                pass
        return self.proc.poll()


def pages(n):
    """Probe size argument for n pages."""
    return f"{int(n)}P"


# ---------------------------------------------------------------------------
# Runtimes: runc directly, crun through the cgroup2 mount-namespace wrapper

CRUN_WRAPPER = """#!/bin/sh
# crun refuses the hybrid cgroup layout of this host: run every crun command in a private
# mount namespace where /sys/fs/cgroup is a plain cgroup2 mount (the host's unified
# hierarchy), by default without a cgroup manager.
exec unshare -m sh -c 'umount -l /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup && exec {crun} --cgroup-manager={manager} "$@"' crun "$@"
"""


class Runtime:
    """An OCI runtime command line with its own state root (hermetic: our containers are
    the only ones under it)."""

    def __init__(self, name, argv, spec_tool, binary):
        self.name = name
        self.argv = argv
        self.spec_tool = spec_tool
        self.binary = binary

    def cmd(self, *args):
        return list(self.argv) + list(args)

    def state(self, container_id):
        res = run(self.cmd("state", container_id), check_rc=False, timeout_s=20)
        if res.returncode != 0:
            return None
        return json.loads(res.stdout)

    def list_ids(self):
        res = run(self.cmd("list", "-q"), check_rc=False, timeout_s=20)
        return res.stdout.split() if res.returncode == 0 else []

    def delete(self, container_id):
        run(self.cmd("delete", "-f", container_id), check_rc=False, timeout_s=30)


def make_runtime(name, workdir, cgroup_manager="disabled"):
    """cgroup_manager (crun only): "cgroupfs" gives the container a cgroup of its own in
    the cgroup2 hierarchy; its bundle must then have no linux.resources (crun's device
    filter needs a RLIMIT_MEMLOCK root cannot raise here)."""
    state_root = os.path.join(workdir, f"{name}-state")
    os.makedirs(state_root, exist_ok=True)
    if name == "runc":
        runc = require_tool("runc")
        return Runtime("runc", [runc, "--root", state_root], runc, runc)
    if name == "crun":
        crun = require_tool("crun")
        require_tool("unshare")
        wrapper = os.path.join(workdir, f"crun-wrapper-{cgroup_manager}.sh")
        with open(wrapper, "w", encoding="utf-8") as f:
            f.write(CRUN_WRAPPER.format(crun=crun, manager=cgroup_manager))
        os.chmod(wrapper, 0o755)
        return Runtime("crun", [wrapper, "--root", state_root], crun, crun)
    raise ValueError(f"unknown runtime {name}")


class Container:
    """A container run in the foreground by `<runtime> run --bundle B ID`; its init is the
    probe, talked to over the run command's stdin/stdout."""

    def __init__(self, runtime, bundle, container_id, workdir):
        self.runtime = runtime
        self.bundle = bundle
        self.id = container_id
        self.workdir = workdir
        self.proc = None
        self.probe = None
        self.execs = []
        self._token = None

    def start(self):
        err_path = os.path.join(self.workdir, f"{self.id}.run.stderr")
        errf = open(err_path, "ab")  # noqa: SIM115 - owned by the Popen below
        try:
            self.proc = subprocess.Popen(
                self.runtime.cmd("run", "--bundle", self.bundle, self.id),
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errf)
        finally:
            errf.close()
        self._token = add_cleanup(f"delete {self.runtime.name} container {self.id}",
                                  self.cleanup)
        self.probe = ProbeChannel(self.proc, f"{self.runtime.name}:{self.id}", err_path)
        add_debug_dump(f"{self.runtime.name} run {self.id} stderr",
                       lambda: tail(read_text(err_path)))
        return self

    def wait_ready(self, timeout_s=DEFAULT_TIMEOUT_S):
        """The container is up once the probe echoes."""
        self.probe.ok("echo ready", timeout_s=timeout_s)
        return self

    def host_pid(self):
        st = self.runtime.state(self.id)
        return int(st["pid"]) if st else None

    def exec_probe(self, args=("/bin/ubc-probe",)):
        """`<runtime> exec ID /bin/ubc-probe`: a second probe in the same container."""
        n = len(self.execs) + 1
        err_path = os.path.join(self.workdir, f"{self.id}.exec{n}.stderr")
        errf = open(err_path, "ab")  # noqa: SIM115 - owned by the Popen below
        try:
            proc = subprocess.Popen(self.runtime.cmd("exec", self.id, *args),
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=errf)
        finally:
            errf.close()
        channel = ProbeChannel(proc, f"{self.runtime.name}:{self.id}:exec{n}", err_path)
        add_debug_dump(f"{self.runtime.name} exec {self.id} #{n} stderr",
                       lambda: tail(read_text(err_path)))
        self.execs.append(channel)
        return channel

    def stop(self):
        """Ends the probe(s) normally and waits for the run command."""
        for ch in self.execs:
            ch.close()
        if self.probe is not None:
            self.probe.close()

    def cleanup(self):
        for ch in self.execs:
            if ch.proc.poll() is None:
                kill_pid(ch.proc.pid, signal.SIGKILL)
        self.runtime.delete(self.id)
        if self.proc is not None:
            if self.proc.poll() is None:
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    kill_pid(self.proc.pid, signal.SIGKILL)
                    self.proc.wait(timeout=10)
            for stream in (self.proc.stdin, self.proc.stdout):
                try:
                    stream.close()
                except (OSError, AttributeError):
                    pass
        for ch in self.execs:
            try:
                ch.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        # runc without cgroupsPath uses /<id> in every hierarchy (unified/<id> included).
        remove_cgroup_dirs(self.id)


# ---------------------------------------------------------------------------
# A session: temp dir + rootfs + ubcd + runtime + hook settings


class Session:
    """Everything one test needs for runc/crun containers supervised by a real ubcd."""

    def __init__(self, runtime_name="runc", ubcd_defaults=None, opt_in="annotated",
                 start_ubcd=True, need_hook=True):
        require_root()
        self.runtime_name = runtime_name
        self.workdir = make_temp_dir("ubct")
        self.probe_path = require_built("UBC_PROBE")
        self.ubcd_path = require_built("UBCD") if start_ubcd else os.environ.get("UBCD")
        self.hook_path = require_built("UBC_HOOK") if need_hook else os.environ.get("UBC_HOOK")
        self.runtime = make_runtime(runtime_name, self.workdir)
        self.rootfs = build_rootfs(os.path.join(self.workdir, "rootfs"), self.probe_path)
        self.ubcd = None
        if start_ubcd:
            self.ubcd = Ubcd(self.ubcd_path, os.path.join(self.workdir, "ubcd"),
                             defaults=ubcd_defaults).start()
            self.settings_path = write_hook_settings(
                os.path.join(self.workdir, "hook-settings.json"), self.ubcd, opt_in=opt_in,
                runtime=self.runtime.binary)
        self.containers = []

    def new_bundle(self, container_id, args=("/bin/ubc-probe",), annotations=None):
        bundle = os.path.join(self.workdir, "bundles", container_id)
        make_bundle(bundle, self.rootfs, args, annotations=annotations,
                    spec_tool=self.runtime.spec_tool)
        return bundle

    def container(self, privvmpages=None, profile=None, annotations=None,
                  args=("/bin/ubc-probe",), patch=True, wait=True):
        """Creates a bundle (annotated when privvmpages/profile are given), patches it with
        `ubc-hook patch`, runs it and waits for the probe."""
        cid = unique_id()
        ann = ubc_annotations(privvmpages, profile, annotations)
        bundle = self.new_bundle(cid, args=args, annotations=ann)
        if patch:
            hook_patch(self.hook_path, bundle, self.settings_path, cid)
        c = Container(self.runtime, bundle, cid, self.workdir).start()
        self.containers.append(c)
        if wait:
            try:
                c.wait_ready()
            except AssertionError:
                if self.ubcd is not None:
                    self.ubcd.debug_dump()
                raise
        return c

    def supervised(self, privvmpages, profile=None):
        """A probe container under ubc with the given privvmpages; waits until ubcd lists it."""
        c = self.container(privvmpages=privvmpages, profile=profile)
        self.ubcd.wait_container(c.id)
        return c


def parse_vz_pages(value):
    """vzctl-style value to pages (for checking what ubcd reports)."""
    v = value.strip()
    if v == "unlimited":
        return 9223372036854775807
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    suffix = v[-1].upper()
    if suffix in units:
        return int(float(v[:-1]) * units[suffix]) // PAGE_BYTES
    if suffix == "P":
        return int(v[:-1])
    if suffix == "B":
        return int(v[:-1]) // PAGE_BYTES
    return int(v)


def parse_ubc_table(text):
    """Parses /proc/user_beancounters text into {ctid: {resource: [held, maxheld, barrier,
    limit, failcnt]}}; checks line 1 and the header."""
    lines = text.splitlines()
    check(lines and lines[0] == "Version: 2.5", f"line 1 is not 'Version: 2.5': {lines[:1]}")
    check(len(lines) >= 2 and lines[1].split()[:2] == ["uid", "resource"],
          f"bad header line: {lines[1:2]}")
    table = {}
    current = None
    for line in lines[2:]:
        if not line.strip():
            continue
        head = line[:10]
        if head.strip():
            check(head.strip().endswith(":") or len(line.split()[0]) > 10,
                  f"uid cell without ':': {line!r}")
        first = line.split()[0]
        if first.endswith(":"):
            current = first[:-1]
            table[current] = {}
            rest = line.split()[1:]
        else:
            rest = line.split()
        check(current is not None, f"row before any container: {line!r}")
        check(len(rest) == 6, f"row does not have 6 columns after the uid: {line!r}")
        table[current][rest[0]] = [int(x) for x in rest[1:]]
    return table


def unix_socket_exists(path):
    try:
        return stat.S_ISSOCK(os.stat(path).st_mode)
    except FileNotFoundError:
        return False
