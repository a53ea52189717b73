"""ubcd's REST API runs in an HTTP process of its own (supervisor/rest_keeper.h): a real
ubcd with real runc containers, the HTTP process found by its argv and checked from
/proc (its user, its capabilities, its fds: no notify fd, nothing of ubcd's), killed
with SIGKILL and started again by its keeper while decisions go on, gone with ubcd, and
flooded with idle connections by an unprivileged user (uid 65534) until it refuses
them: containers still start, a refusal still refuses, ubcd's own fds do not move and
the API answers again once the flood is over."""

import os
import signal
import socket
import subprocess
import sys
import time

from outcome import check, check_eq, wait_until
from probe import pages
from procs import fd_targets, pids_where
from session import Session
from test_rest import http, validate, wait_rest

# The flood fills a listen backlog and thousands of sockets: alone on the machine.
SERIAL = True


def _worker_pids(ubcd):
    port = str(ubcd.config["rest"]["port"]).encode()
    return pids_where(lambda argv: len(argv) > 1 and argv[1] == b"--rest-worker"
                      and port in argv)


def _worker(ubcd):
    wait_until(lambda: len(_worker_pids(ubcd)) == 1, timeout_s=10, what="one HTTP process")
    return _worker_pids(ubcd)[0]


def _status_field(pid, name):
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(name + ":"):
                return line.split(":", 1)[1].split()
    raise AssertionError(f"no {name} in /proc/{pid}/status")


def _rest_up(ubcd):
    try:
        return http("GET", ubcd.rest_url + "/healthz", timeout_s=2)[0] == 200
    except OSError:
        return False


def _session():
    s = Session("runc")
    wait_rest(s.ubcd)
    return s


def test_the_http_process_is_unprivileged_and_holds_nothing_of_ubcds():
    s = _session()
    c = s.supervised("16M:20M")
    worker = _worker(s.ubcd)
    keeper = int(_status_field(worker, "PPid")[0])
    check_eq(int(_status_field(keeper, "PPid")[0]), s.ubcd.proc.pid, "the keeper is ubcd's child")
    uids = [int(u) for u in _status_field(worker, "Uid")]
    check(all(u != 0 for u in uids) and len(set(uids)) == 1, f"HTTP process uids {uids}")
    check_eq(_status_field(worker, "CapEff")[0], "0000000000000000", "effective capabilities")
    check_eq(_status_field(worker, "CapPrm")[0], "0000000000000000", "permitted capabilities")
    check_eq(_status_field(worker, "NoNewPrivs")[0], "1", "no_new_privs")
    keeper_caps = int(_status_field(keeper, "CapEff")[0], 16)
    check_eq(keeper_caps, (1 << 5) | (1 << 6) | (1 << 7),
             "the keeper keeps CAP_KILL, CAP_SETGID and CAP_SETUID only")
    # Its fds: stdio, the socket to ubcd, and cpprestsdk's own (sockets, epoll,
    # eventfds); never a notify fd, the listener, or a file of ubcd's.
    targets = fd_targets(worker)
    bad = [t for t in targets
           if not (t.startswith(("socket:", "anon_inode:[eventpoll]", "anon_inode:[eventfd]", "anon_inode:[timerfd]",
                                 "pipe:", "/dev/null", "/dev/pts/", "/dev/urandom"))
                   or t == os.readlink(f"/proc/{s.ubcd.proc.pid}/fd/2"))]
    check(not bad, f"the HTTP process holds {bad}")
    check(not any("seccomp" in t for t in targets), f"a notify fd in the HTTP process: {targets}")
    check_eq(len([t for t in fd_targets(keeper) if t.startswith("socket:")]), 1,
             "the keeper holds only its link to ubcd")
    code, _, body = http("GET", f"{s.ubcd.rest_url}/v1/containers/{c.id}")
    check_eq(code, 200, f"REST through the HTTP process: {body}")
    c.stop()


def test_a_killed_http_process_is_started_again_while_decisions_go_on():
    s = _session()
    c = s.supervised("16M:20M")
    first = _worker(s.ubcd)
    os.kill(first, signal.SIGKILL)
    # Decisions do not involve the HTTP process.
    data = c.probe.statm()
    c.probe.err(f"mmap {pages(4096 - data + 1)}")
    c.probe.ok(f"mmap {pages(1)}")
    wait_until(lambda: _worker_pids(s.ubcd) not in ([], [first]) and _rest_up(s.ubcd),
               timeout_s=15, what="REST answered by a new HTTP process")
    check(first not in _worker_pids(s.ubcd), "the killed HTTP process is gone")
    check(f"(pid {first}," in s.ubcd.log() and "was killed by Killed" in s.ubcd.log(),
          f"ubcd logs the exit:\n{s.ubcd.log()}")
    code, _, body = http("GET", f"{s.ubcd.rest_url}/v1/containers/{c.id}")
    check_eq(code, 200, body)
    check('"failcnt": 1' in body.replace('"failcnt":1', '"failcnt": 1'), f"failcnt kept: {body}")
    check(s.ubcd.alive(), "ubcd survived")
    c.stop()


