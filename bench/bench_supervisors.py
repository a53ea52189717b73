"""The supervisors the bench runs containers against: ubcd (BenchUbcd, its own minimal
wrapper) and the CONTINUE responder (the floor), plus the listener description that
hook settings need for the responder.

Imported by ubc_bench.py, which puts tests/integration (the integration-test
harness) on sys.path first.
"""

import json
import os
import subprocess

from cleanup import add_cleanup, remove_cleanup
from files import read_text, tail, write_json
from outcome import wait_until
from procs import run, stop_process, unix_socket_exists
from ubcd import flat_entry


class BenchUbcd:
    """ubcd in the foreground with a temp config (listener, status, state and containers.d
    in workdir). Kept here rather than using the tests' ubcd.Ubcd so that the suite only relies on
    the config keys every ubcd knows."""

    def __init__(self, binary, workdir, env=None, rest_port=None):
        self.binary = binary
        self.workdir = workdir
        self.listener_path = os.path.join(workdir, "ubcd.sock")
        self.status_path = os.path.join(workdir, "status.sock")
        self.state_dir = os.path.join(workdir, "state")
        self.containers_dir = os.path.join(workdir, "containers")
        self.config_path = os.path.join(workdir, "ubcd.json")
        self.log_path = os.path.join(workdir, "ubcd.log")
        self.env = env
        os.makedirs(self.state_dir, exist_ok=True)
        os.makedirs(self.containers_dir, exist_ok=True)
        write_json(self.config_path, {
            "listener_path": self.listener_path, "status_path": self.status_path,
            "state_dir": self.state_dir, "containers_dir": self.containers_dir,
            "defaults": {"privvmpages": "65536:69632", "profile": "bc2006"},
            "retire_after_seconds": 300, "log_level": "warning",
            # The REST API only where a group uses it, on its own port and token file.
            "rest": {"enabled": rest_port is not None, "address": "127.0.0.1",
                     "port": rest_port or 8765,
                     "token_file": os.path.join(workdir, "api-token")}})
        self.rest_url = f"http://127.0.0.1:{rest_port}" if rest_port else None
        self.proc = None

    def start(self):
        env = dict(os.environ)
        env.update(self.env or {})
        with open(self.log_path, "ab") as logf:
            self.proc = subprocess.Popen([self.binary, "--config", self.config_path],
                                         stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                                         env=env)
        proc = self.proc
        self._token = add_cleanup(f"stop ubcd {proc.pid}", lambda: stop_process(proc))
        wait_until(lambda: proc.poll() is not None or unix_socket_exists(self.listener_path),
                     15, 0.02, "ubcd listener socket")
        if proc.poll() is not None:
            raise AssertionError(f"ubcd exited: {tail(read_text(self.log_path))}")
        return self

    def stop(self):
        stop_process(self.proc)
        remove_cleanup(self._token)

    def status_json(self):
        res = run([self.binary, "--status", "--json", "--config", self.config_path],
                    timeout_s=30)
        return json.loads(res.stdout)

    def require_container(self, cid):
        for c in self.status_json().get("containers", []):
            if c.get("id") == cid:
                return flat_entry(c)
        raise AssertionError(f"{cid} not in ubcd status")

    def privvm(self, cid):
        return self.require_container(cid)["privvmpages"]

    def wait_container(self, cid):
        wait_until(lambda: any(c.get("id") == cid for c in
                                 self.status_json().get("containers", [])),
                     15, 0.1, f"{cid} in ubcd status")


class Listener:
    """What write_hook_settings needs of a supervisor."""

    def __init__(self, listener_path, containers_dir):
        self.listener_path = listener_path
        self.containers_dir = containers_dir


def start_responder(binary, workdir, read_statm=False):
    """The CONTINUE responder; with read_statm the floor of an exact decision (one pread of
    the caller's kept statm fd before each answer)."""
    name = "responder-statm" if read_statm else "responder"
    sock = os.path.join(workdir, name + ".sock")
    logf = open(os.path.join(workdir, name + ".log"), "ab")  # noqa: SIM115
    try:
        proc = subprocess.Popen([binary] + (["--read-statm"] if read_statm else []) + [sock],
                                stdin=subprocess.DEVNULL, stdout=logf, stderr=logf)
    finally:
        logf.close()
    add_cleanup(f"stop responder {proc.pid}", lambda: stop_process(proc))
    wait_until(lambda: unix_socket_exists(sock), 10, what="responder socket")
    return proc, sock
