"""ubcd's least privilege: after start-up it keeps only CAP_SYS_PTRACE and CAP_KILL (and
still supervises containers with them: CAP_KILL for an exec'd image it must kill in a
container of another user), the fd store keeps none, files it creates are 0600, and
it refuses to start with a config file or directory others can write."""

import os

from cleanup import make_temp_dir
from outcome import check, check_eq, require_built, require_root, wait_until
from procs import pids_where, run
from session import Session
from ubcd import Ubcd

CAP_SYS_PTRACE = 1 << 19
CAP_KILL = 1 << 5
KEPT = CAP_SYS_PTRACE | CAP_KILL


def _status_field(pid, name):
    with open(f"/proc/{pid}/status", encoding="utf-8") as f:
        for line in f:
            if line.startswith(name + ":"):
                return line.split()[1]
    raise AssertionError(f"/proc/{pid}/status has no {name}")


def _task_ids(pid):
    return [int(t) for t in os.listdir(f"/proc/{pid}/task")]


def test_keeps_only_cap_sys_ptrace_and_cap_kill():
    s = Session("runc")
    c = s.supervised("16M:20M")  # a notify thread exists now
    data = c.probe.statm()
    c.probe.err(f"mmap {4096 - data + 1}P")  # decisions still work without the others
    pid = s.ubcd.proc.pid
    for tid in _task_ids(pid):
        try:
            with open(f"/proc/{pid}/task/{tid}/status", encoding="utf-8") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
        except FileNotFoundError:
            continue  # the thread ended after the listing: it holds nothing any more
        check_eq(int(fields["CapEff"].strip(), 16), KEPT, f"CapEff of thread {tid}")
        check_eq(int(fields["CapPrm"].strip(), 16), KEPT, f"CapPrm of thread {tid}")
        check_eq(int(fields["CapBnd"].strip(), 16), KEPT, f"CapBnd of thread {tid}")
        check_eq(fields["NoNewPrivs"].strip(), "1", f"NoNewPrivs of thread {tid}")
    store = os.path.join(s.ubcd.state_dir, "fdstore.sock")
    check(os.path.exists(store), "no fd store socket")
    for name in ("fdstore.sock", "inflight"):
        mode = os.stat(os.path.join(s.ubcd.state_dir, name)).st_mode & 0o777
        check_eq(oct(mode), oct(0o600), f"mode of {name}")
    for sock in (s.ubcd.listener_path, s.ubcd.status_path):
        check_eq(oct(os.stat(sock).st_mode & 0o777), oct(0o600), f"mode of {sock}")
    wait_until(lambda: os.path.exists(os.path.join(s.ubcd.state_dir, "state.json")),
               timeout_s=5, what="state file")
    check_eq(oct(os.stat(os.path.join(s.ubcd.state_dir, "state.json")).st_mode & 0o777),
             oct(0o600), "mode of state.json")
    c.stop()


def test_fd_store_keeps_no_capability():
    s = Session("runc")
    c = s.supervised("16M:20M")
    config = s.ubcd.config_path.encode()
    pids = pids_where(lambda argv: b"--fd-store" in argv and config in argv)
    check_eq(len(pids), 1, "fd store processes for this ubcd")
    check_eq(int(_status_field(pids[0], "CapEff"), 16), 0, "fd store CapEff")
    check_eq(int(_status_field(pids[0], "CapBnd"), 16), 0, "fd store CapBnd")
    c.stop()


def test_refuses_config_others_can_write():
    require_root()
    workdir = make_temp_dir("ubct")
    ubcd = Ubcd(require_built("UBCD"), workdir)
    os.chmod(ubcd.config_path, 0o666)
    res = run([ubcd.binary, "--config", ubcd.config_path], check_rc=False, timeout_s=20)
    check_eq(res.returncode, 1, "exit code with a world-writable config")
    check("writable by group or others" in res.stderr, f"message: {res.stderr!r}")
    os.chmod(ubcd.config_path, 0o644)
    os.chmod(ubcd.containers_dir, 0o777)
    res = run([ubcd.binary, "--config", ubcd.config_path], check_rc=False, timeout_s=20)
    check_eq(res.returncode, 1, "exit code with a world-writable containers dir")
    check(ubcd.containers_dir in res.stderr, f"message names the directory: {res.stderr!r}")
