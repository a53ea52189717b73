"""The Debian package as an operator installs it.

debian/ is built with Debian's own tools (dpkg-buildpackage, debhelper's meson support;
DEB_BUILD_OPTIONS=nocheck, so only what is installed is compiled), lintian's verdict is
recorded in the log and must hold no error or warning, and the package is installed on
this machine with `apt-get install ./ubc_*.deb`. There is no systemd here: ubc-fdstore and
ubcd are started as their installed units would start them (ExecStart, with the unit's
RuntimeDirectory, Environment, UMask, NoNewPrivileges and CapabilityBoundingSet applied;
systemd-analyze checks the unit files). Without systemd the unit's systemd fd custody
falls back to the fd store process, which is what runs here. A podman container with
nothing but `--annotation ubc.privvmpages=64M` on its command line is supervised through
the installed hooks.d entry and refused past its barrier. `apt-get purge` then leaves
nothing behind: no file the package listed, no path named for ubc that was not there
before. The machine's ubcd-rest user is removed for the test so that the package's
postinst creates its own and purge removes it; it is recreated at the end.

The package's paths are the machine's (/etc/ubc, /run/ubc, REST port 8765), so the test
holds a machine-wide lock for its whole run, and it refuses to touch a ubc package it did
not install.
"""

import ctypes
import fcntl
import json
import os
import re
import shlex
import signal
import subprocess
import time
import types

from bundles import build_rootfs
from cleanup import add_cleanup, add_debug_dump, make_temp_dir
from engines import Podman, _spawn_logged, check_supervised
from files import read_text, tail
from outcome import check, check_eq, log, require_built, require_root, require_tool
from procs import run, stop_process
from ubcd import Ubcd

SERIAL = True
TIMEOUT_S = 900  # the package build compiles ubc once more (about 2 minutes on 2 cores)
BARRIER = 16384  # 64M in pages

# flock (not apt's fcntl locks) on a directory every Debian machine has: two runs of the
# suite on one machine take turns here.
LOCK_DIR = "/var/lib/dpkg"
# Where a package or its scripts may leave things (the user's home and /tmp are not it).
WATCHED = ["/etc", "/usr", "/lib/systemd", "/var/lib", "/run"]
# Test ids (ubct-...) of containers that concurrent runs on the machine may be running.
FOREIGN = re.compile(r"ubct-")

CAPABILITIES = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
    "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
    "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
]
NOT_INSTALLED = ("", "unknown ok not-installed", "purge ok not-installed")
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
CLONE_NEWNS = 0x00020000
MS_RDONLY, MS_REMOUNT, MS_BIND, MS_REC, MS_SLAVE = 1, 32, 4096, 16384, 1 << 19


def _package_status():
    res = run(["dpkg-query", "-W", "-f=${Status}", "ubc"], check_rc=False)
    return res.stdout.strip() if res.returncode == 0 else ""


def _ubc_paths():
    """Every path under WATCHED whose name mentions ubc (test containers' ids aside)."""
    found = set()
    for root in WATCHED:
        for dirpath, dirnames, filenames in os.walk(root):
            if dirpath.startswith("/run/user") or dirpath.startswith("/usr/src"):
                dirnames[:] = []
                continue
            for name in dirnames + filenames:
                if "ubc" in name and not FOREIGN.search(name):
                    found.add(os.path.join(dirpath, name))
    return found


def _user_state():
    """(user line, group line) of ubcd-rest as getent prints them, or empty strings."""
    return (run(["getent", "passwd", "ubcd-rest"], check_rc=False).stdout.strip(),
            run(["getent", "group", "ubcd-rest"], check_rc=False).stdout.strip())


def _restore_user():
    """ubcd-rest as scripts/setup.sh makes it, if it is missing (the other tests' REST
    process runs as it)."""
    if not _user_state()[0]:
        run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
             "--shell", "/usr/sbin/nologin", "ubcd-rest"])


