"""dockerd (Debian's docker.io) with the ubc runtime wrapper (`dockerd --add-runtime
ubc=WRAPPER`, `docker run --runtime ubc`): a private dockerd (own data root, exec root,
socket, cgroup parent), an image made with `docker import` from the test rootfs (no
registry is reachable). Docker 20.10 puts no annotations in the spec: the limit reaches
ubc as the UBC_PRIVVMPAGES environment variable, which the wrapper turns into the
annotation. Non-parallel in meson."""

import os

from engines import Dockerd, install_runtime_wrapper, runtime_settings
from outcome import check, check_eq, which
from probe import pages
from session import Session

SERIAL = True
BARRIER = 4096


def test_dockerd_add_runtime():
    s = Session("runc")
    wrapper = install_runtime_wrapper(os.path.join(s.workdir, "wrapper"),
                                      runtime_settings(s.ubcd, runtime=which("runc")))
    dockerd = Dockerd(s.workdir, wrapper).start()
    image = dockerd.import_rootfs(s.rootfs)
    c = dockerd.run_probe(image, env={"UBC_PRIVVMPAGES": f"{BARRIER}:{BARRIER}"})
    data = c.probe.statm()
    c.probe.ok(f"mmap {pages(BARRIER - data - 64)}")
    c.probe.err("mmap 128P")
    entry = s.ubcd.wait_container(c.id)
    check_eq(entry["privvmpages"]["barrier"], BARRIER, "barrier")
    check_eq(entry["privvmpages"]["failcnt"], 1, "failcnt")
    # Under the wrapper without the variable: not opted in, no limit.
    plain = dockerd.run_probe(image)
    plain.probe.ok("mmap 300M")
    check(s.ubcd.container(plain.id) is None, f"unenvironed {plain.id} in ubcd status")
    c.stop()
    plain.stop()
