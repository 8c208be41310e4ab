#!/usr/bin/env bash
# boot-initrd.sh P2M FILE [p2m boot args...]: boot the guest with a
# generated initrd (FILE, ~4 MB of `seq` output, so its content is known)
# and pass only if the guest printed the POSIX cksum the host computes
# for it, before and after any move (guest check `initrd`).
set -euo pipefail
p2m="$1"
file="$2"
shift 2
seq 1 600000 > "$file"
sum=$(cksum < "$file" | cut -d' ' -f1)
exec "$p2m" boot --module "$file" --expect "cksum $sum (before the move $sum)" "$@"
