#!/usr/bin/env bash
# Builds ubc (scripts/setup.sh) and runs every meson test, unit and integration; then builds
# the unit tests and the fuzz targets again with clang, ASan and UBSan (build dir build-san,
# see docs/fuzzing.md) and runs the unit tests and a brief run of each fuzz target there.
#
# The last line printed is "N passed, N failed" (", N skipped" added outside CI), computed
# from both builds' meson testlog.json: OK and EXPECTEDFAIL pass; FAIL, TIMEOUT, ERROR and
# UNEXPECTEDPASS fail; SKIP fails when CI=true; a sanitizer build that does not configure or
# compile counts as one failure, and the clang-format check of the files the change
# touches counts as one test. Exits non-zero when a test failed or none ran. Extra
# arguments go to `meson test` of the main build (e.g. --suite integration-runc, a test
# name) and skip the sanitizer stage unless UBC_SANITIZE=1; UBC_SANITIZE=0 always skips it.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD_DIR="${UBC_BUILD_DIR:-build}"
TESTLOG="$BUILD_DIR/meson-logs/testlog.json"
SAN_DIR="${UBC_SAN_BUILD_DIR:-build-san}"
SAN_TESTLOG="$SAN_DIR/meson-logs/testlog.json"

if ! bash scripts/setup.sh; then
  echo "test: setup/build failed" >&2
  echo "0 passed, 0 failed"
  exit 1
fi

# ---- clang-format on the files this change touches ----
# The change: commits since UBC_FORMAT_BASE (default: the merge base with
# origin/main, or the previous commit where that is HEAD itself, as in a fresh
# clone) plus uncommitted edits.
format_failed=0
if command -v clang-format >/dev/null && git rev-parse --git-dir >/dev/null 2>&1; then
  base="${UBC_FORMAT_BASE:-}"
  if [[ -z "$base" ]]; then
    base=$(git merge-base HEAD origin/main 2>/dev/null || true)
    if [[ -z "$base" || "$base" == "$(git rev-parse HEAD)" ]]; then
      base=$(git rev-parse -q --verify HEAD~1 || true)
    fi
  fi
  mapfile -t changed < <({ [[ -n "$base" ]] && git diff --name-only "$base" HEAD; git diff --name-only HEAD; } |
    sort -u | grep -E '\.(c|cc|h)$' || true)
  unformatted=()
  for f in "${changed[@]}"; do
    [[ -f "$f" ]] || continue
    clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || unformatted+=("$f")
  done
  if ((${#unformatted[@]} > 0)); then
    format_failed=1
    echo "test: not clang-formatted (run clang-format -i on them): ${unformatted[*]}" >&2
  else
    echo "test: clang-format: ${#changed[@]} changed C/C++ files formatted"
  fi
else
  format_failed=1
  echo "test: clang-format or git missing: the format check cannot run" >&2
fi

# The Debian userland the userland_* tests run stress-ng in: built once per machine,
# outside the clone (1-3 minutes the first time); a test that finds none fails.
if ! bash scripts/debian-rootfs.sh >/dev/null; then
  echo "test: the Debian rootfs could not be built: the userland_* tests will fail" >&2
fi

rm -f "$TESTLOG"
meson test -C "$BUILD_DIR" --print-errorlogs "$@"

# ---- sanitizer stage: clang + ASan + UBSan, unit tests and brief fuzz runs ----
run_san="${UBC_SANITIZE:-}"
if [[ -z "$run_san" ]]; then
  if (($# == 0)); then run_san=1; else run_san=0; fi
fi
san_build_failed=0
rm -f "$SAN_TESTLOG"
if [[ "$run_san" == 1 ]]; then
  echo "test: sanitizer stage in $SAN_DIR (clang, address+undefined, fuzz targets)"
  if [[ -f "$SAN_DIR/meson-private/coredata.dat" ]]; then
    meson setup --reconfigure "$SAN_DIR" >/dev/null || san_build_failed=1
  else
    # -fno-sanitize-recover: a UBSan report aborts the test instead of scrolling by.
    CC=clang CXX=clang++ meson setup "$SAN_DIR" \
      -Db_sanitize=address,undefined -Db_lundef=false \
      -Dc_args=-fno-sanitize-recover=all -Dcpp_args=-fno-sanitize-recover=all \
      -Dfuzz=true -Dintegration_tests=false >/dev/null || san_build_failed=1
  fi
  if ((san_build_failed == 0)); then
    # Only what the unit and fuzz tests run: static programs (tests/, bench/) cannot link
    # with the sanitizer runtimes, and ubcd and ubc-hook are exercised by the main build.
    mapfile -t san_targets < <(meson introspect "$SAN_DIR" --tests --targets | /usr/bin/python3 -c '
import json, os, sys
info = json.load(sys.stdin)
build = os.path.realpath(sys.argv[1])
files = {t["id"]: t["filename"] for t in info["targets"]}
wanted = set()
for test in info["tests"]:
    if not {"ubc:unit", "ubc:fuzz"} & set(test["suite"]):
        continue
    for dep in test.get("depends", []):
        for f in files.get(dep, []):
            wanted.add(os.path.relpath(f, build))
print("\n".join(sorted(wanted)))
' "$SAN_DIR")
    if ((${#san_targets[@]} == 0)); then
      echo "test: no unit or fuzz test in $SAN_DIR" >&2
      san_build_failed=1
    elif ! ninja -C "$SAN_DIR" "${san_targets[@]}"; then
      san_build_failed=1
    fi
  fi
  if ((san_build_failed == 0)); then
    ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1}" \
      UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}" \
      meson test -C "$SAN_DIR" --no-rebuild --print-errorlogs --suite unit --suite fuzz
  else
    echo "test: sanitizer build in $SAN_DIR failed" >&2
  fi
fi

/usr/bin/python3 - "$san_build_failed" "$BUILD_DIR" "$TESTLOG" "$SAN_DIR" "$SAN_TESTLOG" "$format_failed" <<'PY'
import json
import os
import sys

san_build_failed = sys.argv[1] == "1"
logs = [(sys.argv[2], sys.argv[3]), (sys.argv[4], sys.argv[5])]
format_failed = sys.argv[6] == "1"
ci = os.environ.get("CI", "").strip().lower() == "true"
passed = failed = skipped = 0
failed_names = []
if san_build_failed:
    failed += 1
    failed_names.append(f"{logs[1][0]}: sanitizer build (configure or compile)")
for build, path in logs:
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
                    failed_names.append(f"{build}: {entry.get('name', '?')} ({result})")
    except FileNotFoundError:
        pass
ran = passed + failed + skipped  # meson's tests and the sanitizer build
if format_failed:
    failed += 1
    failed_names.append("clang-format of the changed files")
else:
    passed += 1  # the format check is one test
for name in failed_names:
    print(f"failed: {name}")
summary = f"{passed} passed, {failed} failed"
if not ci:
    summary += f", {skipped} skipped"
if ran == 0:
    print("test: no test ran", file=sys.stderr)
    print(summary)
    sys.exit(1)
print(summary)
sys.exit(1 if failed else 0)
PY
