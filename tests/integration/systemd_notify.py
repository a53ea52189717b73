"""systemd's side of the notify protocol, for the fd-custody test (there is no systemd as
PID 1 here): what a unit with NotifyAccess=main and FileDescriptorStoreMax= does.

What it owns: a datagram socket in the test's dir that it passes as NOTIFY_SOCKET, a
thread that takes messages from the service's main process only (SCM_CREDENTIALS, as
NotifyAccess=main) and keeps the fds of `FDSTORE=1` messages under their FDNAME
(one copy per file, as systemd compares them), removes them on `FDSTOREREMOVE=1`, and
drops a stored fd that hangs up (POLLHUP/POLLERR, as systemd does). start() runs the
service with the stored fds at 3, 4, ... and LISTEN_FDS, LISTEN_FDNAMES and LISTEN_PID
set, as systemd does at a restart.

Python 3.11 standard library only.
"""

import array
import fcntl
import os
import select
import socket
import struct
import subprocess
import threading

from cleanup import add_cleanup
from outcome import log


class FakeSystemd:
    def __init__(self, workdir):
        self.socket_path = os.path.join(workdir, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self.sock.bind(self.socket_path)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.main_pid = None
        self.stored = {}  # name -> [fd], in arrival order
        self.messages = []  # (pid, text) of every message accepted
        self.ignored = []  # (pid, text) from processes other than the main one
        self._lock = threading.Lock()
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        add_cleanup("fake systemd", self.close)

    def close(self):
        self._stop = True
        self._thread.join(timeout=5)
        self.sock.close()
        with self._lock:
            for fds in self.stored.values():
                for fd in fds:
                    os.close(fd)
            self.stored.clear()

    def names(self):
        with self._lock:
            return sorted(self.stored)

    def _run(self):
        cred_size = struct.calcsize("3i")
        while not self._stop:
            ready, _, _ = select.select([self.sock], [], [], 0.1)
            if ready:
                msg, ancdata, _, _ = self.sock.recvmsg(
                    4096, socket.CMSG_SPACE(253 * 4) + socket.CMSG_SPACE(cred_size))
                fds, pid = [], None
                for level, kind, data in ancdata:
                    if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                        arr = array.array("i")
                        arr.frombytes(data[:len(data) - len(data) % arr.itemsize])
                        fds.extend(arr)
                    elif level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                        pid = struct.unpack("3i", data[:cred_size])[0]
                self._handle(pid, msg.decode(errors="replace"), fds)
            self._drop_hung_up()

    def _handle(self, pid, text, fds):
        if pid != self.main_pid:
            self.ignored.append((pid, text))
            for fd in fds:
                os.close(fd)
            return
        self.messages.append((pid, text))
        fields = dict(line.split("=", 1) for line in text.split("\n") if "=" in line)
        name = fields.get("FDNAME", "stored")
        with self._lock:
            if fields.get("FDSTOREREMOVE") == "1":
                for fd in self.stored.pop(name, []):
                    os.close(fd)
            if fields.get("FDSTORE") == "1":
                for fd in fds:
                    if any(os.path.samestat(os.fstat(fd), os.fstat(kept))
                           for kept_fds in self.stored.values() for kept in kept_fds):
                        os.close(fd)
                    else:
                        self.stored.setdefault(name, []).append(fd)
                fds = []
        for fd in fds:
            os.close(fd)

    def _drop_hung_up(self):
        with self._lock:
            poller = select.poll()
            for fds in self.stored.values():
                for fd in fds:
                    poller.register(fd, 0)  # POLLHUP and POLLERR are always reported
            gone = {fd for fd, ev in poller.poll(0) if ev & (select.POLLHUP | select.POLLERR)}
            for name in list(self.stored):
                for fd in [f for f in self.stored[name] if f in gone]:
                    os.close(fd)
                    self.stored[name].remove(fd)
                if not self.stored[name]:
                    del self.stored[name]

    def start(self, argv, log_path, extra_env=None):
        """Runs ARGV as the unit's main process: NOTIFY_SOCKET, and every stored fd passed
        at 3, 4, ... with LISTEN_FDS, LISTEN_FDNAMES and LISTEN_PID (its own pid)."""
        with self._lock:
            passed = [(name, fd) for name, fds in self.stored.items() for fd in fds]
        env = dict(os.environ, NOTIFY_SOCKET=self.socket_path, **(extra_env or {}))
        env.pop("LISTEN_FDS", None)
        if passed:
            env["LISTEN_FDS"] = str(len(passed))
            env["LISTEN_FDNAMES"] = ":".join(name for name, _ in passed)
        sources = [fd for _, fd in passed]

        def preexec():
            high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 1000) for fd in sources]  # out of the way
            for i, fd in enumerate(high):
                os.dup2(fd, 3 + i)  # without close-on-exec
            os.closerange(3 + len(high), 65536)

        # LISTEN_PID must be the service's own pid: the shell's, which exec keeps.
        wrapped = ["/bin/sh", "-c", 'LISTEN_PID=$$ exec "$0" "$@"', *argv] if passed else argv
        logf = open(log_path, "ab")  # noqa: SIM115 - owned by the Popen below
        try:
            proc = subprocess.Popen(wrapped, stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                                    env=env, close_fds=False, preexec_fn=preexec)
        finally:
            logf.close()
        self.main_pid = proc.pid
        log(f"fake systemd: started pid {proc.pid} with {len(passed)} stored fds "
            f"({sorted({n for n, _ in passed})})")
        return proc

