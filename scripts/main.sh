#!/usr/bin/env bash
# The main job: install what is needed, fetch Xen 4.17 (never installed on
# the host), build p2mkit and boot the PV guest as dom0 on real Xen under
# QEMU: a 6 GiB pc machine whose dom0 of 5 GiB straddles the 3-4 GiB PCI
# hole, so the guest builds its P2M with libp2m, maps the hole 1:1, remaps
# the 262273 frames Xen put under holes (as Linux 6.1 does), frees the
# initial list, publishes to the toolstack and proves it all; its verdict
# is the exit status. Extra arguments go to `p2m boot` (`p2m boot --help`
# lists them); `scripts/main.sh --help` prints this text.
set -euo pipefail

case ${1:-} in -h|--help) awk 'NR > 1 { if (!/^#/) exit; sub(/^# ?/, ""); print }' "$0"; exit 0 ;; esac

root=$(cd "$(dirname "$0")/.." && pwd)
build=${P2M_BUILD:-$root/build}

"$root/scripts/deps.sh"
"$root/scripts/get-xen.sh"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$build" -j "${P2M_JOBS:-$(nproc)}" --target p2m-cli guest.elf guest-initp2m.elf \
	guest-high.elf guest-high-initp2m.elf

exec "$build/p2m" boot --mem 6G --dom0-mem 5G --machine pc "$@"
