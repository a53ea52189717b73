"""ubcd's listener socket against bad peers: non-root peers, garbage, oversized and
malformed messages, fds that are not seccomp listeners, silent connections. Each gets a
log line and nothing else is affected: a real container started meanwhile is still
supervised, and ubcd keeps no fd of the bad peers once they hang up."""

import json
import os
import socket
import subprocess
import time

from outcome import check, check_eq, wait_until
from probe import pages
from procs import fd_targets
from session import Session


def _ubcd_fd_count(ubcd):
    return len(os.listdir(f"/proc/{ubcd.proc.pid}/fd"))


def _connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return s


def _state(cid, fds=("seccompFd",)):
    return json.dumps({"ociVersion": "1.0.2-dev", "fds": list(fds), "pid": 1, "metadata": "",
                       "state": {"ociVersion": "1.0.2-dev", "id": cid, "status": "creating",
                                 "pid": 1, "bundle": "/nonexistent"}}).encode()


def _wait_log(ubcd, text, what):
    wait_until(lambda: text in ubcd.log(), timeout_s=5, what=what)


def _supervised_still_works(s):
    c = s.supervised("16M:20M")
    data = c.probe.statm()
    c.probe.err(f"mmap {pages(4096 - data + 1)}")
    c.probe.ok(f"mmap {pages(4096 - data)}")
    c.stop()


def test_non_root_peer_refused():
    s = Session("runc")
    # The socket is 0600 in a 0700 directory: the kernel already keeps non-root out.
    check(os.stat(s.ubcd.listener_path).st_mode & 0o777 == 0o600, "listener socket mode")
    # Open it up to reach ubcd's own SO_PEERCRED check behind the file mode.
    d = os.path.dirname(s.ubcd.listener_path)
    while True:  # the test's own directories, up to its temp dir
        os.chmod(d, 0o755)
        if os.path.samefile(d, s.workdir):
            break
        d = os.path.dirname(d)
    os.chmod(s.ubcd.listener_path, 0o666)
    pid = os.fork()
    if pid == 0:
        try:
            os.setgid(65534)
            os.setuid(65534)
            conn = _connect(s.ubcd.listener_path)
            r, w = os.pipe()
            try:
                socket.send_fds(conn, [_state("intruder")], [r])
                time.sleep(0.5)
            except (BrokenPipeError, ConnectionResetError):
                pass  # ubcd hung up on us: what this test expects
            os._exit(0)
        except BaseException as e:  # noqa: BLE001 - reported by the parent
            os.write(2, f"unprivileged child: {e!r}\n".encode())
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    check(os.waitstatus_to_exitcode(status) == 0, "the unprivileged child could not connect")
    _wait_log(s.ubcd, "refused connection from non-root", "refusal of the non-root peer")
    check("intruder" not in s.ubcd.log(), "a non-root peer's message was read")
    check(s.ubcd.container("intruder") is None, "a non-root peer registered a container")
    _supervised_still_works(s)


def test_bad_messages_each_logged_nothing_else_affected():
    s = Session("runc")
    path = s.ubcd.listener_path
    fds_before = _ubcd_fd_count(s.ubcd)

    silent = _connect(path)  # connects and never sends: must not block anyone

    garbage = _connect(path)
    garbage.sendall(b"\x00\xffnot json at all\n")

    array = _connect(path)
    array.sendall(b'["seccompFd"]')

    no_fd = _connect(path)
    no_fd.sendall(_state("ubct-nofd"))

    r, w = os.pipe()
    not_listener = _connect(path)
    socket.send_fds(not_listener, [_state("ubct-pipe")], [r])

    r2, w2 = os.pipe()
    two_fds = _connect(path)
    socket.send_fds(two_fds, [_state("ubct-two", fds=("seccompFd", "other"))], [r2, w2])

    truncated = _connect(path)
    truncated.sendall(_state("ubct-truncated")[:40])
    truncated.close()  # hangs up inside the message

    bad_json = _connect(path)
    bad_json.sendall(b'{"fds": ["seccompFd"], "state": {"id": "a/b", "status": "creating"}}')

    oversized = _connect(path)
    try:
        oversized.sendall(b'{"pad": "' + b"x" * (2 << 20) + b'"}')
    except (BrokenPipeError, ConnectionResetError):
        pass  # ubcd may close it before the whole message is written

    _wait_log(s.ubcd, "seccompFd is not a seccomp notify listener", "non-listener fd")
    for text in ("bad message from", "message names 1 fds but 0 arrived", "bad container state",
                 "hung up inside a message"):
        _wait_log(s.ubcd, text, text)
    for cid in ("ubct-nofd", "ubct-pipe", "ubct-two"):
        check(s.ubcd.container(cid) is None, f"{cid} was registered from a bad message")

    # With the silent connection still open, a real container is supervised.
    _supervised_still_works(s)
    check(s.ubcd.alive(), "ubcd died")

    for sock in (silent, garbage, array, no_fd, not_listener, two_fds, bad_json, oversized):
        sock.close()
    for fd in (r, w, r2, w2):
        os.close(fd)
    wait_until(lambda: _ubcd_fd_count(s.ubcd) <= fds_before, timeout_s=15,
               what=lambda: f"ubcd back to {fds_before} fds "
                            f"(has {sorted(fd_targets(s.ubcd.proc.pid))})")


_HOLDER = """
import socket, sys
held = []
for _ in range(int(sys.argv[2])):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sys.argv[1])
    held.append(s)
print("connected", flush=True)
sys.stdin.read()
"""


def test_thousands_of_connections():
    s = Session("runc")
    fds_before = _ubcd_fd_count(s.ubcd)
    # Another process holds them (this one reads probes with select(), limited to
    # fds below 1024).
    holder = subprocess.Popen(["/usr/bin/python3", "-c", _HOLDER, s.ubcd.listener_path, "3000"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        check_eq(holder.stdout.readline().strip(), b"connected", "3000 connections made")
        # ubcd holds them all (or refuses the ones past its own bound) and still works.
        _supervised_still_works(s)
        check(s.ubcd.alive(), "ubcd died")
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    wait_until(lambda: _ubcd_fd_count(s.ubcd) <= fds_before, timeout_s=15,
               what=lambda: f"ubcd back to {fds_before} fds (has {_ubcd_fd_count(s.ubcd)})")
