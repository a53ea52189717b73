"""ubc-hook on its own: `patch` leaves unannotated bundles byte-identical and adds the notify
rules and listenerPath to annotated ones; `precreate` does the same on stdin/stdout."""

import json
import os

from bundles import build_rootfs, hook_patch, make_bundle
from cleanup import make_temp_dir
from files import read_json, write_json
from outcome import check, check_eq, require_built, require_root, require_tool
from procs import run

MEMORY_SYSCALLS = ("mmap", "brk", "mprotect", "mremap")


class _Setup:
    def __init__(self):
        require_root()
        self.hook = require_built("UBC_HOOK")
        self.probe = require_built("UBC_PROBE")
        self.runc = require_tool("runc")
        self.workdir = make_temp_dir("ubct")
        self.rootfs = build_rootfs(os.path.join(self.workdir, "rootfs"), self.probe)
        self.listener = os.path.join(self.workdir, "ubcd.sock")
        self.settings = os.path.join(self.workdir, "settings.json")
        write_json(self.settings, {"listener_path": self.listener,
                                   "containers_dir": os.path.join(self.workdir, "containers"),
                                   "opt_in": "annotated", "runtime": self.runc,
                                   "runtime_args": []})

    def bundle(self, name, annotations=None):
        path = os.path.join(self.workdir, name)
        make_bundle(path, self.rootfs, ["/bin/ubc-probe"], annotations=annotations,
                    spec_tool=self.runc)
        return path


def _notified_syscalls(cfg):
    names = set()
    for rule in cfg.get("linux", {}).get("seccomp", {}).get("syscalls", []):
        if rule.get("action") == "SCMP_ACT_NOTIFY":
            names.update(rule.get("names", []))
    return names


def test_patch_unannotated_byte_identical():
    t = _Setup()
    for i, ann in enumerate((None, {"org.example.x": "1"}, {"io.podman.annotations.x": "y"})):
        b = t.bundle(f"b{i}", ann)
        before = open(os.path.join(b, "config.json"), "rb").read()
        hook_patch(t.hook, b, t.settings, f"plain-{i}")
        after = open(os.path.join(b, "config.json"), "rb").read()
        check(before == after, f"unannotated bundle {ann} changed")


def test_patch_annotated_adds_notify_rules():
    t = _Setup()
    b = t.bundle("annotated", {"ubc.privvmpages": "64M:72M", "ubc.profile": "openvz"})
    orig = read_json(os.path.join(b, "config.json"))
    hook_patch(t.hook, b, t.settings, "annotated-1")
    cfg = read_json(os.path.join(b, "config.json"))
    check_eq(cfg["linux"]["seccomp"].get("listenerPath"), t.listener, "listenerPath")
    missing = [n for n in MEMORY_SYSCALLS if n not in _notified_syscalls(cfg)]
    check(not missing, f"no SCMP_ACT_NOTIFY rule for {missing}")
    check_eq(cfg["process"]["args"], orig["process"]["args"], "process.args")
    check_eq(cfg["root"], orig["root"], "root")
    for k, v in orig["annotations"].items():
        check_eq(cfg["annotations"].get(k), v, f"annotation {k}")


def test_precreate_stdin_stdout():
    t = _Setup()
    b = t.bundle("pre", {"ubc.privvmpages": "64M:72M"})
    text = open(os.path.join(b, "config.json"), encoding="utf-8").read()
    res = run([t.hook, "precreate", "--settings", t.settings], input=text, timeout_s=30)
    cfg = json.loads(res.stdout)
    check_eq(cfg["linux"]["seccomp"].get("listenerPath"), t.listener, "listenerPath")
    check(set(MEMORY_SYSCALLS) <= _notified_syscalls(cfg), "notify rules missing")
    b2 = t.bundle("pre-plain")
    text2 = open(os.path.join(b2, "config.json"), encoding="utf-8").read()
    res2 = run([t.hook, "precreate", "--settings", t.settings], input=text2, timeout_s=30)
    check_eq(json.loads(res2.stdout), json.loads(text2), "unannotated config through precreate")
