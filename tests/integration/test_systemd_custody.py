"""systemd's fd store as ubcd's fd custody (UBCD_FD_CUSTODY=systemd, as the packaged
unit runs it), against systemd_notify.FakeSystemd: the protocol's other side, since there
is no systemd here. ubcd hands every notify fd and the proc view's FUSE connection to
"systemd" with sd_notify (libsystemd's real messages), starts no fd store process, and
after kill -9 a ubcd started with the stored fds (LISTEN_FDS, LISTEN_FDNAMES) recovers
the container with no ENOSYS meanwhile; a container that ends is let go of. The fd store
process (the fallback when ubcd is not run by systemd) is what every other test uses."""

import os
import signal
import time

from bundles import write_hook_settings
from outcome import check, check_eq, require_built, wait_until
from probe import pages
from procs import pids_where
from session import Session
from systemd_notify import FakeSystemd
from test_restart import _reply
from ubcd import Ubcd


def test_survives_sigkill_runc():
    s = Session("runc", start_ubcd=False)
    s.ubcd = Ubcd(require_built("UBCD"), os.path.join(s.workdir, "ubcd"))
    systemd = FakeSystemd(s.workdir)

    def spawn(argv, log_path):
        return systemd.start(argv, log_path, {"UBCD_FD_CUSTODY": "systemd"})

    s.ubcd.start(spawn=spawn)
    s.settings_path = write_hook_settings(os.path.join(s.workdir, "hook-settings.json"), s.ubcd,
                                          runtime=s.runtime.binary)
    check("fd custody: systemd's fd store (UBCD_FD_CUSTODY=systemd)" in s.ubcd.log(),
          "ubcd did not choose systemd's fd store")
    config = s.ubcd.config_path.encode()
    check_eq(pids_where(lambda argv: b"--fd-store" in argv and config in argv), [],
             "fd store processes under systemd's custody")
    c = s.supervised("16M:20M")
    wait_until(lambda: len(systemd.names()) == 2, timeout_s=5,
               what="the notify fd and the proc view in systemd's store")
    check("proc-view" in systemd.names(), f"stored: {systemd.names()}")
    check_eq(systemd.ignored, [], "notify messages from processes other than ubcd's main one")
    data = c.probe.statm()
    c.probe.err(f"mmap {pages(4096 - data + 1)}")

    c.probe.send("mmap-for 1500 256K")
    time.sleep(0.4)
    s.ubcd.stop(signal.SIGKILL)
    time.sleep(0.3)  # trapped calls wait: systemd holds the fd
    s.ubcd.start(spawn=spawn)
    calls, enomem, enosys, other = _reply(c.probe)
    check(calls > 0, "no allocation happened")
    check_eq(enosys, 0, "calls that failed with ENOSYS across the restart")
    check_eq((enomem, other), (0, 0), "calls refused or failed otherwise")
    check("notify fd recovered" in s.ubcd.log(), "the new ubcd recovered no notify fd")
    check("serving the mount at" in s.ubcd.log(), "the new ubcd did not take the view over")
    entry = s.ubcd.require_container(c.id)
    check_eq(entry["notify_fds"], 1, "notify fds recovered")
    check_eq(entry["privvmpages"]["failcnt"], 1, "failcnt continues")
    data = c.probe.statm()
    wait_until(lambda: s.ubcd.privvm(c.id)["held"] == data, timeout_s=5,
               what=f"held == {data} after the restart")
    c.probe.err(f"mmap {pages(4096 - data + 1)}")
    check_eq(s.ubcd.privvm(c.id)["failcnt"], 2, "failcnt after a refusal past the restart")

    meta_dir = os.path.join(s.ubcd.state_dir, "systemd-fds")
    check_eq(len(os.listdir(meta_dir)), 2, f"metadata files in {meta_dir}")
    c.stop()
    wait_until(lambda: systemd.names() == ["proc-view"], timeout_s=10,
               what="the ended container's fd gone from systemd's store")
    wait_until(lambda: os.listdir(meta_dir) == ["proc-view.json"], timeout_s=10,
               what="the ended container's metadata removed")
