"""containerd 1.6 + ctr with the ubc runtime wrapper (`ctr run --runc-binary WRAPPER`),
a private containerd (own root, state, socket) and no image (`ctr run --rootfs DIR`).
Non-parallel in meson."""

import os

from engines import (Containerd, check_supervised, check_unsupervised, install_runtime_wrapper,
                     runtime_settings)
from outcome import which
from session import Session

SERIAL = True
BARRIER = 4096


def test_ctr_runtime_wrapper():
    s = Session("runc")
    wrapper = install_runtime_wrapper(os.path.join(s.workdir, "wrapper"),
                                      runtime_settings(s.ubcd, runtime=which("runc")))
    containerd = Containerd(s.workdir).start()
    c = containerd.run_probe(s.rootfs, wrapper,
                             annotations={"ubc.privvmpages": f"{BARRIER}:{BARRIER}"})
    check_supervised(s, c, BARRIER)
    plain = containerd.run_probe(s.rootfs, wrapper)
    check_unsupervised(s, plain)
    c.stop()
    plain.stop()
