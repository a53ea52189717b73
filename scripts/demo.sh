#!/usr/bin/env bash
# Demo: ubcd with its embedded default configuration (/run/ubc/ubcd.sock), one runc
# container opted in with ubc.privvmpages="64M:72M" running
#   ubc-probe mmap 16M statm mmap 128M statm
# The 16 MiB mapping fits, the 128 MiB one is refused with ENOMEM. Prints the probe's
# output, ubcd's refusal line and `ubcd --status`, then removes everything it created.
# Needs root. UBC_BUILD_DIR selects the build directory (default: build); UBC_SKIP_SETUP=1
# skips scripts/setup.sh (binaries already built).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD_DIR="${UBC_BUILD_DIR:-build}"

if [[ ${UBC_SKIP_SETUP:-0} != 1 ]]; then
  bash scripts/setup.sh >/dev/null
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "demo: needs root" >&2
  exit 1
fi

UBCD="$BUILD_DIR/supervisor/ubcd"
HOOK="$BUILD_DIR/runtime-hook/ubc-hook"
PROBE="$BUILD_DIR/tests/ubc-probe"
RUNC="$(command -v runc || echo /usr/sbin/runc)"
BUSYBOX="$(command -v busybox || echo /bin/busybox)"
SOCK=/run/ubc/ubcd.sock
ID="ubc-demo-$$"
PROBE_ARGS=(mmap 16M statm mmap 128M statm)

if [[ -S $SOCK ]] && "$UBCD" --status >/dev/null 2>&1; then
  echo "demo: an ubcd is already running on $SOCK; stop it first" >&2
  exit 1
fi

TMP="$(mktemp -d /tmp/ubc-demo.XXXXXX)"
RUN_UBC_EXISTED=0
[[ -e /run/ubc ]] && RUN_UBC_EXISTED=1
UBCD_PID=""

cleanup() {
  set +e
  "$RUNC" delete -f "$ID" >/dev/null 2>&1
  for d in /sys/fs/cgroup/*/"$ID"; do [[ -d $d ]] && rmdir "$d" 2>/dev/null; done
  if [[ -n $UBCD_PID ]] && kill -0 "$UBCD_PID" 2>/dev/null; then
    kill -TERM "$UBCD_PID"
    wait "$UBCD_PID" 2>/dev/null
  fi
  [[ $RUN_UBC_EXISTED -eq 0 && -d /run/ubc ]] && rmdir /run/ubc 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== starting $UBCD (embedded default config, listener $SOCK)"
"$UBCD" 2>"$TMP/ubcd.log" &
UBCD_PID=$!
for _ in $(seq 100); do
  [[ -S $SOCK ]] && break
  kill -0 "$UBCD_PID" 2>/dev/null || { echo "demo: ubcd exited:"; cat "$TMP/ubcd.log"; exit 1; }
  sleep 0.1
done
[[ -S $SOCK ]] || { echo "demo: $SOCK did not appear"; cat "$TMP/ubcd.log"; exit 1; }

# A minimal rootfs: static busybox, its applets, passwd/group, the probe.
ROOTFS="$TMP/rootfs"
mkdir -p "$ROOTFS"/{bin,etc,tmp,proc,sys,dev,root}
chmod 1777 "$ROOTFS/tmp"
cp "$BUSYBOX" "$ROOTFS/bin/busybox"
for applet in $("$ROOTFS/bin/busybox" --list); do
  [[ $applet == busybox ]] || ln -sf busybox "$ROOTFS/bin/$applet"
done
echo 'root:x:0:0:root:/root:/bin/sh' >"$ROOTFS/etc/passwd"
echo 'root:x:0:' >"$ROOTFS/etc/group"
cp "$PROBE" "$ROOTFS/bin/ubc-probe"

BUNDLE="$TMP/bundle"
mkdir -p "$BUNDLE"
(cd "$BUNDLE" && "$RUNC" spec)
/usr/bin/python3 - "$BUNDLE/config.json" "$ROOTFS" "${PROBE_ARGS[@]}" <<'PY'
import json, sys
path, rootfs, args = sys.argv[1], sys.argv[2], sys.argv[3:]
with open(path) as f:
    cfg = json.load(f)
cfg["process"]["terminal"] = False
cfg["process"]["args"] = ["/bin/ubc-probe", *args]
cfg["root"] = {"path": rootfs, "readonly": False}
cfg["hostname"] = "ubc-demo"
cfg.setdefault("annotations", {})["ubc.privvmpages"] = "64M:72M"
with open(path, "w") as f:
    json.dump(cfg, f, indent=2)
PY

cat >"$TMP/hook.json" <<JSON
{"listener_path": "$SOCK", "containers_dir": "$TMP/containers.d", "opt_in": "annotated",
 "runtime": "$RUNC", "runtime_args": []}
JSON
echo "== ubc-hook patch (annotation ubc.privvmpages=64M:72M)"
"$HOOK" patch "$BUNDLE" --settings "$TMP/hook.json" --id "$ID"

echo "== runc run $ID: ubc-probe ${PROBE_ARGS[*]}"
"$RUNC" run --bundle "$BUNDLE" "$ID" </dev/null >"$TMP/probe.out" 2>"$TMP/runc.err" || true
cmds=("mmap 16M" "statm" "mmap 128M" "statm")
i=0
while IFS= read -r line; do
  printf '  %-10s -> %s\n' "${cmds[$i]:-?}" "$line"
  i=$((i + 1))
done <"$TMP/probe.out"
[[ -s $TMP/runc.err ]] && { echo "  runc stderr:"; sed 's/^/    /' "$TMP/runc.err"; }

echo "== ubcd log (refusals)"
grep -i refused "$TMP/ubcd.log" | sed 's/^/  /' || echo "  (none)"

echo "== ubcd --status"
"$UBCD" --status || true
