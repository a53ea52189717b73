"""OCI runtimes and the containers run with them.

What it owns: `Runtime` (runc directly, or crun through a wrapper that gives it a private
cgroup2 mount namespace; each with a private state root), and `Container`: `<runtime> run
--bundle` in the foreground with the probe as init on its stdin/stdout, `exec` of more
probes, and the container's removal (runtime delete, its processes, its cgroup dirs)
through the cleanup stack.

Python 3.11 standard library only.
"""

import json
import os
import signal
import subprocess

from cleanup import add_cleanup, add_debug_dump, remove_cgroup_dirs
from files import read_text, tail
from outcome import require_tool
from probe import DEFAULT_TIMEOUT_S, ProbeChannel
from procs import kill_pid, run

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

    def run(self, *args, timeout_s=30.0, check_rc=True):
        """`<runtime> exec ID ARGS...` to its end: a program of the rootfs (busybox)."""
        return run(self.runtime.cmd("exec", self.id, *args), timeout_s=timeout_s,
                   check_rc=check_rc)

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
