#!/usr/bin/env bash
# scale.sh: boot the PV guest as a very large dom0 on Xen under QEMU and
# print a table (size, INIT_P2M, CPU, result, wall time, peak host RSS,
# and that peak when Xen handed over to dom0).
#
#   scripts/scale.sh [--build DIR] [--only N[,N...]] [--logs DIR]   (--help: this text)
#
# Runs, strictly one after another (each needs up to ~17 GB of host RAM and
# minutes under TCG; two at once would not fit a 24 GiB machine; `p2m boot`
# also takes a host-wide lock for boots over 64 GiB, so another engineer's
# large boot makes a run wait instead of both being OOM-killed):
#   1  -m 600G, dom0 500G, no INIT_P2M     expected to pass
#   2  -m 600G, dom0 590G, no INIT_P2M     expected: Xen refuses ("Not enough
#                                          RAM for domain 0 allocation": the
#                                          initial mapping needs one order-19 chunk)
#   3  -m 600G, dom0 590G, INIT_P2M        expected to pass
#   4  -m 1T,   dom0 1000G, INIT_P2M       expected to pass
#   5  as 3 on a CPU with 1 GiB pages       expected to pass (Xen maps the
#      (-cpu qemu64,+pdpe1gb)               1.15 GiB list with a 1 GiB page)
#   6  as 4 on a CPU with 1 GiB pages       expected to pass (the 1.95 GiB list:
#                                           one 1 GiB and 488 2 MiB pages)
#   7  -m 524G, dom0 525824M (513.5 GiB),   expected to pass: just above the
#      INIT_P2M, 1 GiB pages                smallest dom0 with a 1 GiB page
#                                           (512 GiB: a 1 GiB list), so the
#                                           list gets one 1 GiB, one 2 MiB
#                                           and 256 4 KiB pages
# Wall time and peak RSS are QEMU's, from wait4() in `p2m boot`; "at
# hand-over" is QEMU's peak RSS when Xen hands over to dom0 (its VmHWM
# when Xen's "Freed ... init memory" line arrives): Xen's frame table, M2P
# and the initial list it wrote, and QEMU's own memory. The rest of the
# peak is what the guest added. Not part of
# every CI run: each run takes minutes (runs 6 and 7 up to 10-17 minutes on
# a loaded machine) and most of the machine's memory.
# Exit status 0 when every run gave its expected result.
set -uo pipefail   # not -e: a run that fails is reported in the table, and the rest still run

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
build="${P2M_BUILD:-}"
only=""
logs=""
while [ $# -gt 0 ]; do
	case "$1" in
	--build) build="$2"; shift 2 ;;
	--only) only="$2"; shift 2 ;;
	--logs) logs="$2"; shift 2 ;;
	-h|--help) awk 'NR > 1 { if (!/^#/) exit; sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
	*) echo "scale.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
	esac
done

. "$here/find-build.sh"
[ -n "$build" ] || build="$(find_build "$root" guest-initp2m.elf)"
p2m="$build/p2m"
[ -n "$build" ] && [ -x "$p2m" ] || { echo "scale.sh: no built p2m found; build first or give --build DIR" >&2; exit 2; }
logs="${logs:-$build/scale-logs}"
mkdir -p "$logs"

# name|label|INIT_P2M|CPU|expected|p2m boot args
gb1="qemu64,+pdpe1gb"
runs=(
	"1|500G|no|qemu64|pass|--mem 600G --dom0-mem 500G --timeout 900"
	"2|590G|no|qemu64|refused|--mem 600G --dom0-mem 590G --timeout 900"
	"3|590G|yes|qemu64|pass|--mem 600G --dom0-mem 590G --init-p2m --timeout 900"
	"4|1000G|yes|qemu64|pass|--mem 1T --dom0-mem 1000G --init-p2m --timeout 1800"
	"5|590G|yes|$gb1|pass|--mem 600G --dom0-mem 590G --init-p2m --cpu $gb1 --timeout 900"
	"6|1000G|yes|$gb1|pass|--mem 1T --dom0-mem 1000G --init-p2m --cpu $gb1 --timeout 1800"
	"7|513.5G|yes|$gb1|pass|--mem 524G --dom0-mem 525824M --init-p2m --cpu $gb1 --timeout 900"
)

need_kib=$((17 * 1024 * 1024))
rows=()
bad=0
for r in "${runs[@]}"; do
	IFS='|' read -r n size initp2m cpu expect args <<<"$r"
	if [ -n "$only" ] && [[ ",$only," != *",$n,"* ]]; then continue; fi
	avail=$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo)
	if [ "$avail" -lt "$need_kib" ]; then
		echo "scale.sh: warning: only $((avail / 1024)) MiB available; run $n may need ~17 GB" >&2
	fi
	log="$logs/run$n-$size-initp2m-$initp2m.log"
	echo "scale.sh: run $n: p2m boot $args (log $log)"
	# shellcheck disable=SC2086
	out="$("$p2m" boot --quiet --log "$log" $args 2>&1)"
	rc=$?
	echo "$out" | sed 's/^/    /'
	wall=$(echo "$out" | sed -n 's/^p2m boot: wall \([0-9.]*\) s.*/\1 s/p')
	rss=$(echo "$out" | sed -n 's/.*QEMU peak RSS \([0-9.]*\) MiB.*/\1/p')
	[ -n "$rss" ] && rss=$(awk -v m="$rss" 'BEGIN { printf "%.2f GB", m * 1048576 / 1e9 }')
	hand=$(echo "$out" | sed -n "s/.*QEMU peak RSS at Xen's hand-over to dom0 \([0-9.]*\) MiB.*/\1/p")
	[ -n "$hand" ] && hand=$(awk -v m="$hand" 'BEGIN { printf "%.2f GB", m * 1048576 / 1e9 }')
	verdict=$(echo "$out" | sed -n 's/^p2m boot: guest: \([^;]*\);.*/\1/p')
	if [ "$rc" = 0 ]; then
		result="PASS ($verdict)"
		[ "$expect" = pass ] || bad=1
	else
		why=$(echo "$out" | sed -n 's/^p2m boot: FAIL: //p')
		result="FAIL: ${why:-exit $rc}"
		if [ "$expect" = refused ] && [[ "$why" == *"Not enough RAM for domain 0 allocation"* ]]; then
			result="refused as expected: $why"
		else
			bad=1
		fi
	fi
	rows+=("$size|$initp2m|$cpu|$result|${wall:-?}|${rss:-?}|${hand:-?}")
done

echo
printf '| %-6s | %-8s | %-15s | %-70s | %-9s | %-9s | %-12s |\n' size INIT_P2M CPU result wall "peak RSS" "at hand-over"
printf '|--------|----------|-----------------|%s|-----------|-----------|--------------|\n' "$(printf -- '-%.0s' $(seq 72))"
for row in "${rows[@]}"; do
	IFS='|' read -r a b c d e f g <<<"$row"
	printf '| %-6s | %-8s | %-15s | %-70s | %-9s | %-9s | %-12s |\n' "$a" "$b" "$c" "$d" "$e" "$f" "$g"
done
exit $bad
