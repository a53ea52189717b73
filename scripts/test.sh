#!/usr/bin/env bash
# Builds ubc (scripts/setup.sh) and runs every meson test, unit and integration.
#
# The last line printed is "N passed, N failed" (", N skipped" added outside CI), computed
# from meson's testlog.json: OK and EXPECTEDFAIL pass; FAIL, TIMEOUT, ERROR and
# UNEXPECTEDPASS fail; SKIP fails when CI=true. Exits non-zero when a test failed or none
# ran. Extra arguments go to `meson test` (e.g. --suite integration-runc, a test name).
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD_DIR="${UBC_BUILD_DIR:-build}"
TESTLOG="$BUILD_DIR/meson-logs/testlog.json"

if ! bash scripts/setup.sh; then
  echo "test: setup/build failed" >&2
  echo "0 passed, 0 failed"
  exit 1
fi

rm -f "$TESTLOG"
meson test -C "$BUILD_DIR" --print-errorlogs "$@"

/usr/bin/python3 - "$TESTLOG" <<'PY'
import json
import os
import sys

path = sys.argv[1]
ci = os.environ.get("CI", "").strip().lower() == "true"
passed = failed = skipped = 0
failed_names = []
try:
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            entry = json.loads(line)
            result = entry.get("result", "")
            if result in ("OK", "EXPECTEDFAIL"):
                passed += 1
            elif result == "SKIP" and not ci:
                skipped += 1
            else:
                failed += 1
                failed_names.append(f"{entry.get('name', '?')} ({result})")
except FileNotFoundError:
    pass
for name in failed_names:
    print(f"failed: {name}")
summary = f"{passed} passed, {failed} failed"
if not ci:
    summary += f", {skipped} skipped"
if passed + failed + skipped == 0:
    print("test: no test ran", file=sys.stderr)
    print(summary)
    sys.exit(1)
print(summary)
sys.exit(1 if failed else 0)
PY
