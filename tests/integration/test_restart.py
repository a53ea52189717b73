"""ubcd restarts without harm: killed with SIGKILL (or stopped with SIGTERM) while
containers allocate in a loop, then started again, it recovers every container from the
fd store, and no trapped call fails with ENOSYS meanwhile; held comes back from the
kernel, maxheld, failcnt and limits changed live from the state file."""

import json
import os
import signal
import subprocess
import time

from outcome import check, check_eq, wait_until
from probe import pages
from procs import fd_targets, pids_where
from session import Session
from test_rest import http, wait_rest


def _restart(s, sig):
    old_pid = s.ubcd.proc.pid
    old_http = _http_process(s.ubcd)
    s.ubcd.stop(sig)
    check(not os.path.exists(f"/proc/{old_pid}/status"), "the old ubcd still runs")
    # Its HTTP process goes with it (its socket to ubcd closes; SIGKILL from its keeper).
    wait_until(lambda: not os.path.exists(f"/proc/{old_http}/status"), timeout_s=5,
               what="the old HTTP process gone")
    time.sleep(0.3)  # trapped calls wait meanwhile
    s.ubcd.start()
    wait_until(lambda: s.ubcd.status_json() is not None, timeout_s=10, what="status after restart")
    wait_rest(s.ubcd)


def _http_process(ubcd):
    port = str(ubcd.config["rest"]["port"]).encode()
    wait_until(lambda: len(pids_where(lambda argv: b"--rest-worker" in argv and port in argv)) == 1,
               timeout_s=10, what="one HTTP process")
    return pids_where(lambda argv: b"--rest-worker" in argv and port in argv)[0]


def _survives(runtime, sig):
    s = Session(runtime)
    c = s.supervised("16M:20M")
    e = c.exec_probe()  # a second notify fd in the same container
    data = c.probe.statm() + e.statm()
    c.probe.err(f"mmap {pages(4096 - data + 1)}")  # one refusal before the restart
    before = s.ubcd.privvm(c.id)
    check_eq(before["failcnt"], 1, "failcnt before the restart")
    # Both probes allocate for 1.5 s; ubcd dies and comes back in the middle.
    c.probe.send("mmap-for 1500 256K")
    e.send("mmap-for 1500 256K")
    time.sleep(0.4)
    _restart(s, sig)
    for probe in (c.probe, e):
        calls, enomem, enosys, other = _reply(probe)
        check(calls > 0, "no allocation happened")
        check_eq(enosys, 0, "calls that failed with ENOSYS across the restart")
        check_eq(enomem, 0, "calls refused (all fit under the barrier)")
        check_eq(other, 0, "calls that failed otherwise")
    entry = s.ubcd.require_container(c.id)
    check_eq(entry["state"], "running", "state after the restart")
    check_eq(entry["notify_fds"], 2, "notify fds recovered")
    after = entry["privvmpages"]
    check_eq(after["failcnt"], 1, "failcnt continues")
    check(after["maxheld"] >= before["maxheld"], f"maxheld went back: {before} -> {after}")
    check_eq(after["barrier"], 4096, "barrier")
    # Decisions go on as before.
    data = c.probe.statm() + e.statm()
    wait_until(lambda: s.ubcd.privvm(c.id)["held"] == data, timeout_s=5,
               what=f"held == {data} (sum of statm) after the restart")
    c.probe.err(f"mmap {pages(4096 - data + 1)}")
    c.probe.ok(f"mmap {pages(4096 - data)}")
    check_eq(s.ubcd.privvm(c.id)["failcnt"], 2, "failcnt after a refusal past the restart")
    # The REST API, from the new HTTP process, shows the same counters.
    code, _, body = http("GET", f"{s.ubcd.rest_url}/v1/containers/{c.id}")
    check_eq(code, 200, body)
    check_eq(json.loads(body)["beancounters"]["privvmpages"]["failcnt"], 2, "failcnt over REST")
    e.close()
    c.stop()


def _reply(probe):
    words = probe.read_line(timeout_s=30, what="mmap-for result").split()
    check(words[0] == "ok" and len(words) == 5, f"mmap-for reply {words}")
    return [int(w) for w in words[1:]]


def test_sigkill_runc():
    _survives("runc", signal.SIGKILL)


def test_sigkill_crun():
    _survives("crun", signal.SIGKILL)


def test_sigterm_runc():
    _survives("runc", signal.SIGTERM)


# Reads both files of the proc view until /tmp/stop appears, counting its rounds; a read
# that fails or shows another total is reported.
READ_LOOP = ("i=0; while [ ! -e /tmp/stop ]; do "
             "cat /proc/meminfo > /tmp/m || echo FAIL-meminfo; "
             "grep -q '^MemTotal: *262144 kB' /tmp/m || { echo WRONG; cat /tmp/m; }; "
             "cat /dev/user_beancounters > /tmp/u || echo FAIL-beancounters; "
             "grep -q privvmpages /tmp/u || echo WRONG-beancounters; "
             "i=$((i+1)); done; echo rounds $i")


