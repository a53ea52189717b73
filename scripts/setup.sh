#!/usr/bin/env bash
# Installs ubc's build and test dependencies (Debian 12) and builds ubc.
#
# Idempotent: apt is skipped when every package is already installed; meson is set up on
# the first run and reconfigured afterwards (so new integration tests are registered).
# UBC_BUILD_DIR selects the build directory (default: build).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD_DIR="${UBC_BUILD_DIR:-build}"

PACKAGES=(
  build-essential g++ meson ninja-build cmake pkg-config
  libseccomp-dev libcap-dev nlohmann-json3-dev libcpprest-dev libssl-dev libvalijson-dev
  libgtest-dev libgmock-dev libfuse3-dev libsystemd-dev fuse3 python3
  runc crun busybox-static podman containerd docker.io golang-github-containers-common
  prometheus python3-yaml jq curl clang libclang-rt-14-dev clang-format git mmdebstrap
  debhelper dpkg-dev lintian scdoc python3-grpcio
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}\n' "$pkg" 2>/dev/null | grep -qx 'install ok installed'; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]} > 0)); then
  echo "setup: installing ${missing[*]}"
  SUDO=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { echo "setup: need root (or sudo) to install packages" >&2; exit 1; }
    SUDO=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${SUDO[@]}" apt-get update -q
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}"
else
  echo "setup: all ${#PACKAGES[@]} packages present"
fi

# The user ubcd's REST API runs as (supervisor/rest_keeper.h): a system user of its own,
# so that no other daemon's uid (not even nobody's) can signal or trace it.
if ! getent passwd ubcd-rest >/dev/null; then
  if [[ $(id -u) -eq 0 ]]; then
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin ubcd-rest
  else
    sudo useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
      ubcd-rest
  fi
fi

if [[ -f "$BUILD_DIR/meson-private/coredata.dat" ]]; then
  meson setup --reconfigure "$BUILD_DIR"
else
  meson setup "$BUILD_DIR"
fi
ninja -C "$BUILD_DIR"
