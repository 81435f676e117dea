#!/usr/bin/env bash
# Installs what `npm run bench` needs on a fresh Debian machine, only what is missing: btrfs-progs
# (the CLI peer and mkfs.btrfs), python3-btrfsutil (libbtrfsutil's Python binding, run by Debian's
# /usr/bin/python3), util-linux's mount/losetup, and gcc for the C limit (bench/limit.c).
set -euo pipefail
need=()
command -v mkfs.btrfs >/dev/null 2>&1 || need+=(btrfs-progs)
/usr/bin/python3 -c 'import btrfsutil' >/dev/null 2>&1 || need+=(python3 python3-btrfsutil)
command -v losetup >/dev/null 2>&1 || need+=(mount)
command -v gcc >/dev/null 2>&1 || need+=(gcc libc6-dev)
[ -e /usr/include/linux/btrfs.h ] || need+=(linux-libc-dev)
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "bench setup: missing ${need[*]}; run as root" >&2
    exit 1
  fi
  echo "bench setup: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
[ -e /dev/loop-control ] || modprobe loop 2>/dev/null || true
