"""Container engines for the integration tests: podman (precreate hook or runtime wrapper),
containerd + ctr (runtime wrapper) or containerd's CRI plugin (a runtime handler), and
dockerd, each isolated in the test's temp dir.

Isolation: podman gets its own --root/--runroot/--tmpdir/--network-config-dir/--volumepath,
the vfs storage driver and the cgroupfs manager; containerd gets its own root, state and
socket. What the engines still put outside the temp dir (runc state under /run/runc or
/run/containerd/runc/NS, cgroups such as /sys/fs/cgroup/*/libpod_parent, /run/containers,
/run/containerd) is removed in cleanup only when it belongs to our ids or did not exist
before the test and is empty. Engine tests are registered as non-parallel in meson, so no
other test shares those parent directories while they run.
"""

import os
import shutil
import signal
import subprocess

from cleanup import CGROUP_ROOT, add_cleanup, add_debug_dump, remove_cgroup_dirs, unique_id
from files import read_text, tail, write_json
from outcome import SkipTest, check, check_eq, log, require_built, require_tool, wait_until, which
from probe import ProbeChannel, pages
from procs import kill_pid, pids_where, run, stop_process, unix_socket_exists

PODMAN_ULIMITS = ["--ulimit", "nofile=20000:20000", "--ulimit", "nproc=32768:32768"]


def _existing(paths):
    return {p for p in paths if os.path.lexists(p)}


def _rmdir_if_ours(paths, preexisting):
    """rmdir (never rm -r) each path we created, deepest first, if it is empty."""
    for p in sorted(paths, key=len, reverse=True):
        if p in preexisting or not os.path.isdir(p):
            continue
        try:
            os.rmdir(p)
        except OSError as exc:
            log(f"left {p} in place: {exc}")


def _cgroup_paths(relative):
    try:
        hierarchies = os.listdir(CGROUP_ROOT)
    except OSError:
        return []
    return [os.path.join(CGROUP_ROOT, h, relative) for h in hierarchies]


def _spawn_logged(args, log_path, **popen_args):
    """Starts a daemon with stdout and stderr appended to LOG_PATH."""
    logf = open(log_path, "ab")  # noqa: SIM115 - owned by the Popen below
    try:
        return subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                                **popen_args)
    finally:
        logf.close()


def _start_probe(cmd, err_path, label, cleanup_what, cleanup):
    """Runs CMD (an engine's `run -i ... /bin/ubc-probe`) with its stderr in ERR_PATH,
    registers CLEANUP, and returns (proc, probe) once the probe answered."""
    errf = open(err_path, "ab")  # noqa: SIM115 - owned by the Popen below
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=errf)
    finally:
        errf.close()
    add_cleanup(cleanup_what, cleanup)
    add_debug_dump(f"{label} stderr", lambda: tail(read_text(err_path)))
    probe = ProbeChannel(proc, label, err_path)
    probe.ok("echo ready", timeout_s=60)
    return proc, probe


