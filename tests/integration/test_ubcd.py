"""ubcd's own surface: `--status` text and JSON, lifecycle (signals, retired containers),
limits from annotations in vzctl syntax, and opt_in "all" with the configured defaults.
Containers run with runc."""

import os
import re
import signal
import socket
import subprocess
import time

from bundles import write_hook_settings
from cleanup import make_temp_dir
from outcome import check, check_eq, require_built, require_root, require_tool, wait_until
from probe import pages
from procs import run
from session import Session
from test_rest import get_json
from ubcd import Ubcd
from vzformat import parse_ubc_table, parse_vz_pages

LONG_MAX = 9223372036854775807
RESOURCES = ["kmemsize", "lockedpages", "privvmpages", "shmpages", "dummy", "numproc",
             "physpages", "vmguarpages", "oomguarpages", "numtcpsock", "numflock", "numpty",
             "numsiginfo", "tcpsndbuf", "tcprcvbuf", "othersockbuf", "dgramrcvbuf",
             "numothersock", "dcachesize", "numfile", "dummy", "dummy", "dummy", "numiptent"]


def _row(uid, resource, values):
    return f"{uid:>10}  {resource:<12}" + "".join(f" {v:>20}" for v in values)


def test_status_text_matches_json():
    s = Session("runc")
    c = s.supervised("16M:20M")
    data = c.probe.statm()
    c.probe.err(f"mmap {pages(4096 - data + 1)}")
    pv = s.ubcd.privvm(c.id)
    text = s.ubcd.status_text()
    lines = text.splitlines()
    check_eq(lines[0], "Version: 2.5", "line 1")
    check_eq(lines[1].rstrip(), _row("uid", "resource",
                                     ["held", "maxheld", "barrier", "limit", "failcnt"]),
             "header line")
    table = parse_ubc_table(text)
    check(c.id in table, f"{c.id} not in the table:\n{text}")
    start = next(i for i, ln in enumerate(lines) if ln.split() and ln.split()[0] == f"{c.id}:")
    block = lines[start:start + 24]
    check_eq([ln.split()[-6] for ln in block], RESOURCES, "resource rows in order")
    check(block[0].startswith(f"{c.id}:".rjust(10) + "  kmemsize"),
          f"first row of the container: {block[0]!r}")
    priv = [pv["held"], pv["maxheld"], pv["barrier"], pv["limit"], pv["failcnt"]]
    check_eq(block[2], _row("", "privvmpages", priv), "privvmpages row")
    check_eq(priv[2:], [4096, 5120, 1], "barrier, limit, failcnt")
    for ln in block[1:]:
        check(ln.startswith(" " * 10 + "  "), f"uid cell not blank after the first row: {ln!r}")
    c.stop()


def test_status_json_fields():
    """ubcd --status --json prints the REST API's /v1/containers document."""
    s = Session("runc")
    c = s.supervised("4096:8192", profile="openvz")
    doc = s.ubcd.status_json()
    entry = next(e for e in doc["containers"] if e["id"] == c.id)
    for key in ("id", "state", "processes", "notify_fds", "profile", "beancounters"):
        check(key in entry, f"status JSON entry lacks {key!r}: {entry}")
    pv = entry["beancounters"]["privvmpages"]
    for key in ("held", "maxheld", "barrier", "limit"):
        check(isinstance(pv.get(key, {}).get("pages"), int),
              f"privvmpages.{key}.pages is not an integer: {pv}")
    check(isinstance(pv.get("failcnt"), int), f"privvmpages.failcnt is not an integer: {pv}")
    check("source" in pv, f"privvmpages has no source: {pv}")
    check_eq(entry["state"], "running", "state")
    check_eq(entry["profile"], "openvz", "profile")
    check_eq((pv["barrier"]["pages"], pv["limit"]["pages"]), (4096, 8192), "barrier, limit")
    c.stop()


def test_status_fails_when_not_running():
    require_root()
    workdir = make_temp_dir("ubct")
    ubcd = Ubcd(require_built("UBCD"), workdir)  # configured, never started
    for extra in ([], ["--json"]):
        res = run([ubcd.binary, "--status", *extra, "--config", ubcd.config_path],
                  check_rc=False, timeout_s=20)
        check_eq(res.returncode, 1, f"exit code of ubcd --status {' '.join(extra)}")
        check((res.stdout + res.stderr).strip(), "ubcd --status printed no message")


