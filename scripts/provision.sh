#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine: btrfs-progs (the oracle the tests compare
# against) and util-linux's losetup/mount. Only as root, and only what is missing.
set -euo pipefail
need=()
command -v mkfs.btrfs >/dev/null 2>&1 || need+=(btrfs-progs)
command -v losetup >/dev/null 2>&1 || need+=(mount)
command -v cc >/dev/null 2>&1 || need+=(gcc libc6-dev)
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "provision: missing ${need[*]}; run as root to install them (root-only tests will skip)" >&2
    exit 0
  fi
  echo "provision: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
# The loop driver must be there for scratch filesystems (built in on most kernels).
[ -e /dev/loop-control ] || modprobe loop 2>/dev/null || true