def _reap(proc):
    """Waits for an engine's client process to end, killing it if it does not."""
    if proc is None:
        return
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        kill_pid(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def _engine_pids(marker):
    """containerd and its runc shims whose command line holds MARKER (our socket or
    exec root): only those of the engine a test started."""
    return pids_where(lambda argv: argv[0].endswith((b"containerd", b"containerd-shim-runc-v2"))
                      and any(marker in a for a in argv))


def _runc_delete(root, cid):
    """Deletes CID's runc state under ROOT if the engine left it behind."""
    runc = which("runc")
    if runc and os.path.isdir(os.path.join(root, cid)):
        run([runc, "--root", root, "delete", "-f", cid], check_rc=False)


def check_supervised(s, c, barrier):
    """C, limited to BARRIER pages by ubcd, allocates up to it and is refused past it."""
    data = c.probe.statm()
    c.probe.ok(f"mmap {pages(barrier - data - 64)}")
    c.probe.err("mmap 128P")
    entry = s.ubcd.wait_container(c.id)
    check_eq(entry["privvmpages"]["barrier"], barrier, "barrier")
    check_eq(entry["privvmpages"]["failcnt"], 1, "failcnt")
    check(entry["privvmpages"]["maxheld"] <= barrier, f"maxheld above barrier: {entry}")
    check(s.ubcd.refusal_lines(c.id), f"no refusal logged for {c.id}")


def check_unsupervised(s, c):
    """C, not opted in, allocates past any test's limit and is unknown to ubcd."""
    c.probe.ok("mmap 300M")
    check(s.ubcd.container(c.id) is None, f"not opted in {c.id} appeared in ubcd status")


def install_runtime_wrapper(dest_dir, settings):
    """Copies build/runtime-hook/ubc-runtime to DEST/ubc-runtime with its settings in
    DEST/ubc-runtime.json (the wrapper reads them from the directory it was invoked from).
    A copy, not a symlink, so the lookup works whether the wrapper uses argv[0] or
    /proc/self/exe."""
    src = require_built("UBC_RUNTIME")
    os.makedirs(dest_dir, exist_ok=True)
    dest = os.path.join(dest_dir, "ubc-runtime")
    shutil.copy2(os.path.realpath(src), dest)
    os.chmod(dest, 0o755)
    write_json(os.path.join(dest_dir, "ubc-runtime.json"), settings)
    return dest


def runtime_settings(ubcd, runtime=None, opt_in="annotated", runtime_args=None):
    return {
        "listener_path": ubcd.listener_path,
        "containers_dir": ubcd.containers_dir,
        "ubcd_config": ubcd.config_path,
        "opt_in": opt_in,
        "runtime": runtime or which("runc") or "/usr/sbin/runc",
        "runtime_args": list(runtime_args or []),
    }


# ---------------------------------------------------------------------------
# podman


class Podman:
    # hooks_dir=SYSTEM_HOOKS: podman's own hooks directories (what an installed package
    # put in /usr/share/containers/oci/hooks.d). Any other podman gets --hooks-dir: the
    # test's own, or an empty one, so a hook installed on the machine never runs in a test.
    SYSTEM_HOOKS = object()

    def __init__(self, workdir, runtime, hooks_dir=None):
        self.podman = require_tool("podman")
        self.workdir = os.path.join(workdir, "podman")
        os.makedirs(self.workdir, exist_ok=True)
        self.runtime = runtime
        self.global_args = [
            self.podman,
            "--root", os.path.join(self.workdir, "root"),
            "--runroot", os.path.join(self.workdir, "runroot"),
            "--tmpdir", os.path.join(self.workdir, "tmp"),
            "--network-config-dir", os.path.join(self.workdir, "networks"),
            "--volumepath", os.path.join(self.workdir, "volumes"),
            "--storage-driver", "vfs",
            "--cgroup-manager", "cgroupfs",
            "--events-backend", "file",
            "--runtime", runtime,
        ]
        if hooks_dir is None:
            hooks_dir = os.path.join(self.workdir, "no-hooks.d")
            os.makedirs(hooks_dir, exist_ok=True)
        if hooks_dir is not Podman.SYSTEM_HOOKS:
            self.global_args += ["--hooks-dir", hooks_dir]
        self._outside = ["/run/containers", "/run/containers/networks", "/run/runc"]
        self._cgroups = (_cgroup_paths("libpod_parent")
                         + _cgroup_paths("libpod_parent/conmon"))
        self._preexisting = _existing(self._outside + self._cgroups)
        add_cleanup("podman leftovers", self._cleanup_leftovers)

    def cmd(self, *args):
        return self.global_args + list(args)

    def run_probe(self, rootfs, annotations=None, extra_args=()):
        """`podman run -i ... --rootfs ROOTFS /bin/ubc-probe`; returns a started
        PodmanContainer whose probe answered."""
        return PodmanContainer(self, unique_id(), annotations or {}, extra_args).start(rootfs)

    def ps_all(self):
        return run(self.cmd("ps", "-a", "-q", "--no-trunc"), check_rc=False).stdout.split()

    def _cleanup_leftovers(self):
        _rmdir_if_ours(self._cgroups, self._preexisting)
        _rmdir_if_ours(self._outside, self._preexisting)


class PodmanContainer:
    def __init__(self, podman, name, annotations, extra_args):
        self.podman = podman
        self.name = name
        self.annotations = annotations
        self.extra_args = list(extra_args)
        self.cidfile = os.path.join(podman.workdir, f"{name}.cid")
        self.err_path = os.path.join(podman.workdir, f"{name}.stderr")
        self.proc = None
        self.probe = None
        self._full_id = None

    def start(self, rootfs):
        args = ["run", "-i", "--name", self.name, "--cidfile", self.cidfile,
                "--network", "none", *PODMAN_ULIMITS]
        for k, v in self.annotations.items():
            args += ["--annotation", f"{k}={v}"]
        args += self.extra_args
        # --rootfs is a boolean flag: every option must come before it.
        args += ["--rootfs", rootfs, "/bin/ubc-probe"]
        self.proc, self.probe = _start_probe(self.podman.cmd(*args), self.err_path,
                                             f"podman:{self.name}", f"podman rm {self.name}",
                                             self.cleanup)
        return self

    def exec(self, *args):
        """`podman exec NAME ARGS...` to its end; returns the completed process."""
        return run(self.podman.cmd("exec", self.name, *args), timeout_s=60)

    @property
    def id(self):
        """The 64-hex container id podman gives the runtime (and ubcd keys by)."""
        if self._full_id is None:
            self._full_id = wait_until(lambda: open(self.cidfile, encoding="utf-8").read()
                                       .strip(), timeout_s=10, what="podman cidfile")
        return self._full_id

    def stop(self):
        self.probe.close()

    def cleanup(self):
        full_id = None
        try:
            full_id = open(self.cidfile, encoding="utf-8").read().strip() or None
        except OSError:
            pass
        if self.proc is not None and self.proc.poll() is None:
            kill_pid(self.proc.pid, signal.SIGTERM)
        run(self.podman.cmd("rm", "-f", "-t", "0", self.name), check_rc=False, timeout_s=60)
        _reap(self.proc)
        if full_id:
            # podman runs the runtime with its default state root (/run/runc for runc).
            runc = which("runc")
            if runc and run([runc, "state", full_id], check_rc=False).returncode == 0:
                run([runc, "delete", "-f", full_id], check_rc=False)
            remove_cgroup_dirs(f"libpod_parent/libpod-{full_id}")
            remove_cgroup_dirs(f"libpod_parent/libpod-conmon-{full_id}")


def write_precreate_hook(hooks_dir, hook_path, settings_path):
    os.makedirs(hooks_dir, exist_ok=True)
    path = os.path.join(hooks_dir, "ubc.json")
    write_json(path, {
        "version": "1.0.0",
        "hook": {"path": hook_path,
                 "args": ["ubc-hook", "precreate", "--settings", settings_path]},
        "when": {"annotations": {"^ubc\\.privvmpages$": ".*"}},
        "stages": ["precreate"],
    })
    return path


# ---------------------------------------------------------------------------
# containerd + ctr


CONTAINERD_TOML = """version = 2
root = "{root}"
state = "{state}"
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = "{sock}"

[ttrpc]
  address = "{sock}.ttrpc"

[debug]
  address = ""

[metrics]
  address = ""
"""


# The CRI plugin, for a containerd that also gets a runtime handler (the handler's own
# tables come from examples/kubernetes/containerd-ubc.toml): no registry (the sandbox image
# is imported), the native snapshotter, no CNI (pods use the node's network), streaming
# on a loopback port of the kernel's choosing.
CONTAINERD_CRI_TOML = """
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{sandbox_image}"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  disable_apparmor = true
  # The sandbox's oom_score_adj of -998 needs CAP_SYS_RESOURCE, which root lacks here:
  # never below containerd's own.
  restrict_oom_score_adj = true

[plugins."io.containerd.grpc.v1.cri".containerd]
  snapshotter = "native"
  default_runtime_name = "runc"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[plugins."io.containerd.grpc.v1.cri".cni]
  bin_dir = "{cni_dir}"
  conf_dir = "{cni_dir}"
"""

# The CRI plugin's namespace, whatever the client.
CRI_NAMESPACE = "k8s.io"


class Containerd:
    """A private containerd (own root, state, socket) and ctr in a private namespace; with
    CRI (a handler's TOML and a sandbox image) the CRI plugin runs too, in its own
    namespace k8s.io of this containerd."""

    def __init__(self, workdir, cri_handler_toml=None, sandbox_image=None):
        self.containerd = require_tool("containerd")
        self.ctr_bin = require_tool("ctr")
        if not which("containerd-shim-runc-v2"):
            raise SkipTest("containerd-shim-runc-v2 not found")
        self.workdir = os.path.join(workdir, "containerd")
        os.makedirs(self.workdir, exist_ok=True)
        self.sock = os.path.join(self.workdir, "c.sock")
        self.config = os.path.join(self.workdir, "config.toml")
        self.log_path = os.path.join(self.workdir, "containerd.log")
        self.namespace = unique_id("ubctns") if cri_handler_toml is None else CRI_NAMESPACE
        text = CONTAINERD_TOML.format(root=os.path.join(self.workdir, "root"),
                                      state=os.path.join(self.workdir, "state"),
                                      sock=self.sock)
        if cri_handler_toml is not None:
            cni_dir = os.path.join(self.workdir, "cni")
            os.makedirs(cni_dir, exist_ok=True)
            text = text.replace('disabled_plugins = ["io.containerd.grpc.v1.cri"]\n', "")
            text += CONTAINERD_CRI_TOML.format(sandbox_image=sandbox_image, cni_dir=cni_dir)
            text += "\n" + cri_handler_toml
        with open(self.config, "w", encoding="utf-8") as f:
            f.write(text)
        self._outside = ["/run/containerd", "/run/containerd/fifo", "/run/containerd/s",
                         "/run/containerd/runc",
                         f"/run/containerd/runc/{self.namespace}"]
        self._cgroups = _cgroup_paths(self.namespace)
        self._preexisting = _existing(self._outside + self._cgroups)
        self.proc = None
        self.containers = []

    def start(self):
        self.proc = _spawn_logged([self.containerd, "--config", self.config], self.log_path)
        add_cleanup("containerd leftovers", self._cleanup_leftovers)
        add_cleanup(f"stop containerd {self.proc.pid}", self._stop)
        add_debug_dump("containerd log", lambda: tail(read_text(self.log_path)))
        try:
            wait_until(lambda: unix_socket_exists(self.sock) or self.proc.poll() is not None,
                       timeout_s=20, what="containerd socket")
        except AssertionError:
            raise AssertionError(f"containerd did not start:\n{tail(read_text(self.log_path))}")
        if self.proc.poll() is not None:
            raise AssertionError(f"containerd exited:\n{tail(read_text(self.log_path))}")
        return self

    def ctr(self, *args):
        return [self.ctr_bin, "-a", self.sock, "-n", self.namespace, *args]

    def run_probe(self, rootfs, runc_binary, annotations=None):
        c = CtrContainer(self, unique_id(), rootfs, runc_binary, annotations or {})
        self.containers.append(c)
        return c.start()

    def _stop(self):
        if self.proc is not None and self.proc.poll() is None:
            stop_process(self.proc, signal.SIGTERM, timeout_s=15)
        for pid in _engine_pids(self.sock.encode()):  # its shims name our socket
            kill_pid(pid, signal.SIGKILL)

    def _cleanup_leftovers(self):
        for c in self.containers:
            remove_cgroup_dirs(f"{self.namespace}/{c.id}")
        _rmdir_if_ours(self._cgroups, self._preexisting)
        _rmdir_if_ours(self._outside, self._preexisting)


class CtrContainer:
    def __init__(self, containerd, cid, rootfs, runc_binary, annotations):
        self.containerd = containerd
        self.id = cid
        self.rootfs = rootfs
        self.runc_binary = runc_binary
        self.annotations = annotations
        self.err_path = os.path.join(containerd.workdir, f"{cid}.stderr")
        self.proc = None
        self.probe = None

    def start(self):
        args = ["run", "--rootfs", "--runc-binary", self.runc_binary]
        for k, v in self.annotations.items():
            args += ["--annotation", f"{k}={v}"]
        args += [self.rootfs, self.id, "/bin/ubc-probe"]
        self.proc, self.probe = _start_probe(self.containerd.ctr(*args), self.err_path,
                                             f"ctr:{self.id}", f"ctr delete {self.id}",
                                             self.cleanup)
        return self

    def stop(self):
        self.probe.close()

    def cleanup(self):
        ctr = self.containerd.ctr
        if self.containerd.proc is not None and self.containerd.proc.poll() is None:
            run(ctr("task", "kill", "-s", "SIGKILL", self.id), check_rc=False, timeout_s=20)
            try:
                wait_until(lambda: self.id not in run(ctr("task", "ls", "-q"),
                                                      check_rc=False).stdout.split(),
                           timeout_s=10, what="task exit")
            except AssertionError as exc:
                log(str(exc))
            run(ctr("task", "delete", "-f", self.id), check_rc=False, timeout_s=20)
            run(ctr("container", "delete", self.id), check_rc=False, timeout_s=20)
        _reap(self.proc)
        # The shim runs runc with --root /run/containerd/runc/<namespace>.
        _runc_delete(f"/run/containerd/runc/{self.containerd.namespace}", self.id)
        remove_cgroup_dirs(f"{self.containerd.namespace}/{self.id}")


# ---------------------------------------------------------------------------
# dockerd + docker (runtime wrapper via --add-runtime)


class Dockerd:
    """A private dockerd (own data root, exec root, socket, pidfile, cgroup parent) with
    no network, the vfs storage driver and `ubc` added as a runtime; its own managed
    containerd lives under its exec root. No registry is reachable: images come from
    `docker import` of a rootfs tarball."""

    def __init__(self, workdir, wrapper):
        self.dockerd = require_tool("dockerd")
        self.docker_bin = which("/usr/bin/docker") or require_tool("docker")
        self.workdir = os.path.join(workdir, "docker")
        os.makedirs(self.workdir, exist_ok=True)
        # Unix socket paths are short: keep the exec root (containerd's socket) shallow.
        self.exec_root = os.path.join(self.workdir, "x")
        self.data_root = os.path.join(self.workdir, "data")
        self.sock = os.path.join(self.workdir, "d.sock")
        self.log_path = os.path.join(self.workdir, "dockerd.log")
        self.cgroup_parent = unique_id("ubctdock")
        config = os.path.join(self.workdir, "daemon.json")
        write_json(config, {})
        self.args = [self.dockerd, "--config-file", config, "--data-root", self.data_root,
                     "--exec-root", self.exec_root, "-H", f"unix://{self.sock}",
                     "--pidfile", os.path.join(self.workdir, "dockerd.pid"),
                     "--bridge", "none", "--iptables=false", "--ip-masq=false",
                     "--storage-driver", "vfs", "--exec-opt", "native.cgroupdriver=cgroupfs",
                     "--cgroup-parent", f"/{self.cgroup_parent}",
                     "--add-runtime", f"ubc={wrapper}"]
        # dockerd writes its trust key under /etc/docker and may create /run/docker.
        self._outside = ["/etc/docker", "/etc/docker/key.json", "/run/docker",
                         "/run/docker/plugins"]
        self._cgroups = _cgroup_paths(self.cgroup_parent)
        self._preexisting = _existing(self._outside + self._cgroups)
        self.proc = None
        self.containers = []

    def start(self):
        self.proc = _spawn_logged(self.args, self.log_path, start_new_session=True)
        add_cleanup("dockerd leftovers", self._cleanup_leftovers)
        add_cleanup(f"stop dockerd {self.proc.pid}", self._stop)
        add_debug_dump("dockerd log", lambda: tail(read_text(self.log_path)))
        try:
            wait_until(lambda: self.proc.poll() is not None or
                       run(self.cmd("version"), check_rc=False).returncode == 0,
                       timeout_s=60, what="dockerd answering")
        except AssertionError:
            raise AssertionError(f"dockerd did not start:\n{tail(read_text(self.log_path))}")
        if self.proc.poll() is not None:
            raise AssertionError(f"dockerd exited:\n{tail(read_text(self.log_path))}")
        return self

    def cmd(self, *args):
        return [self.docker_bin, "-H", f"unix://{self.sock}", *args]

    def import_rootfs(self, rootfs):
        """`docker import` of a tarball of ROOTFS; returns the image reference."""
        image = f"{unique_id('ubct-img')}:latest"
        tarball = os.path.join(self.workdir, "rootfs.tar")
        run(["tar", "-C", rootfs, "-cf", tarball, "."], timeout_s=120)
        run(self.cmd("import", tarball, image), timeout_s=120)
        return image

    def run_probe(self, image, env=None, runtime="ubc"):
        c = DockerContainer(self, unique_id(), image, env or {}, runtime)
        self.containers.append(c)
        return c.start()

    def _stop(self):
        if self.proc is not None and self.proc.poll() is None:
            stop_process(self.proc, signal.SIGTERM, timeout_s=30)
        # Its managed containerd and the shims name paths under the exec root.
        for pid in _engine_pids(self.exec_root.encode()):
            kill_pid(pid, signal.SIGKILL)

    def _cleanup_leftovers(self):
        for c in self.containers:
            if c.full_id:
                remove_cgroup_dirs(f"{self.cgroup_parent}/{c.full_id}")
        _rmdir_if_ours(self._cgroups, self._preexisting)
        key = "/etc/docker/key.json"
        if key not in self._preexisting and os.path.exists(key):
            os.unlink(key)
        _rmdir_if_ours(self._outside, self._preexisting)


class DockerContainer:
    def __init__(self, dockerd, name, image, env, runtime):
        self.dockerd = dockerd
        self.name = name
        self.image = image
        self.env = env
        self.runtime = runtime
        self.cidfile = os.path.join(dockerd.workdir, f"{name}.cid")
        self.err_path = os.path.join(dockerd.workdir, f"{name}.stderr")
        self.proc = None
        self.probe = None
        self.full_id = None

    def start(self):
        args = ["run", "-i", "--name", self.name, "--cidfile", self.cidfile,
                "--runtime", self.runtime, "--network", "none"]
        for k, v in self.env.items():
            args += ["-e", f"{k}={v}"]
        args += [self.image, "/bin/ubc-probe"]
        self.proc, self.probe = _start_probe(self.dockerd.cmd(*args), self.err_path,
                                             f"docker:{self.name}", f"docker rm {self.name}",
                                             self.cleanup)
        self.full_id = wait_until(lambda: open(self.cidfile, encoding="utf-8").read().strip(),
                                  timeout_s=10, what="docker cidfile")
        return self

    @property
    def id(self):
        return self.full_id

    def stop(self):
        self.probe.close()

    def cleanup(self):
        if self.dockerd.proc is not None and self.dockerd.proc.poll() is None:
            run(self.dockerd.cmd("rm", "-f", self.name), check_rc=False, timeout_s=60)
        _reap(self.proc)
        if self.full_id:
            _runc_delete(os.path.join(self.dockerd.exec_root, f"runtime-{self.runtime}"),
                         self.full_id)
            remove_cgroup_dirs(f"{self.dockerd.cgroup_parent}/{self.full_id}")
