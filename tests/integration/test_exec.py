"""An exec'd image that takes its container over the privvmpages limit is killed
(docs/accounting.md, "exec"; docs/ubc-semantics.md §3, "exec's own mappings": checked
against the limit, refused with SIGKILL).

The kernel maps a new image's data, bss and stack without any trapped call. ubcd learns of
every exec from the kernel's proc connector, reads the container's held exactly, and kills
the process through a pidfd when held exceeds the limit, as OpenVZ did at exec's point of
no return. `/bin/ubc-bss-24m` (tests/programs/big_bss.c) is a static image with a 24 MiB
.bss: it prints "bss 24 MiB" and then waits on stdin. Each case runs with runc and crun
(one meson test per function: exec_<case>_<runtime>).
"""

import time

from memory_cases import _grow_to, _processes_are
from outcome import check, check_eq, wait_until
from session import Session
from test_rest import get_json

BSS_PAGES = 24 << 8  # 24 MiB in pages
KILLED = (137, -9)  # runc/crun exec report a SIGKILLed process as 128 + 9


def _exec_over_limit_is_killed(rt):
    """At 8192:10240 pages (32 MiB:40 MiB) the container's init grows to 400 pages below
    the barrier; a second process (runtime exec) then execs ubc-bss-24m, whose 6144 pages
    of bss take held well past the limit. It must die of SIGKILL within seconds, without
    printing, failcnt must rise, the refusal be logged, held come back under the limit and
    stay there, and ubcd and the container's init go on."""
    s = Session(rt)
    barrier, limit = 8192, 10240
    c = s.supervised(f"{barrier}:{limit}")
    e = c.exec_probe()
    d2 = e.statm()
    _processes_are(s, c, 2)
    _grow_to(c, barrier - 400 - d2)
    failcnt = s.ubcd.privvm(c.id)["failcnt"]
    e.send("exec /bin/ubc-bss-24m")  # no reply: the image is replaced
    try:
        rc = e.proc.wait(timeout=5)
    except Exception as exc:  # subprocess.TimeoutExpired: it runs, over the limit
        raise AssertionError(f"the exec'd ubc-bss-24m still runs 5 s later; status "
                             f"{s.ubcd.privvm(c.id)}") from exc
    check(rc in KILLED, f"exec'd process killed by SIGKILL (exit status {rc})")
    out = e.proc.stdout.read().decode("utf-8", "replace")
    check("bss 24 MiB" not in out, f"the image was killed before it printed ({out!r})")
    check(s.ubcd.alive(), "ubcd alive")
    wait_until(lambda: s.ubcd.privvm(c.id)["held"] <= limit, timeout_s=5,
               what="held back under the limit")
    for _ in range(10):  # and it stays there
        held = s.ubcd.privvm(c.id)["held"]
        check(held <= limit, f"held {held} <= limit {limit} after the kill")
        time.sleep(0.1)
    check(s.ubcd.privvm(c.id)["failcnt"] > failcnt, "failcnt rose")
    # The REST API shows the kill as such (not as an answered call), valid by its schema.
    events = get_json(s.ubcd, f"/v1/containers/{c.id}/events", "rest-events.schema.json")
    kills = [ev for ev in events["events"] if ev["syscall"] == "execve"]
    check(len(kills) == 1 and kills[0]["returned"] == "killed (signal 9)"
          and kills[0]["signal"] == 9 and kills[0]["checked"] == "limit",
          f"one exec kill in the REST events: {events}")
    lines = [ln for ln in s.ubcd.refusal_lines(c.id)
             if "took the container over its limit and was killed" in ln]
    check(len(lines) == 1, f"one refusal logged for the exec'd image, got {lines!r}")
    check("syscall=execve" in lines[0] and "killed=SIGKILL" in lines[0],
          f"refusal line names the exec and the kill: {lines[0]!r}")
    # The init goes on, and its own calls are decided as before.
    check_eq(c.probe.statm(), barrier - 400 - d2, "init's statm data")
    c.probe.ok("mmap 100P")
    c.stop()


def _exec_that_fits_runs(rt):
    """In a fresh container with room (16384:20480 pages), the same image runs: it prints,
    stays alive, holds its 6144 pages of bss in held, and nothing is counted in failcnt."""
    s = Session(rt)
    barrier, limit = 16384, 20480
    c = s.supervised(f"{barrier}:{limit}")
    e = c.exec_probe()
    _processes_are(s, c, 2)
    held_before = s.ubcd.privvm(c.id)["held"]
    e.send("exec /bin/ubc-bss-24m")
    check_eq(e.read_line(timeout_s=10, what="the image's first line"), "bss 24 MiB",
             "ubc-bss-24m's output")
    time.sleep(1.0)  # an exec check, if any, has long been made
    check(e.proc.poll() is None, f"ubc-bss-24m still runs (exit status {e.proc.poll()})")
    wait_until(lambda: s.ubcd.privvm(c.id)["held"] >= held_before + BSS_PAGES - 200,
               timeout_s=5, what="held holds the image's bss")
    check(s.ubcd.privvm(c.id)["held"] <= limit, "held within the limit")
    check_eq(s.ubcd.privvm(c.id)["failcnt"], 0, "failcnt")
    check(not [ln for ln in s.ubcd.refusal_lines(c.id) if "execve" in ln],
          "no exec refused")
    e.proc.stdin.close()  # ubc-bss-24m ends at end of input
    e.proc.wait(timeout=10)
    c.stop()


def test_exec_over_limit_is_killed_runc():
    _exec_over_limit_is_killed("runc")


def test_exec_over_limit_is_killed_crun():
    _exec_over_limit_is_killed("crun")


def test_exec_that_fits_runs_runc():
    _exec_that_fits_runs("runc")


def test_exec_that_fits_runs_crun():
    _exec_that_fits_runs("crun")
