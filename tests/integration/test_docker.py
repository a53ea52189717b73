"""dockerd (Debian's docker.io) with the ubc runtime wrapper (`dockerd --add-runtime
ubc=WRAPPER`, `docker run --runtime ubc`): a private dockerd (own data root, exec root,
socket, cgroup parent), an image made with `docker import` from the test rootfs (no
registry is reachable). Docker 20.10 puts no annotations in the spec: the limit reaches
ubc as the UBC_PRIVVMPAGES environment variable, which the wrapper turns into the
annotation. Non-parallel in meson."""

import os

from engines import (Dockerd, check_supervised, check_unsupervised, install_runtime_wrapper,
                     runtime_settings)
from outcome import which
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
    check_supervised(s, c, BARRIER)
    # Under the wrapper without the variable: not opted in, no limit.
    plain = dockerd.run_probe(image)
    check_unsupervised(s, plain)
    c.stop()
    plain.stop()
