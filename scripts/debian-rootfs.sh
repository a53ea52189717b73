#!/usr/bin/env bash
# Builds (once) the Debian 12 userland the integration tests run programs nobody here wrote
# in: python3, stress-ng and procps, made by mmdebstrap from the mirror apt already uses.
#
# Usage: scripts/debian-rootfs.sh [DIR]   (default: $UBC_DEBIAN_ROOTFS, else
# /var/cache/ubc/debian-bookworm). The rootfs is a cache outside the clone: a complete one
# (it has every package and the stamp file) is left alone, so only the first run on a
# machine takes the 1-3 minutes. It is built in DIR.tmp and renamed, so an interrupted
# build never leaves a half rootfs that looks complete. Prints DIR.
set -euo pipefail

dir="${1:-${UBC_DEBIAN_ROOTFS:-/var/cache/ubc/debian-bookworm}}"
packages=(python3 stress-ng procps)
stamp="$dir/.ubc-rootfs-${packages[*]// /-}"
stamp="${stamp// /-}"

if [[ -f "$stamp" ]]; then
  echo "$dir"
  exit 0
fi
command -v mmdebstrap >/dev/null || {
  echo "debian-rootfs: mmdebstrap is missing (scripts/setup.sh installs it)" >&2
  exit 1
}
mirror=$(grep -rhoE '^deb(\s+\[[^]]*\])?\s+\S+' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
  awk '{print $NF}' | head -n 1 || true)
if [[ -z "$mirror" ]]; then
  mirror=$(grep -rhE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | head -n 1 || true)
fi
[[ -n "$mirror" ]] || mirror=http://deb.debian.org/debian

mkdir -p "$(dirname "$dir")"
rm -rf "$dir.tmp"
mmdebstrap --quiet --variant=apt --include="$(IFS=,; echo "${packages[*]}")" bookworm "$dir.tmp" "$mirror" >&2
touch "$dir.tmp/${stamp##*/}"
rm -rf "$dir"
mv "$dir.tmp" "$dir"
echo "$dir"
