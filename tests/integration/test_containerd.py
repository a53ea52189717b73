"""containerd 1.6 + ctr with the ubc runtime wrapper (`ctr run --runc-binary WRAPPER`),
a private containerd (own root, state, socket) and no image (`ctr run --rootfs DIR`).
Non-parallel in meson."""

import os

from engines import Containerd, install_runtime_wrapper, runtime_settings
from outcome import check, check_eq, which
from probe import pages
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
    data = c.probe.statm()
    c.probe.ok(f"mmap {pages(BARRIER - data - 64)}")
    c.probe.err("mmap 128P")
    entry = s.ubcd.wait_container(c.id)
    check_eq(entry["privvmpages"]["barrier"], BARRIER, "barrier")
    check_eq(entry["privvmpages"]["failcnt"], 1, "failcnt")
    plain = containerd.run_probe(s.rootfs, wrapper)
    plain.probe.ok("mmap 300M")
    check(s.ubcd.container(plain.id) is None, f"unannotated {plain.id} in ubcd status")
    c.stop()
    plain.stop()
