"""podman 4.3 with ubc: through the precreate hook (hooks.d, `--hooks-dir`) and through
the runtime wrapper (`--runtime /tmp/.../ubc-runtime`) in front of runc and of crun. Isolated storage and state in the
test's temp dir; non-parallel in meson (podman shares /sys/fs/cgroup/*/libpod_parent)."""

import os
import re

from engines import (Podman, check_supervised, check_unsupervised, install_runtime_wrapper,
                     runtime_settings, write_precreate_hook)
from outcome import check, check_eq, require_tool, which
from session import Session
from vzformat import parse_ubc_table

SERIAL = True
BARRIER = 4096


def _check_view(c, barrier=BARRIER):
    """The proc view is bound in: /proc/meminfo totals the barrier, and
    /dev/user_beancounters holds this container's rows only."""
    meminfo = c.exec("cat", "/proc/meminfo").stdout
    check(re.search(rf"^MemTotal: +{barrier * 4} kB$", meminfo, re.M) is not None,
          f"MemTotal in podman:\n{meminfo}")
    table = parse_ubc_table(c.exec("cat", "/dev/user_beancounters").stdout)
    check_eq(list(table), [c.id], "containers in /dev/user_beancounters")
    check_eq(table[c.id]["privvmpages"][2], barrier, "privvmpages barrier inside")


def test_precreate_hook():
    s = Session("runc")
    hooks_dir = os.path.join(s.workdir, "hooks.d")
    write_precreate_hook(hooks_dir, s.hook_path, s.settings_path)
    podman = Podman(s.workdir, runtime=require_tool("runc"), hooks_dir=hooks_dir)
    c = podman.run_probe(s.rootfs, annotations={"ubc.privvmpages": f"{BARRIER}:{BARRIER}"})
    _check_view(c)  # before the probe fills the container to its barrier
    check_supervised(s, c, BARRIER)
    plain = podman.run_probe(s.rootfs)
    check_unsupervised(s, plain)
    c.stop()
    plain.stop()


def test_runtime_wrapper():
    s = Session("runc")
    wrapper = install_runtime_wrapper(os.path.join(s.workdir, "wrapper"),
                                      runtime_settings(s.ubcd, runtime=which("runc")))
    podman = Podman(s.workdir, runtime=wrapper)
    c = podman.run_probe(s.rootfs, annotations={"ubc.privvmpages": f"{BARRIER}:{BARRIER}"})
    _check_view(c)  # before the probe fills the container to its barrier
    check_supervised(s, c, BARRIER)
    plain = podman.run_probe(s.rootfs)
    check_unsupervised(s, plain)
    c.stop()
    plain.stop()


def test_runtime_wrapper_crun():
    """podman -> ubc-runtime -> crun. crun needs this host's cgroup2-only mount namespace
    (the tests' crun wrapper, without a cgroup manager), so podman runs the containers with
    --cgroups=disabled, which it allows only for a runtime its containers.conf names in
    runtime_supports_nocgroup: the wrapper is registered there as runtime `ubc-crun`."""
    s = Session("crun")
    wrapper = install_runtime_wrapper(os.path.join(s.workdir, "wrapper"),
                                      runtime_settings(s.ubcd, runtime=s.runtime.argv[0]))
    conf = os.path.join(s.workdir, "containers.conf")
    with open(conf, "w", encoding="utf-8") as f:
        f.write(f'[engine]\nruntime_supports_nocgroup = ["ubc-crun"]\n\n'
                f'[engine.runtimes]\nubc-crun = ["{wrapper}"]\n')
    os.environ["CONTAINERS_CONF"] = conf  # this test's process and its cleanups only
    podman = Podman(s.workdir, runtime="ubc-crun")
    c = podman.run_probe(s.rootfs, annotations={"ubc.privvmpages": f"{BARRIER}:{BARRIER}"},
                         extra_args=["--cgroups=disabled"])
    _check_view(c)
    check_supervised(s, c, BARRIER)
    membership = s.ubcd.container(c.id)["membership"]
    check(membership.startswith("pid namespace "),
          f"membership of a crun container without a cgroup of its own: {membership}")
    plain = podman.run_probe(s.rootfs, extra_args=["--cgroups=disabled"])
    check_unsupervised(s, plain)
    c.stop()
    plain.stop()
