#!/bin/bash
# The main job: build p2mkit and run `p2m demo` on a sample guest, a
# 64 GiB domU-like guest with the VGA and 32-bit PCI holes in a list of
# 1 TiB capacity. (To be switched to booting the PV guest on Xen: change
# the last line.)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${P2M_BUILD:-$root/build}

"$root/scripts/deps.sh"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$build" -j "${P2M_JOBS:-$(nproc)}" --target p2m-cli

exec "$build/p2m" demo --ram 64G --holes 0xa0-0x100,3G-4G --capacity 1T "$@"