def _signal_exits_cleanly(sig):
    s = Session("runc")
    c = s.supervised("4096:4096")
    c.probe.ok("mmap 1M")
    c.stop()
    rc = s.ubcd.stop(sig, timeout_s=15)
    check_eq(rc, 0, f"ubcd exit code after {signal.Signals(sig).name}")


def test_sigterm_exits_cleanly():
    _signal_exits_cleanly(signal.SIGTERM)


def test_sigint_exits_cleanly():
    _signal_exits_cleanly(signal.SIGINT)


def test_container_retired_after_exit():
    s = Session("runc")
    c = s.supervised("4096:4096")
    c.probe.err("mmap 64M")
    c.stop()
    entry = s.ubcd.wait_container(c.id, lambda e: e["state"] == "retired", timeout_s=15,
                                  what="state retired")
    check_eq(entry["privvmpages"]["failcnt"], 1, "failcnt kept after retirement")


def test_annotation_syntax():
    s = Session("runc")
    for value in ("16M:20M", "4096", "1.5G:unlimited", "256M:272M", "1000P:8M"):
        c = s.supervised(value)
        pv = s.ubcd.privvm(c.id)
        parts = value.split(":")
        barrier = parse_vz_pages(parts[0])
        limit = parse_vz_pages(parts[1] if len(parts) > 1 else parts[0])
        check_eq((pv["barrier"], pv["limit"]), (barrier, limit), f"limits from {value!r}")
        c.stop()
    check_eq(parse_vz_pages("unlimited"), LONG_MAX, "LONG_MAX")


def test_opt_in_all_uses_defaults():
    s = Session("runc", opt_in="all",
                ubcd_defaults={"privvmpages": "2048:2048", "profile": "bc2006"})
    c = s.container()  # no annotations
    entry = s.ubcd.wait_container(c.id)
    check_eq((entry["privvmpages"]["barrier"], entry["privvmpages"]["limit"]), (2048, 2048),
             "default limits")
    check_eq(entry["profile"], "bc2006", "default profile")
    c.probe.err("mmap 16M")
    c.probe.ok("mmap 1M")
    c.stop()


def test_a_refusal_loop_makes_a_bounded_log():
    """A program refused in a loop at its barrier (Python's allocation loop made 22,806
    lines in one second) writes at most 10 refusal lines per call and resource in 10 s, then
    one summary line with the exact count of the rest; failcnt and the refusal events
    count every refusal."""
    s = Session("runc")
    c = s.supervised("4096:4096")
    refusals = 120
    for _ in range(refusals):
        c.probe.err("mmap 64M")
    c.probe.err("sbrk 64M")  # another call has its own budget
    pv = s.ubcd.privvm(c.id)
    check_eq(pv["failcnt"], refusals + 1, "failcnt counts every refusal")
    events = get_json(s.ubcd, f"/v1/containers/{c.id}/events",
                      "rest-events.schema.json")["events"]
    check_eq(len([e for e in events if e["syscall"] == "mmap"]), refusals,
             "refusal events of mmap")
    lines = s.ubcd.refusal_lines(c.id)
    mmap_lines = [ln for ln in lines if "syscall=mmap " in ln]
    check_eq(len(mmap_lines), 10, f"refusal lines of mmap: {lines}")
    check(any("syscall=brk " in ln for ln in lines), f"the brk refusal was not logged: {lines}")
    summary = f"{refusals - 10} more refusals of mmap (resource=privvmpages) in container={c.id}"
    wait_until(lambda: summary in s.ubcd.log(), timeout_s=15,
               what=lambda: f"summary line {summary!r} in ubcd's log")
    check(f"{summary} in the last 10 s" in s.ubcd.log(), "the summary's interval")
    check(s.ubcd.alive(), "ubcd died")
    c.stop()


def test_stuck_status_clients_do_not_hold_up_ubcd_status():
    """100 clients that connect to the status socket and never send a line nor read
    (issue #12 saw `ubcd --status` hang for 12 minutes): a real `ubcd --status` is answered
    within a second, and the stuck ones are closed by their 2 s deadline."""
    s = Session("runc")
    c = s.supervised("16M:20M")
    stuck = []
    try:
        for _ in range(100):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(s.ubcd.status_path)
            stuck.append(sock)
        start = time.monotonic()
        text = s.ubcd.status_text()
        elapsed = time.monotonic() - start
        check(c.id in text, f"the status lists the container:\n{text}")
        check(elapsed < 1.0, f"ubcd --status took {elapsed:.2f} s behind 100 stuck clients")
        stuck[0].settimeout(5)
        check_eq(stuck[0].recv(1), b"", "a stuck client is closed by its deadline")
    finally:
        for sock in stuck:
            sock.close()
    check(s.ubcd.alive(), "ubcd survived")
    c.stop()


