#!/usr/bin/env bash
# Rebuilds snapshots/*.json from the example trees bundled with vfio-reconcile (examples/*/sysfs),
# each given the hostname and DMI product name of one host of its kind. On a real fleet, each
# host runs `vfio-reconcile snapshot -o <host>.json` instead, and the file is committed here.
#
#   VFIO_RECONCILE="node /path/to/bin/run.js" snapshots/regenerate.sh [EXAMPLES_DIR]
#
# EXAMPLES_DIR: vfio-reconcile's examples/ folder (default: two levels up, where this file ships).
set -euo pipefail
examples=$(realpath "${1:-$(dirname "$0")/../..}")
cd "$(dirname "$0")"
read -r -a vr <<<"${VFIO_RECONCILE:-vfio-reconcile}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

snap() { # <example tree> <hostname> <DMI product name>
  cp -a "$examples/$1/sysfs" "$work/$2"
  mkdir -p "$work/$2/class/dmi/id"
  printf '%s\n' "$3" >"$work/$2/class/dmi/id/product_name"
  "${vr[@]}" snapshot --sysfs-root "$work/$2" --hostname "$2" -o "$2.json"
}

snap gpu-passthrough pve-gpu-01 'Z790 AORUS ELITE AX'
snap dpdk-nic dpdk-01 'PowerEdge R650'
snap arm-board arm-07 'Overdrive 1000'
