"""Rootfs and OCI bundles for the test containers, and the hook's patch of a bundle.

What it owns: the minimal rootfs (a static busybox with its applet links and the probe),
a bundle made by `runc spec` (or `crun spec`) and edited (args, root, annotations), the
ubc.* annotations, and ubc-hook's side of a bundle: its settings file (pointing at a
supervisor's listener) and `ubc-hook patch`.

Python 3.11 standard library only.
"""

import os
import shutil

from files import read_json, write_json
from outcome import SkipTest, which
from procs import run


def _is_static_elf(path):
    """True if the ELF file has no PT_INTERP program header."""
    with open(path, "rb") as f:
        head = f.read(64)
        if head[:4] != b"\x7fELF" or head[4] != 2:  # 64-bit only
            return False
        little = head[5] == 1
        order = "little" if little else "big"
        phoff = int.from_bytes(head[32:40], order)
        phentsize = int.from_bytes(head[54:56], order)
        phnum = int.from_bytes(head[56:58], order)
        f.seek(phoff)
        for _ in range(phnum):
            ph = f.read(phentsize)
            if int.from_bytes(ph[0:4], order) == 3:  # PT_INTERP
                return False
    return True


def find_static_busybox():
    for candidate in (which("busybox"), "/bin/busybox", "/usr/bin/busybox"):
        if candidate and os.path.exists(candidate) and _is_static_elf(candidate):
            return candidate
    raise SkipTest("a static busybox is needed (apt-get install busybox-static)")


def build_rootfs(dest, probe_path):
    """A minimal rootfs: static busybox with its applet links, one-line passwd/group,
    /tmp, the probe at /bin/ubc-probe and the programs UBC_TEST_PROGRAMS names in /bin.
    About 6 MB."""
    busybox = find_static_busybox()
    for d in ("bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "root",
              "tmp", "run", "var/tmp"):
        os.makedirs(os.path.join(dest, d), exist_ok=True)
    os.chmod(os.path.join(dest, "tmp"), 0o1777)
    os.chmod(os.path.join(dest, "var/tmp"), 0o1777)
    shutil.copy2(busybox, os.path.join(dest, "bin/busybox"))
    os.chmod(os.path.join(dest, "bin/busybox"), 0o755)
    # `busybox --install -s` equivalent: one symlink per applet at its usual place.
    listing = run([busybox, "--list-full"], check_rc=False)
    applets = listing.stdout.split() if listing.returncode == 0 else []
    if not applets:
        applets = ["bin/" + a for a in run([busybox, "--list"]).stdout.split()]
    for rel in applets:
        rel = rel.lstrip("/")
        if rel == "bin/busybox":
            continue
        link = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(link), exist_ok=True)
        if not os.path.lexists(link):
            os.symlink("/bin/busybox", link)
    with open(os.path.join(dest, "etc/passwd"), "w", encoding="utf-8") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\n")
    with open(os.path.join(dest, "etc/group"), "w", encoding="utf-8") as f:
        f.write("root:x:0:\n")
    shutil.copy2(probe_path, os.path.join(dest, "bin/ubc-probe"))
    os.chmod(os.path.join(dest, "bin/ubc-probe"), 0o755)
    # The other static test programs (tests/meson.build: ubc-bss-1024m, ubc-bss-24m).
    for program in filter(None, os.environ.get("UBC_TEST_PROGRAMS", "").split(":")):
        target = os.path.join(dest, "bin", os.path.basename(program))
        shutil.copy2(program, target)
        os.chmod(target, 0o755)
    return dest


def make_bundle(bundle_dir, rootfs, args, annotations=None, spec_tool=None, hostname="ubct"):
    """`runc spec` (or crun spec), then: terminal false, process.args, absolute
    writable root, annotations. linux.resources and the network namespace stay."""
    os.makedirs(bundle_dir, exist_ok=True)
    tool = spec_tool or which("runc") or which("crun")
    if tool is None:
        raise SkipTest("runc or crun is needed to generate a bundle spec")
    run([tool, "spec"], cwd=bundle_dir)
    path = os.path.join(bundle_dir, "config.json")
    cfg = read_json(path)
    cfg["process"]["terminal"] = False
    cfg["process"]["args"] = list(args)
    cfg["root"] = {"path": os.path.abspath(rootfs), "readonly": False}
    cfg["hostname"] = hostname
    if annotations:
        cfg.setdefault("annotations", {}).update(annotations)
    write_json(path, cfg)
    return path


def ubc_annotations(privvmpages=None, profile=None, extra=None):
    ann = {}
    if privvmpages is not None:
        ann["ubc.privvmpages"] = privvmpages
    if profile is not None:
        ann["ubc.profile"] = profile
    if extra:
        ann.update(extra)
    return ann


def write_hook_settings(path, ubcd, opt_in="annotated", runtime=None, runtime_args=None,
                        kernel_bounds=None):
    settings = {
        "listener_path": ubcd.listener_path,
        "containers_dir": ubcd.containers_dir,
        "opt_in": opt_in,
        "runtime": runtime or which("runc") or "/usr/bin/runc",
        "runtime_args": list(runtime_args or []),
    }
    # The hook resolves the limits as ubcd does, from ubcd's config; a stand-in
    # listener (the benchmarks' responder) has none, and the hook uses ubcd's defaults.
    if getattr(ubcd, "config_path", None):
        settings["ubcd_config"] = ubcd.config_path
    if kernel_bounds is not None:
        settings["kernel_bounds"] = kernel_bounds
    write_json(path, settings)
    return path


def hook_patch(hook, bundle, settings, container_id):
    return run([hook, "patch", bundle, "--settings", settings, "--id", container_id],
               timeout_s=30)
