"""A session: everything one test needs for runc/crun containers supervised by a real ubcd.

What it owns: the composition only (temp dir, rootfs, runtime, ubcd, hook settings) and
the usual container of a test: an annotated bundle, patched by `ubc-hook patch`, run, and
waited for (the probe answers; `supervised` also waits until ubcd lists it).

Python 3.11 standard library only.
"""

import os

from bundles import build_rootfs, hook_patch, make_bundle, ubc_annotations, write_hook_settings
from cleanup import make_temp_dir, unique_id
from outcome import require_built, require_root
from runtimes import Container, make_runtime
from ubcd import Ubcd


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