def test_the_http_process_ends_with_ubcd_and_comes_back_with_it():
    s = _session()
    worker = _worker(s.ubcd)
    keeper = int(_status_field(worker, "PPid")[0])
    s.ubcd.stop(signal.SIGKILL)
    wait_until(lambda: not os.path.exists(f"/proc/{worker}") and
               not os.path.exists(f"/proc/{keeper}/status"),
               timeout_s=10, what="HTTP process and keeper gone with ubcd")
    s.ubcd.start()
    wait_rest(s.ubcd)
    check(_worker(s.ubcd) != worker, "a new HTTP process")


FLOOD = r"""
import os, resource, socket, sys, time
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
port, limit = int(sys.argv[1]), int(sys.argv[2])
socks, refused = [], 0
while len(socks) < limit and refused < 10:
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=0.2)
        socks.append(s)
    except OSError:
        refused += 1
print(len(socks), refused, flush=True)
sys.stdin.read()
"""


def test_an_unprivileged_flood_of_idle_connections_reaches_no_decision():
    s = _session()
    c = s.supervised("16M:20M")
    ubcd_fds = len(fd_targets(s.ubcd.proc.pid))
    flood = subprocess.Popen(["/usr/bin/python3", "-c", FLOOD, str(s.ubcd.config["rest"]["port"]),
                              "20000"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             user=65534, group=65534, text=True)
    try:
        opened, _ = (int(x) for x in flood.stdout.readline().split())
        check(opened > 1000, f"the flood connected {opened} times")
        # ubcd holds no fd of the flood; a new container starts and is decided.
        check(len(fd_targets(s.ubcd.proc.pid)) <= ubcd_fds + 4,
              f"ubcd's fds went from {ubcd_fds} to {len(fd_targets(s.ubcd.proc.pid))}")
        other = s.supervised("16M:20M")
        data = other.probe.statm()
        other.probe.err(f"mmap {pages(4096 - data + 1)}")
        other.probe.ok(f"mmap {pages(1)}")
        check(s.ubcd.privvm(other.id)["failcnt"] == 1, "the refusal is counted")
        check(s.ubcd.status_text().startswith("Version: 2.5"), "the status socket answers")
        # Root has connections of its own: the flood of one user never locks it out.
        start = time.monotonic()
        code, _, body = http("GET", f"{s.ubcd.rest_url}/v1/containers/{other.id}", timeout_s=5)
        elapsed = time.monotonic() - start
        check_eq(code, 200, f"root's request during the flood: {body}")
        check(elapsed < 1.0, f"root's request took {elapsed:.2f} s during the flood")
        # The flood holds at most its per-user cap of the HTTP process's fds.
        held = len(fd_targets(_worker(s.ubcd)))
        check(held <= 64 + 16, f"the HTTP process holds {held} fds during the flood")
        check("rest: uid 65534 is at its cap of 64 connections" in s.ubcd.log(),
              f"the cap is logged:\n{s.ubcd.log()[-2000:]}")
    finally:
        flood.stdin.close()
        flood.wait(timeout=30)
    wait_until(lambda: _rest_up(s.ubcd), timeout_s=20, what="REST answers once the flood is over")
    log = s.ubcd.log()
    check(len(log) < 200_000, f"the log grew to {len(log)} bytes")
    other.stop()
    c.stop()


def _raw(ubcd, data, timeout_s=5):
    """Sends raw bytes, returns (status, body) of the answer read to its end."""
    port = ubcd.config["rest"]["port"]
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    reply = b"".join(chunks).decode("latin-1")
    head, _, body = reply.partition("\r\n\r\n")
    return int(head.split()[1]), body


def test_odd_requests_get_the_documented_json_errors():
    s = _session()
    worker = _worker(s.ubcd)
    with open(s.ubcd.token_path, encoding="ascii") as f:
        token = f.read().strip().encode()
    cases = [
        (b"GET /%%%%% HTTP/1.1\r\nHost: x\r\n\r\n", 404),
        (b"GET /v1/containers/a%2 HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"GET /" + b"a" * (16 * 1024 * 1024) + b" HTTP/1.1\r\n\r\n", 431),
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET / HTTP/3.0\r\n\r\n", 505),
        (b"GET /healthz HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
        (b"PATCH /v1/containers/x HTTP/1.1\r\nAuthorization: Bearer " + token +
         b"\r\nContent-Length: 99999999\r\n\r\n{", 413),
    ]
    for data, want in cases:
        try:
            code, body = _raw(s.ubcd, data)
        except OSError as exc:  # the 16 MiB line is cut off while still being sent
            check(want == 431, f"{data[:40]!r}: {exc}")
            continue
        check_eq(code, want, f"status of {data[:40]!r}")
        validate("rest-error.schema.json", body)
    rss_kib = int(_status_field(worker, "VmRSS")[0])
    check(rss_kib < 64 * 1024, f"the HTTP process's RSS is {rss_kib} KiB after a 16 MiB URL")
    check(s.ubcd.alive(), "ubcd survived")