def _proc_view_survives_sigkill(runtime):
    """kill -9 of ubcd under a loop reading /proc/meminfo and /dev/user_beancounters in a
    container: no read fails or shows the host (each waits for the next ubcd, which takes
    the view's FUSE connection back from the fd store), and reads go on after it."""
    s = Session(runtime)
    c = s.supervised("65536:69632")
    reader = subprocess.Popen(s.runtime.cmd("exec", c.id, "sh", "-c", READ_LOOP),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        time.sleep(0.5)
        _restart(s, signal.SIGKILL)
        check("serving the mount at" in s.ubcd.log(), "the new ubcd did not take the view over")
        rounds_at_restart = c.run("cat", "/proc/meminfo").stdout  # one more read, now
        check("262144 kB" in rounds_at_restart, "MemTotal after the restart")
        time.sleep(0.5)
        c.run("touch", "/tmp/stop")
        out, _ = reader.communicate(timeout=60)
    finally:
        if reader.poll() is None:
            reader.kill()
            reader.wait(timeout=10)
    check("FAIL" not in out and "WRONG" not in out, f"reads across the restart:\n{out[-3000:]}")
    rounds = int(out.split("rounds")[-1])
    check(rounds > 10, f"only {rounds} rounds of reads")
    c.stop()


def test_proc_view_survives_sigkill_runc():
    _proc_view_survives_sigkill("runc")


def test_proc_view_survives_sigkill_crun():
    _proc_view_survives_sigkill("crun")


def _state_entry(s, container_id):
    try:
        with open(os.path.join(s.ubcd.state_dir, "state.json"), encoding="utf-8") as f:
            return json.load(f).get("containers", {}).get(container_id, {})
    except (OSError, ValueError):
        return {}


def _fd_store_pids(config_path):
    return pids_where(lambda argv: b"--fd-store" in argv and config_path.encode() in argv)


def test_fd_store_killed_while_ubcd_runs():
    """The fd store dies while ubcd runs: ubcd starts a new one and hands it every notify
    fd again, so a later crash of ubcd still fails no trapped call."""
    s = Session("runc")
    c = s.supervised("16M:20M")
    (old,) = _fd_store_pids(s.ubcd.config_path)
    os.kill(old, signal.SIGKILL)
    wait_until(lambda: [p for p in _fd_store_pids(s.ubcd.config_path) if p != old], timeout_s=15,
               what="a new fd store")
    # The container's notify fd and the proc view's FUSE connection.
    wait_until(lambda: "deposited 2 of 2 fds again" in s.ubcd.log(), timeout_s=15,
               what="the notify fd and the view handed to the new store")
    c.probe.send("mmap-for 1500 256K")
    time.sleep(0.4)
    _restart(s, signal.SIGKILL)
    calls, enomem, enosys, other = _reply(c.probe)
    check(calls > 0, "no allocation happened")
    check_eq(enosys, 0, "calls that failed with ENOSYS across the restart")
    check_eq(other + enomem, 0, "calls that failed otherwise")
    check_eq(s.ubcd.require_container(c.id)["state"], "running", "state after the restart")
    c.stop()


def _notify_fds_of(pid):
    return fd_targets(pid).count("anon_inode:seccomp notify")


def test_fd_store_lets_go_of_gone_containers():
    """The fd store holds a copy of each notify fd only while its container lives: when the
    container's last process exits, the store closes its copy (it polls for hang-ups)."""
    s = Session("runc")
    a = s.supervised("16M:20M")
    b = s.supervised("16M:20M")
    (store,) = _fd_store_pids(s.ubcd.config_path)
    wait_until(lambda: _notify_fds_of(store) == 2, timeout_s=10, what="both notify fds in the store")
    a.stop()
    wait_until(lambda: _notify_fds_of(store) == 1, timeout_s=10,
               what="the gone container's notify fd closed by the store")
    b.probe.ok("mmap 16")  # the other container is still decided
    check_eq(_notify_fds_of(store), 1, "notify fds held for the live container")
    b.stop()
    wait_until(lambda: _notify_fds_of(store) == 0 if os.path.exists(f"/proc/{store}") else True,
               timeout_s=10, what="no notify fd left in the store")


def test_live_limits_and_shmpages_survive_restart():
    """Limits set through the API (privvmpages and shmpages) and shmpages' maxheld and
    failcnt come back from the state file after SIGKILL; held comes back from the
    container's IPC namespace."""
    from test_rest import get_json, ubcctl, wait_rest
    s = Session("runc")
    wait_rest(s.ubcd)
    c = s.container(privvmpages="16384:16384", annotations={"ubc.shmpages": "1024:1024"})
    s.ubcd.wait_container(c.id)
    c.probe.ok("shmget 1M")  # 256 pages
    ubcctl(s.ubcd, "set", c.id, "--shmpages", "300:300", "--privvmpages", "8192:9000")
    c.probe.err("shmget 1M")
    check_eq(s.ubcd.shm(c.id)["failcnt"], 1, "shmpages failcnt before the restart")
    check_eq(_state_entry(s, c.id).get("api_shmpages"), {"barrier": 300, "limit": 300},
             "shmpages in the state file when the API answered")
    # The refusal's failcnt goes to the state file at once, from the persister thread.
    wait_until(lambda: _state_entry(s, c.id).get("shm_failcnt") == 1, timeout_s=10,
               what="shmpages failcnt in the state file")
    _restart(s, signal.SIGKILL)
    wait_rest(s.ubcd)
    wait_until(lambda: s.ubcd.shm(c.id)["held"] == 256, timeout_s=10,
               what=f"shmpages held 256 after the restart; now {s.ubcd.shm(c.id)}")
    doc = get_json(s.ubcd, f"/v1/containers/{c.id}", "rest-container.schema.json")
    shm, pv = doc["beancounters"]["shmpages"], doc["beancounters"]["privvmpages"]
    check_eq((shm["barrier"]["pages"], shm["limit"]["pages"], shm["source"], shm["failcnt"]),
             (300, 300, "api", 1), "shmpages after the restart")
    check(shm["maxheld"]["pages"] >= 256, f"shmpages maxheld went back: {shm}")
    check_eq((pv["barrier"]["pages"], pv["limit"]["pages"], pv["source"]), (8192, 9000, "api"),
             "privvmpages after the restart")
    c.probe.err("shmget 1M")  # the restored barrier decides
    check_eq(s.ubcd.shm(c.id)["failcnt"], 2, "shmpages failcnt after a refusal past the restart")
    c.stop()


def test_live_lockedpages_and_meminfo_survive_restart():
    """lockedpages and meminfo set through the API, and lockedpages' maxheld and failcnt,
    come back from the state file after SIGKILL: the restored barrier refuses the next
    mlock past it, and sysinfo still shows the restored mode."""
    from test_rest import get_json, token_of, ubcctl
    s = Session("runc")
    wait_rest(s.ubcd)
    c = s.container(privvmpages="16384:16384")
    s.ubcd.wait_container(c.id)
    ubcctl(s.ubcd, "set", c.id, "--lockedpages", "256:256")
    check_eq(_state_entry(s, c.id).get("api_lockedpages"), {"barrier": 256, "limit": 256},
             "lockedpages in the state file when the API answered")
    code, _, body = http("PATCH", f"{s.ubcd.rest_url}/v1/containers/{c.id}",
                         '{"meminfo": "pages:2048"}', token_of(s.ubcd))
    check_eq(code, 200, f"PATCH meminfo: {body}")
    check_eq(_state_entry(s, c.id).get("api_meminfo"), "pages:2048",
             "meminfo in the state file when the API answered")
    c.probe.ok("mmap 512K")
    c.probe.ok("mlock")  # 128 pages
    c.probe.ok("mmap 1M")
    c.probe.err("mlock")  # 128 + 256 > 256
    check_eq(s.ubcd.locked(c.id)["failcnt"], 1, "lockedpages failcnt before the restart")
    check_eq(c.probe.ok("sysinfo")[0], "2048", "sysinfo totalram before the restart")
    # The live limits are in the state file before the API answered; the refusal's
    # failcnt is written at once but by the persister thread: killed before that write
    # lands (it fsyncs, seconds under a loaded disk), it would be lost, as documented.
    wait_until(lambda: _state_entry(s, c.id).get("locked_failcnt") == 1, timeout_s=10,
               what="lockedpages failcnt in the state file")
    _restart(s, signal.SIGKILL)
    wait_rest(s.ubcd)
    doc = get_json(s.ubcd, f"/v1/containers/{c.id}", "rest-container.schema.json")
    locked = doc["beancounters"]["lockedpages"]
    check_eq((locked["barrier"]["pages"], locked["source"], locked["failcnt"]), (256, "api", 1),
             "lockedpages after the restart")
    check(locked["maxheld"]["pages"] >= 128, f"lockedpages maxheld went back: {locked}")
    check_eq((doc["meminfo"]["mode"], doc["meminfo"]["source"]), ("pages:2048", "api"),
             "meminfo after the restart")
    check_eq(c.probe.ok("sysinfo")[0], "2048", "sysinfo totalram after the restart")
    c.probe.err("mlock")  # the restored barrier decides
    check_eq(s.ubcd.locked(c.id)["failcnt"], 2, "lockedpages failcnt after the restart")
    c.stop()
