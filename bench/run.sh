#!/usr/bin/env bash
# ubc benchmark suite: bash bench/run.sh [--quick] [--out FILE] [--only filter,containers,startup,scaling]
# Needs root. Installs runc, busybox-static, libseccomp-dev and strace if missing (Debian),
# builds ubcd/ubc-hook if needed, then runs bench/ubc_bench.py. Not part of the test suite.
set -euo pipefail
export PYTHONDONTWRITEBYTECODE=1
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then echo "bench/run.sh: needs root" >&2; exit 1; fi
missing=()
command -v runc >/dev/null || missing+=(runc)
command -v strace >/dev/null || missing+=(strace)
python3 -c 'import sys; sys.path.insert(0, "tests/integration"); import bundles
bundles.find_static_busybox()' 2>/dev/null || missing+=(busybox-static)
[ -e /usr/include/seccomp.h ] || missing+=(libseccomp-dev)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "bench/run.sh: installing ${missing[*]}" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
fi
if [ ! -x build/supervisor/ubcd ] || [ ! -x build/runtime-hook/ubc-hook ]; then
  [ -d build ] || meson setup build >&2
  ninja -C build supervisor/ubcd runtime-hook/ubc-hook >&2
fi
exec python3 bench/ubc_bench.py "$@"
