"""The probe channel: talking to ubc-probe (tests/programs/ubc_probe.c) over pipes.

What it owns: the line protocol with a probe running as a container's init or exec'd into
it (one command line in, one result line out, with timeouts and the probe's stderr on
failure), and `pages(n)`, the probe's size argument for n pages.

Python 3.11 standard library only.
"""

import os
import select
import subprocess
import time

from files import read_text, tail
from outcome import log

DEFAULT_TIMEOUT_S = 30.0


class ProbeChannel:
    """Line protocol with ubc-probe over a Popen's stdin/stdout: one command line in,
    one result line out."""

    def __init__(self, proc, label, stderr_path=None):
        self.proc = proc
        self.label = label
        self.stderr_path = stderr_path
        self._buf = b""

    def _describe_exit(self):
        err = read_text(self.stderr_path) if self.stderr_path else ""
        return f"{self.label} exited (rc {self.proc.poll()}); stderr:\n{tail(err)}"

    def send(self, line):
        try:
            self.proc.stdin.write((line + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise AssertionError(f"cannot send {line!r}: {exc}; {self._describe_exit()}") \
                from exc

    def read_line(self, timeout_s=DEFAULT_TIMEOUT_S, what="a reply"):
        deadline = time.monotonic() + timeout_s
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {what} from {self.label} within {timeout_s}s "
                                     f"(partial {self._buf!r})")
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                raise AssertionError(f"EOF waiting for {what}; {self._describe_exit()}")
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return line.decode("utf-8", "replace").strip()

    def cmd(self, line, timeout_s=DEFAULT_TIMEOUT_S):
        """Sends one command and returns its result line."""
        self.send(line)
        reply = self.read_line(timeout_s, what=f"reply to {line!r}")
        log(f"{self.label}: {line} -> {reply}")
        return reply

    def ok(self, line, timeout_s=DEFAULT_TIMEOUT_S):
        """Sends a command that must succeed; returns the fields after "ok"."""
        reply = self.cmd(line, timeout_s)
        fields = reply.split()
        if not fields or fields[0] != "ok":
            raise AssertionError(f"{self.label}: expected ok for {line!r}, got {reply!r}")
        return fields[1:]

    def err(self, line, expected="ENOMEM", timeout_s=DEFAULT_TIMEOUT_S):
        reply = self.cmd(line, timeout_s)
        if reply != f"err {expected}":
            raise AssertionError(f"{self.label}: expected 'err {expected}' for {line!r}, "
                                 f"got {reply!r}")
        return reply

    def statm(self):
        return int(self.ok("statm")[0])

    def pid(self):
        return int(self.ok("pid")[0])

    def close(self, timeout_s=10.0):
        """Asks the probe to exit and waits for the process (runc run / exec) to end."""
        if self.proc.poll() is None:
            try:
                self.send("exit")
                self.read_line(timeout_s=5, what="exit reply")
            except AssertionError:
                pass
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                pass
        return self.proc.poll()


def pages(n):
    """Probe size argument for n pages."""
    return f"{int(n)}P"