def test_vz_configs_imported_with_ubcctl_limit_a_matching_container():
    """An operator's OpenVZ config (the light sample: PRIVVMPAGES='24M:28M', NUMPROC,
    MEMINFO, NAME) goes through `ubcctl import-vz --dir` into ubcd's containers.d; after
    SIGHUP a runc container named like the CT, with no ubc annotation, is opted in by
    that file: its limits are the imported ones (source config-file), an allocation past
    24 MiB gets ENOMEM, and sysinfo shows the imported MEMINFO. A second import of the
    same CT is refused without --force; every unmapped parameter is reported."""
    s = Session("runc")
    name = f"vzct-{os.getpid()}-{int(time.monotonic() * 1000) % 100000}"
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "..", "fixtures", "vz", "ve-light.conf"), encoding="ascii") as f:
        sample = f.read().replace('NAME="light-1"', f'NAME="{name}"')
    conf = os.path.join(s.workdir, "4242.conf")
    with open(conf, "w", encoding="ascii") as f:
        f.write(sample)
    res = run([require_built("UBCCTL"), "import-vz", conf, "--dir", s.ubcd.containers_dir],
              check_rc=False, timeout_s=20)
    check_eq(res.returncode, 0, f"import-vz: {res.stderr}")
    check("not mapped: KMEMSIZE" in res.stderr, f"unmapped parameters reported: {res.stderr}")
    written = os.path.join(s.ubcd.containers_dir, "vz-4242.json")
    check(os.path.isfile(written), f"{written} written")
    again = run([require_built("UBCCTL"), "import-vz", conf, "--dir", s.ubcd.containers_dir],
                check_rc=False, timeout_s=20)
    check(again.returncode == 1 and "exists" in again.stderr, f"second import: {again.stderr}")
    s.ubcd.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: "reloaded " + s.ubcd.containers_dir in s.ubcd.log(), timeout_s=5,
               what="ubcd reading the imported file")
    c = s.container(annotations={"nerdctl/name": name})
    info = s.ubcd.wait_container(c.id)
    check_eq(info["limits_source"], "config-file", "privvmpages source")
    check_eq((info["privvmpages"]["barrier"], info["privvmpages"]["limit"]), (6144, 7168),
             "imported privvmpages")
    check_eq(c.probe.ok("sysinfo")[0], "32768", "sysinfo totalram under the imported MEMINFO")
    c.probe.err("mmap 32M")
    check_eq(s.ubcd.privvm(c.id)["failcnt"], 1, "failcnt")
    c.stop()


def test_proc_view_reaches_runtimes_from_a_private_mount_namespace():
    """ubcd in a mount namespace of its own whose mounts do not propagate back (what
    systemd makes for ProtectSystem=, PrivateTmp=: a slave of the host's) mounts the proc
    view in its starter's namespace (here the test's, the host's; systemd's PID 1 under a
    unit), where runc binds it into the container."""
    s = Session("runc", start_ubcd=False)
    s.ubcd = Ubcd(require_built("UBCD"), os.path.join(s.workdir, "ubcd"))
    unshare = require_tool("unshare")

    def spawn(argv, log_path):
        with open(log_path, "ab") as logf:
            return subprocess.Popen([unshare, "--mount", "--propagation", "slave", *argv],
                                    stdin=subprocess.DEVNULL, stdout=logf, stderr=logf)

    s.ubcd.start(spawn=spawn)
    check(os.stat(f"/proc/{s.ubcd.proc.pid}/ns/mnt").st_ino != os.stat("/proc/self/ns/mnt").st_ino,
          "ubcd is not in a mount namespace of its own")
    s.settings_path = write_hook_settings(os.path.join(s.workdir, "hook-settings.json"), s.ubcd,
                                          runtime=s.runtime.binary)
    c = s.supervised("16384:16384")
    meminfo = c.run("cat", "/proc/meminfo").stdout
    check(re.search(r"^MemTotal: +65536 kB$", meminfo, re.M) is not None,
          f"/proc/meminfo in the container:\n{meminfo}")
    check("proc view: mounted in the mount namespace of ubcd's starter" in s.ubcd.log(),
          f"ubcd log:\n{s.ubcd.log()}")
    c.stop()
