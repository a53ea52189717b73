"""The Ubcd wrapper: one real ubcd per test, in the foreground.

What it owns: a per-test config (listener, status socket, state dir, containers.d, its own
REST port and token file, all in the test's dir), starting ubcd and waiting until it is
ready (listener socket and REST API), stopping it through the cleanup stack, and reading
it back: its log, refusal lines, `--status` as text or JSON, one container's entry.

Python 3.11 standard library only.
"""

import json
import os
import signal
import stat
import subprocess
import time

from cleanup import add_cleanup, add_debug_dump, remove_cleanup
from files import read_text, tail, write_json
from outcome import log, wait_until
from procs import free_port, run, stop_process


class Ubcd:
    """One ubcd in the foreground with a per-test config, listener and state in workdir."""

    def __init__(self, binary, workdir, defaults=None, retire_after_seconds=300,
                 log_level=None, extra_config=None):
        self.binary = binary
        self.workdir = workdir
        self.listener_path = os.path.join(workdir, "ubcd.sock")
        self.status_path = os.path.join(workdir, "status.sock")
        self.state_dir = os.path.join(workdir, "state")
        self.containers_dir = os.path.join(workdir, "containers")
        self.config_path = os.path.join(workdir, "ubcd.json")
        self.log_path = os.path.join(workdir, "ubcd.log")
        os.makedirs(self.state_dir, exist_ok=True)
        os.makedirs(self.containers_dir, exist_ok=True)
        self.config = {
            "listener_path": self.listener_path,
            "status_path": self.status_path,
            "state_dir": self.state_dir,
            "containers_dir": self.containers_dir,
            "defaults": defaults or {"privvmpages": "65536:69632", "profile": "bc2006"},
            "retire_after_seconds": retire_after_seconds,
            "log_level": log_level or os.environ.get("UBCT_LOG_LEVEL", "info"),
            # Own port and token file: never the shared default 8765 or /etc/ubc/api-token.
            "rest": {"port": free_port(), "token_file": os.path.join(workdir, "api-token")},
        }
        if extra_config:
            self.config.update(extra_config)
        write_json(self.config_path, self.config)
        self.rest_url = f"http://127.0.0.1:{self.config['rest']['port']}"
        self.token_path = self.config["rest"]["token_file"]
        self.proc = None
        self._token = None

    def start(self, timeout_s=10.0, spawn=None):
        """SPAWN(argv, log_path) -> Popen starts it another way (systemd_notify.py)."""
        argv = [self.binary, "--config", self.config_path]
        if spawn is not None:
            self.proc = spawn(argv, self.log_path)
        else:
            logf = open(self.log_path, "ab")  # noqa: SIM115 - owned by the Popen below
            try:
                self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=logf,
                                             stderr=logf)
            finally:
                logf.close()
        self._token = add_cleanup(f"stop ubcd {self.proc.pid}", self._cleanup)
        add_debug_dump(f"ubcd log {self.log_path} (last 80 lines)",
                       lambda: tail(self.log(), 80))
        deadline = time.monotonic() + timeout_s
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"ubcd exited with {self.proc.returncode} before its "
                                     f"socket appeared:\n{tail(self.log())}")
            try:
                if stat.S_ISSOCK(os.stat(self.listener_path).st_mode):
                    break
            except FileNotFoundError:
                pass
            if time.monotonic() >= deadline:
                raise AssertionError(f"ubcd socket {self.listener_path} did not appear in "
                                     f"{timeout_s}s:\n{tail(self.log())}")
            time.sleep(0.02)
        # The REST API starts right after the listener; "ready" includes it (or its
        # logged failure), so a test never races its threads and fds.
        if self.config.get("rest", {}).get("enabled", True):
            while "rest api " not in self.log():
                if self.proc.poll() is not None or time.monotonic() >= deadline:
                    raise AssertionError(f"ubcd did not report its REST API in {timeout_s}s:\n"
                                         f"{tail(self.log())}")
                time.sleep(0.02)
        log(f"ubcd pid {self.proc.pid} ready at {self.listener_path}")
        return self

    def _cleanup(self):
        if self.proc is not None and self.proc.poll() is None:
            stop_process(self.proc, signal.SIGTERM, timeout_s=10)
        if self.proc is not None and os.environ.get("UBCT_VERBOSE"):
            log(f"ubcd log:\n{tail(self.log(), 200)}")

    def stop(self, sig=signal.SIGTERM, timeout_s=10.0):
        rc = stop_process(self.proc, sig, timeout_s)
        if self._token is not None:
            remove_cleanup(self._token)
            self._token = None
        return rc

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log(self):
        return read_text(self.log_path)

    def refusal_lines(self, container_id=None):
        lines = [ln for ln in self.log().splitlines() if "refused" in ln]
        if container_id is not None:
            lines = [ln for ln in lines if container_id in ln]
        return lines

    def status_text(self):
        return run([self.binary, "--status", "--config", self.config_path],
                   timeout_s=20).stdout

    def status_json(self):
        res = run([self.binary, "--status", "--json", "--config", self.config_path],
                  timeout_s=20)
        try:
            return json.loads(res.stdout)
        except json.JSONDecodeError as exc:
            raise AssertionError(f"ubcd --status --json printed no JSON ({exc}):\n"
                                 f"{res.stdout}") from exc

    def container(self, container_id):
        """The status JSON entry of one container (the /v1/containers document's), or None.
        For the tests' convenience it also carries `privvmpages` as plain page numbers
        (held, maxheld, barrier, limit, failcnt) and `limits_source`."""
        for c in self.status_json().get("containers", []):
            if c.get("id") == container_id:
                return flat_entry(c)
        return None

    def require_container(self, container_id):
        c = self.container(container_id)
        if c is None:
            raise AssertionError(f"container {container_id} not in ubcd status:\n"
                                 f"{json.dumps(self.status_json(), indent=1)}\n"
                                 f"ubcd log:\n{tail(self.log())}")
        return c

    def privvm(self, container_id):
        return self.require_container(container_id)["privvmpages"]

    def shm(self, container_id):
        return self.require_container(container_id)["shmpages"]

    def locked(self, container_id):
        return self.require_container(container_id)["lockedpages"]

    def wait_container(self, container_id, pred=lambda c: True, timeout_s=10.0,
                       what="container in ubcd status"):
        def probe():
            c = self.container(container_id)
            return c if c is not None and pred(c) else None
        return wait_until(probe, timeout_s, what=f"{what} ({container_id})")

    def debug_dump(self):
        log(f"ubcd log ({self.log_path}):\n{tail(self.log(), 80)}")


def flat_entry(entry):
    """A status/REST container entry with `privvmpages` as page numbers beside the
    document's own fields."""
    pv = entry["beancounters"]["privvmpages"]
    flat = dict(entry)
    flat["privvmpages"] = {k: pv[k]["pages"] for k in ("held", "maxheld", "barrier", "limit")}
    flat["privvmpages"]["failcnt"] = pv["failcnt"]
    flat["limits_source"] = pv["source"]
    if "shmpages" in entry["beancounters"]:
        shm = entry["beancounters"]["shmpages"]
        flat["shmpages"] = {k: shm[k]["pages"] for k in ("held", "maxheld", "barrier", "limit")}
        flat["shmpages"]["failcnt"] = shm["failcnt"]
    if "lockedpages" in entry["beancounters"]:
        lk = entry["beancounters"]["lockedpages"]
        flat["lockedpages"] = {k: lk[k]["pages"] for k in ("held", "maxheld", "barrier", "limit")}
        flat["lockedpages"]["failcnt"] = lk["failcnt"]
    return flat
