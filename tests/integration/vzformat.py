"""The vzctl formats ubc reports in: values with units, and /proc/user_beancounters.

What it owns: `parse_vz_pages` (a vzctl-style value such as 256M, 100P or unlimited, in
pages) and `parse_ubc_table` (the user_beancounters text, with its version line, header
and six-column rows checked, as nested dicts).

Python 3.11 standard library only.
"""

from outcome import check

PAGE_BYTES = 4096


def parse_vz_pages(value):
    """vzctl-style value to pages (for checking what ubcd reports)."""
    v = value.strip()
    if v == "unlimited":
        return 9223372036854775807
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    suffix = v[-1].upper()
    if suffix in units:
        return int(float(v[:-1]) * units[suffix]) // PAGE_BYTES
    if suffix == "P":
        return int(v[:-1])
    if suffix == "B":
        return int(v[:-1]) // PAGE_BYTES
    return int(v)


def parse_ubc_table(text):
    """Parses /proc/user_beancounters text into {ctid: {resource: [held, maxheld, barrier,
    limit, failcnt]}}; checks line 1 and the header."""
    lines = text.splitlines()
    check(lines and lines[0] == "Version: 2.5", f"line 1 is not 'Version: 2.5': {lines[:1]}")
    check(len(lines) >= 2 and lines[1].split()[:2] == ["uid", "resource"],
          f"bad header line: {lines[1:2]}")
    table = {}
    current = None
    for line in lines[2:]:
        if not line.strip():
            continue
        head = line[:10]
        if head.strip():
            check(head.strip().endswith(":") or len(line.split()[0]) > 10,
                  f"uid cell without ':': {line!r}")
        first = line.split()[0]
        if first.endswith(":"):
            current = first[:-1]
            table[current] = {}
            rest = line.split()[1:]
        else:
            rest = line.split()
        check(current is not None, f"row before any container: {line!r}")
        check(len(rest) == 6, f"row does not have 6 columns after the uid: {line!r}")
        table[current][rest[0]] = [int(x) for x in rest[1:]]
    return table