def _source_tree(dest):
    """The source as a clone has it: what git tracks, plus files not yet committed and not
    ignored (never the build directories)."""
    src = os.environ.get("UBC_SOURCE_ROOT") or os.path.abspath(
        os.path.join(os.path.dirname(__file__), "..", ".."))
    listing = run(["git", "-C", src, "ls-files", "-z", "--cached", "--others",
                   "--exclude-standard"]).stdout
    names = [n for n in listing.split("\0") if n and os.path.lexists(os.path.join(src, n))]
    os.makedirs(dest)
    tar = subprocess.run(["tar", "-C", src, "--null", "-T", "-", "-cf", "-"],
                         input="\0".join(names).encode(), stdout=subprocess.PIPE,
                         check=True, timeout=120)
    subprocess.run(["tar", "-C", dest, "-xf", "-"], input=tar.stdout, check=True, timeout=120)
    return dest


def _build(workdir):
    tree = _source_tree(os.path.join(workdir, "src", "ubc"))
    build_log = os.path.join(workdir, "dpkg-buildpackage.log")
    env = dict(os.environ, DEB_BUILD_OPTIONS=f"nocheck parallel={os.cpu_count() or 1}")
    started = time.monotonic()
    with open(build_log, "wb") as out:
        rc = subprocess.run(["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=tree, env=env,
                            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                            timeout=TIMEOUT_S - 180, check=False).returncode
    check(rc == 0, f"dpkg-buildpackage failed (rc {rc}):\n{tail(read_text(build_log), 60)}")
    log(f"dpkg-buildpackage took {time.monotonic() - started:.0f} s")
    outdir = os.path.dirname(tree)
    debs = sorted(f for f in os.listdir(outdir) if re.fullmatch(r"ubc_[^_]+_[^_]+\.deb", f))
    changes = sorted(f for f in os.listdir(outdir) if f.endswith(".changes"))
    check_eq(len(debs), 1, f"ubc .deb files built ({os.listdir(outdir)})")
    check_eq(len(changes), 1, "ubc .changes files built")
    return outdir, os.path.join(outdir, debs[0]), os.path.join(outdir, changes[0])


def _lintian(changes):
    res = run(["lintian", "--display-info", "--pedantic", "--tag-display-limit", "0", changes],
              timeout_s=300, check_rc=False)
    tags = [ln for ln in res.stdout.splitlines() if re.match(r"[EWIPXON]: ", ln)]
    log("lintian --display-info --pedantic:\n" + ("\n".join(tags) or "(no tags)"))
    bad = [t for t in tags if t.startswith(("E: ", "W: "))]
    check(not bad and res.returncode == 0,
          f"lintian reports errors or warnings (rc {res.returncode}):\n" + "\n".join(bad)
          + f"\n{res.stderr}")


def _apt(*args, cwd=None):
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    return run(["apt-get", "-y", "-q", "-o", "DPkg::Lock::Timeout=300", *args], env=env,
               cwd=cwd, timeout_s=600)


def _unit(path):
    """The [Service] settings of a unit file (the last value of each key)."""
    settings, section = {}, None
    for line in read_text(path).splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
        elif section == "Service" and "=" in line:
            key, value = line.split("=", 1)
            settings[key.strip()] = value.strip()
    return settings


def _as_the_unit(unit):
    """What systemd would do between fork and exec for UNIT (those settings it has that
    this machine can apply; LimitNOFILE is above this machine's hard limit) and the
    environment it would set."""
    keep = set(unit.get("CapabilityBoundingSet", " ".join(CAPABILITIES)).split())
    unknown = keep - set(CAPABILITIES)
    check(not unknown, f"unknown capabilities in the unit: {unknown}")
    umask = int(unit.get("UMask", "0022"), 8)
    env = dict(os.environ)
    for assignment in shlex.split(unit.get("Environment", "")):
        key, value = assignment.split("=", 1)
        env[key] = value
    no_new_privs = unit.get("NoNewPrivileges") == "yes"
    # ProtectSystem=strict, ProtectHome=, PrivateTmp=: a mount namespace of the unit's
    # own, a slave of the host's, with the root file system read-only but for
    # ReadWritePaths (what of strict this test can do: submounts stay writable).
    own_namespace = any(unit.get(k, "no") not in ("no", "false")
                        for k in ("ProtectSystem", "ProtectHome", "PrivateTmp"))
    read_only_root = unit.get("ProtectSystem") == "strict"
    # systemd keeps the RuntimeDirectory writable too (created before the unit starts).
    writable = [p.encode() for p in unit.get("ReadWritePaths", "").split()]
    writable += [f"/run/{d}".encode() for d in unit.get("RuntimeDirectory", "").split()]
    libc = ctypes.CDLL(None, use_errno=True)

    def mount(source, target, flags):
        return libc.mount(source, target, None, ctypes.c_ulong(flags), None) == 0

    def preexec():
        os.setsid()
        if own_namespace:
            if libc.unshare(CLONE_NEWNS) != 0 or not mount(None, b"/", MS_REC | MS_SLAVE):
                os._exit(125)
            for path in writable:
                if not mount(path, path, MS_BIND):
                    os._exit(125)
            if read_only_root and not mount(None, b"/", MS_REMOUNT | MS_BIND | MS_RDONLY):
                os._exit(125)
        os.umask(umask)
        for number, name in enumerate(CAPABILITIES):
            if name not in keep and libc.prctl(PR_CAPBSET_DROP, number, 0, 0, 0) != 0:
                if ctypes.get_errno() != 22:  # EINVAL: this kernel has no such capability
                    os._exit(126)
        if no_new_privs and libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            os._exit(126)

    return preexec, env


def _runtime_directory(unit):
    for name in unit.get("RuntimeDirectory", "").split():
        path = os.path.join("/run", name)
        os.makedirs(path, mode=0o755, exist_ok=True)


class _UnitUbcd(Ubcd):
    """The installed ubcd, started from its unit's ExecStart, read through the Ubcd
    helpers (status socket from the installed config, log in the test's dir)."""

    def __init__(self, argv, workdir, unit):
        check(len(argv) == 3 and argv[1] == "--config",
              f"ubcd.service runs ubcd --config FILE, not {argv}")
        self.binary, self.config_path = argv[0], argv[2]
        self.argv = argv
        self.unit = unit
        self.workdir = workdir
        self.log_path = os.path.join(workdir, "installed-ubcd.log")
        with open(self.config_path, encoding="utf-8") as f:
            self.config = json.load(f)
        self.listener_path = self.config["listener_path"]
        self.status_path = self.config["status_path"]
        self.containers_dir = self.config["containers_dir"]
        self.proc = None
        self._token = None

    def start(self, timeout_s=20.0, spawn=None):
        preexec, env = _as_the_unit(self.unit)
        return super().start(timeout_s, spawn=lambda argv, log_path: _spawn_logged(
            argv, log_path, preexec_fn=preexec, env=env))


def _start_fd_store(unit, workdir):
    argv = shlex.split(unit["ExecStart"])
    log_path = os.path.join(workdir, "installed-fdstore.log")
    preexec, env = _as_the_unit(unit)
    proc = _spawn_logged(argv, log_path, preexec_fn=preexec, env=env)
    add_cleanup(f"stop installed fd store {proc.pid}",
                lambda: proc.poll() is None and stop_process(proc, signal.SIGTERM, 10))
    add_debug_dump("installed fd store log", lambda: tail(read_text(log_path)))
    return proc


def test_install_run_purge():
    require_root()
    for tool in ("dpkg-buildpackage", "lintian", "apt-get", "systemd-analyze", "git"):
        require_tool(tool)
    podman_binary = require_tool("podman")
    runc = require_tool("runc")
    lock_fd = os.open(LOCK_DIR, os.O_RDONLY | os.O_DIRECTORY)
    add_cleanup("package test lock", lambda: os.close(lock_fd))
    fcntl.flock(lock_fd, fcntl.LOCK_EX)
    status = _package_status()
    check(status in NOT_INSTALLED,
          f"a ubc package is on this machine ({status!r}): this test installs and purges "
          "its own and leaves an operator's alone; remove it first")
    workdir = make_temp_dir("ubct-package")
    paths_before = _ubc_paths()
    user_before = _user_state()

    outdir, deb, changes = _build(workdir)
    _lintian(changes)

    # The package creates the REST process's user when missing, and purge removes only a
    # user it created: so the machine's (setup.sh's) goes for the while of this serial
    # test and comes back at its end whatever happens.
    add_cleanup("restore the ubcd-rest user", _restore_user)
    if user_before[0]:
        run(["userdel", "ubcd-rest"])
    if _user_state()[1]:
        run(["groupdel", "ubcd-rest"])

    def purge():
        if _package_status().startswith("install"):
            _apt("purge", "ubc")
    add_cleanup("purge the ubc package", purge)
    _apt("install", "./" + os.path.basename(deb), cwd=outdir)
    check(_package_status() == "install ok installed", "ubc installed")
    user, group = _user_state()
    fields = user.split(":")
    check(len(fields) == 7 and int(fields[2]) < 1000 and fields[5] == "/nonexistent"
          and fields[6].endswith("nologin") and group.startswith("ubcd-rest:"),
          f"the package's ubcd-rest: {user!r}, group {group!r}")
    check(os.path.exists("/var/lib/ubc/created-ubcd-rest"), "postinst's marker of its user")
    listed = run(["dpkg", "-L", "ubc"]).stdout.split()

    units = {u: f"/lib/systemd/system/{u}" for u in ("ubcd.service", "ubc-fdstore.service")}
    verify = run(["systemd-analyze", "verify", *units.values()], check_rc=False)
    check(verify.returncode == 0 and not (verify.stdout + verify.stderr).strip(),
          f"systemd-analyze verify:\n{verify.stdout}{verify.stderr}")
    for page in ("man8/ubcd.8", "man8/ubc-hook.8", "man1/ubcctl.1", "man8/ubc-runtime.8"):
        path = f"/usr/share/man/{page}.gz"
        check(path in listed and os.path.isfile(path), f"man page {path} installed")

    fdstore_unit, ubcd_unit = _unit(units["ubc-fdstore.service"]), _unit(units["ubcd.service"])
    # Under systemd the fds go to its store: only the main process may send them.
    check_eq(ubcd_unit.get("NotifyAccess"), "main", "ubcd.service NotifyAccess")
    check(int(ubcd_unit.get("FileDescriptorStoreMax", "0")) > 0,
          "ubcd.service enables systemd's fd store")
    _runtime_directory(fdstore_unit)
    _runtime_directory(ubcd_unit)
    fd_store = _start_fd_store(fdstore_unit, workdir)
    ubcd = _UnitUbcd(shlex.split(ubcd_unit["ExecStart"]), workdir, ubcd_unit).start()
    # Without systemd (no NOTIFY_SOCKET) the unit's UBCD_FD_CUSTODY=systemd falls back to
    # the fd store process: the one started from ubc-fdstore.service above.
    check("fd custody: the fd store at /run/ubc/fdstore.sock (UBCD_FD_CUSTODY=systemd but "
          "NOTIFY_SOCKET is not set" in ubcd.log(), f"fd custody:\n{tail(ubcd.log())}")

    rootfs = build_rootfs(os.path.join(workdir, "rootfs"), require_built("UBC_PROBE"))
    podman = Podman(workdir, runtime=runc, hooks_dir=Podman.SYSTEM_HOOKS)
    log(f"{podman_binary} with the system's hooks dirs: "
        f"{read_text('/usr/share/containers/oci/hooks.d/ubc-hook.json')}")
    c = podman.run_probe(rootfs, annotations={"ubc.privvmpages": "64M"})
    # The proc view, mounted from the unit's own mount namespace into the host's.
    meminfo = c.exec("cat", "/proc/meminfo").stdout
    check(re.search(rf"^MemTotal: +{BARRIER * 4} kB$", meminfo, re.M) is not None,
          f"/proc/meminfo in the podman container:\n{meminfo}")
    check("proc view: mounted in the mount namespace of ubcd's starter" in ubcd.log(),
          f"the installed ubcd did not mount the view from its own namespace:\n"
          f"{tail(ubcd.log())}")
    check_supervised(types.SimpleNamespace(ubcd=ubcd), c, BARRIER)
    c.stop()

    # As `systemctl stop` would before removal: ubcd first, then its fd store.
    check_eq(ubcd.stop(), 0, "installed ubcd's exit status at SIGTERM")
    check_eq(stop_process(fd_store, signal.SIGTERM, 10), 0, "fd store's exit status at SIGTERM")
    _apt("purge", "ubc")
    check(_package_status() in NOT_INSTALLED, f"dpkg status after purge: {_package_status()}")
    left = [p for p in listed if os.path.lexists(p) and not os.path.isdir(p)]
    check(not left, f"files of the package still there after purge: {left}")
    new_paths = sorted(_ubc_paths() - paths_before)
    check(not new_paths, f"paths named for ubc left after purge: {new_paths}")
    check_eq(_user_state(), ("", ""), "ubcd-rest user and group after purge (the package's)")
    _restore_user()
    check_eq(bool(_user_state()[0]), bool(user_before[0]), "ubcd-rest restored")
