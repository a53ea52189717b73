"""Group E, status polling: what a status reader costs the notify path. Trapped mmap calls
in ubcd containers with and without `ubcctl top` polling ubcd's REST API 20 times a second
(an eager dashboard; every poll asks for fresh counters) while 500 idle connections hold
the REST API's HTTP process, the two interleaved round by round; ratio polled / quiet
(target <= 1.02). Polling back to back instead measures the
poller's own CPU on a 2-CPU machine, not what ubcd's locks cost.

Imported by ubc_bench.py, which puts tests/integration (the integration-test
harness) on sys.path first.
"""

import os
import signal
import socket
import subprocess
import time

from bench_results import median
from bench_supervisors import BenchUbcd
from bundles import write_hook_settings
from cleanup import add_cleanup, remove_cleanup
from outcome import log, wait_until
from procs import free_port, stop_process


class PollingBench:
    """Mixed into Suite; uses Bench's tools."""

    POLL_INTERVAL_S = "0.05"
    IDLE_CONNECTIONS = 500
    SETTLE_S = 0.5

    def _idle_connections(self, ubcd):
        """IDLE_CONNECTIONS connections to the REST API that never send a byte (each round
        opens them afresh: the HTTP process closes a silent one after 5 s)."""
        port = int(ubcd.rest_url.rsplit(":", 1)[1])
        return [socket.create_connection(("127.0.0.1", port), timeout=5)
                for _ in range(self.IDLE_CONNECTIONS)]

    def _poller(self, ubcd):
        """ubcctl top polling /v1/containers every POLL_INTERVAL_S until stopped."""
        with open(os.path.join(self.workdir, "poller.out"), "ab") as out:
            proc = subprocess.Popen([self.args.ubcctl, "--url", ubcd.rest_url, "top", "-n",
                                     "1000000", "-d", self.POLL_INTERVAL_S], stdout=out,
                                    stderr=subprocess.STDOUT)
        token = add_cleanup(f"stop poller {proc.pid}", lambda: stop_process(proc))
        return proc, token

    def bench_polling(self):
        log("status polling: ubcd containers with and without ubcctl top polling")
        ubcd = BenchUbcd(self.ubcd_bin, os.path.join(self.workdir, "ubcd-poll"),
                         rest_port=free_port()).start()
        wait_until(lambda: os.path.exists(os.path.join(ubcd.workdir, "api-token")), 10, 0.05,
                   "ubcd's REST API")
        settings = write_hook_settings(os.path.join(self.workdir, "hook-poll.json"), ubcd,
                                       runtime=self.runtime.binary)
        per = self.args.per_kind or (2 if self.quick else 3)
        containers = []
        for _ in range(per):
            containers.append(self.container("poll", settings))
            ubcd.wait_container(containers[-1].id)
        line = f"mmap {self.n_mmap} 64K 1"
        for c in containers:
            self.cmd(c, line)  # warm-up
        res = {"quiet": [], "polled": []}
        polls = []
        for r in range(self.reps):
            order = containers[r % per:] + containers[:r % per]
            res["quiet"].append([self.cmd(c, line) for c in order])
            idle = self._idle_connections(ubcd)
            proc, token = self._poller(ubcd)
            # Measured in the steady state: the HTTP process has taken the idle
            # connections and the poller is past its own start-up.
            time.sleep(self.SETTLE_S)
            res["polled"].append([self.cmd(c, line) for c in order])
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=10)
            remove_cleanup(token)
            for sock in idle:
                sock.close()
            polls.append(proc.returncode)
        self.raw["polling"] = {"line": line, "results": res, "poller_exit": polls}
        g = ("trapped mmap below 90% while ubcctl top polls the REST API and "
             f"{self.IDLE_CONNECTIONS} idle connections are open")
        note = f"{per} containers; poller -d {self.POLL_INTERVAL_S}"
        p50 = lambda x: x["call_ns"]["p50"]  # noqa: E731
        self.cmp(g, "mmap call p50: polled / quiet", res, "polled", "quiet", p50, 1.02, note)
        self.cmp(g, "mmap call p99: polled / quiet", res, "polled", "quiet",
                 lambda x: x["call_ns"]["p99"])
        for c in containers:
            c.stop()
            c.cleanup()
        ubcd.stop()
        self.extras.append(("status polling", [
            f"rounds {self.reps}, quiet p50 median "
            f"{median([p50(x) for rnd in res['quiet'] for x in rnd])} ns"]))
