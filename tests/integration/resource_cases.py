"""The rows ubc measures without enforcing (numproc, physpages, numfile, kmemsize) and the
markers every row carries, checked against a real ubcd and a real container, for any
runtime (runc, crun). Numbers come from what the probe did, not from ubcd's own figures:
a touched mapping of N pages adds at least N resident pages, N opened files add N fds,
N held children add N tasks.

test_runc.py and test_crun.py bind these cases to a runtime.
"""

from outcome import check, check_eq, wait_until
from session import Session

CASES = [
    "measured_rows_move_with_the_container",
    "every_row_is_marked",
]

# The gauge samples at most once a second; a status read may show the previous sample.
_SETTLE_S = 5


def _rows(session, container):
    return {r["resource"]: r for r in session.ubcd.require_container(container.id)["resources"]}


def _wait_row(session, container, resource, pred, what):
    try:
        wait_until(lambda: pred(_rows(session, container)[resource]), timeout_s=_SETTLE_S,
                   what=what)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; {resource} now {_rows(session, container)[resource]}") \
            from None
    return _rows(session, container)[resource]


def measured_rows_move_with_the_container(rt):
    s = Session(rt)
    c = s.supervised("65536:65536")
    rows = _rows(s, c)
    for name in ("numproc", "physpages", "numfile"):
        check_eq(rows[name]["tracking"], "measured", f"{name} tracking")
    # runc gives the container memory and pids cgroups of its own (kmemsize is the memory
    # cgroup's); crun runs here without cgroups, where only the processes are measured.
    check_eq(rows["kmemsize"]["tracking"], "measured" if rt == "runc" else "untracked",
             "kmemsize tracking")
    if rt == "runc":
        check(rows["kmemsize"]["held"] > 0, f"kmemsize {rows['kmemsize']}")
    before = rows
    check(before["numproc"]["held"] >= 1, f"numproc held {before['numproc']}")

    # Three held children: three more tasks (first: a fork is charged the parent's pages).
    for _ in range(3):
        c.probe.ok("fork-hold")
    _wait_row(s, c, "numproc", lambda r: r["held"] == before["numproc"]["held"] + 3,
              "numproc + 3")
    c.probe.ok("kill-children")
    _wait_row(s, c, "numproc", lambda r: r["held"] == before["numproc"]["held"], "numproc back")
    # 100 more open files, then closed again.
    c.probe.ok("open-files 100")
    _wait_row(s, c, "numfile", lambda r: r["held"] == before["numfile"]["held"] + 100,
              "numfile + 100")
    c.probe.ok("close-files")
    rows = _wait_row(s, c, "numfile", lambda r: r["held"] == before["numfile"]["held"],
                     "numfile back")
    check(rows["maxheld"] >= before["numfile"]["held"] + 100, f"numfile maxheld {rows}")

    # 64 MiB touched: at least that many more resident pages.
    # The baseline is taken now: a memory cgroup's usage also drops as what the runtime
    # left behind is reclaimed.
    touched = 16384  # pages of 4096 bytes
    base = _rows(s, c)["physpages"]["held"]
    c.probe.ok("mmap 64M")
    _wait_row(s, c, "physpages", lambda r: r["held"] >= base + touched * 95 // 100,
              f"physpages grows from {base} by about {touched}")

    c.stop()


def every_row_is_marked(rt):
    s = Session(rt)
    c = s.supervised("65536:65536")
    rows = s.ubcd.require_container(c.id)["resources"]
    check_eq(len(rows), 20, "rows (24 without the 4 dummies)")
    marks = {r["resource"]: r["tracking"] for r in rows}
    check_eq(marks["privvmpages"], "enforced", "privvmpages")
    check_eq(marks["shmpages"], "enforced", "shmpages")
    # Read from VmLck while its bounds are unlimited (locked_cases.py has it enforced).
    check_eq(marks["lockedpages"], "measured", "lockedpages")
    locked = next(r for r in rows if r["resource"] == "lockedpages")
    check_eq((locked["held"], locked["limit"]), (0, 9223372036854775807), "lockedpages values")
    for name in ("numtcpsock", "numflock", "dcachesize", "numiptent"):
        check_eq(marks[name], "untracked", name)
        row = next(r for r in rows if r["resource"] == name)
        check_eq((row["held"], row["limit"]), (0, 9223372036854775807), f"{name} values")
    # The text table keeps OpenVZ's 24 rows, with the measured values in it.
    text = s.ubcd.status_text()
    lines = [l for l in text.splitlines()[2:] if l.strip()]
    mine = []
    for i, line in enumerate(lines):
        if line.split()[0] == f"{c.id}:":
            mine = lines[i:i + 24]
    check_eq([l.split()[-6] for l in mine][:6],
             ["kmemsize", "lockedpages", "privvmpages", "shmpages", "dummy", "numproc"],
             "row order")
    numfile = next(l for l in mine if l.split()[-6] == "numfile")
    check(int(numfile.split()[-5]) > 0, f"numfile row held: {numfile!r}")
    c.stop()
