#!/usr/bin/env bash
# vs-linux.sh: the boot path of our PV guest side by side with Debian's
# Linux 6.1, both as dom0 on the same Xen 4.17 under QEMU (TCG), on the same
# machine configurations, one run after the other, with one runner
# (`p2m boot`: every console line carries the host time since QEMU started).
#
#   scripts/vs-linux.sh [--build DIR] [--only NAME[,NAME...]] [--out DIR] [--no-fetch]
#   scripts/vs-linux.sh --tabulate [--out DIR]
#   scripts/vs-linux.sh --self-check
#
#   --build DIR   the build tree with p2m and guest/guest-initp2m.elf (default:
#                 the first of build/, build-*/ that has both)
#   --only LIST   configurations to run (default all): pc6 (pc, -m 6G, dom0
#                 5G,max:5G), q35 (q35, -m 6G, dom0 4G,max:4G), 64g (pc,
#                 -m 64G, dom0 62G,max:62G)
#   --out DIR     where the logs and the table go (default DIR/vs-linux/)
#   --no-fetch    exit 77 (skip) when scripts/get-xen.sh --tools has not
#                 fetched the Linux kernel into the cache yet
#   --tabulate    boot nothing: make the table again from the logs in --out
#   --self-check  run the log parsers on built-in sample lines and compare
#                 with the figures they must give (seconds; no QEMU)
#
# Both kernels carry XEN_ELFNOTE_INIT_P2M (ours: guest-initp2m.elf), so Xen's
# builder lays them out alike. Linux boots without an initrd with
# "console=hvc0 earlyprintk=xen loglevel=7 panic=-1": it prints its P2M
# milestone long before it looks for a root file system; the run is ended
# (SIGTERM to `p2m boot`, which stops QEMU) two seconds after the milestone.
#
# Per configuration it prints, from the two logs of this run:
#   t(first->ready)  host seconds from the kernel's first console line to its
#                    P2M being ready: ours "published:" (list built, holes
#                    remapped, initial list freed, published to shared_info),
#                    Linux "Remapped N page(s)" (xen_remap_memory, the last
#                    step of xen_pagetable_init before it publishes the tree)
#   t(Xen->ready)    the same from Xen's "Freed ... init memory" (Xen jumps to
#                    dom0 right after it): Linux's first line appears only when
#                    its boot console starts, after its early setup
#   calls/page, mmu_update entries/page of the remap: ours MEASURED (the
#                    guest counts its hypercalls: "hypercalls (...)" line);
#                    Linux DERIVED from its code (arch/x86/xen/setup.c):
#                    per remapped page one mmu_update of one MMU_MACHPHYS_UPDATE
#                    and one update_va_mapping of the direct map, plus two
#                    one-entry PTE writes (set_pte_mfn) per 509-page piece
#   P2M memory       ours MEASURED (the guest's "P2M cost" line: every frame its
#                    P2M holds); Linux DERIVED from the same memory map: the
#                    layout `p2m e820` plans (it reproduces Linux's "Remapped"
#                    count, checked here) costed as Linux builds it: a private
#                    leaf per non-uniform or RAM 2 MiB slot, an L1 and a
#                    frame-list page per non-uniform 1 GiB window, 4 shared
#                    pages, 3 tree roots, 1 PMD page
#   peak             the P2M's memory at its highest up to P2M ready. Ours
#                    MEASURED: the guest counts the frames its P2M holds (the
#                    initial list's pages from the start, then every frame in
#                    and out: "P2M memory to ready: peak" line); its pages
#                    become the leaves (p2m_build_adopt), so the peak is the
#                    list plus the tables and frame lists built beside it.
#                    Linux DERIVED: xen_rebuild_p2m_list() copies the initial
#                    list into new leaves and frees it afterwards: peak =
#                    final + the initial list (Xen's "Phys-Mach map" range)
# Not a CTest: the three pairs took 6.5 minutes under TCG on a loaded
# 2-core machine (2026-12-02; Linux's 64 GiB boot alone ~2 minutes).
set -uo pipefail   # not -e: a boot that fails is reported in the table, and the others still run

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
cache="${P2M_CACHE:-$root/cache}"
build="${P2M_BUILD:-}"
only=""
out=""
fetch=1
tabulate=0
linux_args="console=hvc0 earlyprintk=xen loglevel=7 panic=-1"
die() { echo "vs-linux.sh: error: $*" >&2; exit 1; }

# --- parsers: each reads a `p2m boot --log` file ("[ seconds] line") ---

# Host time of the first line matching the ERE, or empty.
# (The pattern goes through the environment: awk -v would eat its backslashes.)
t_of() { RE="$2" awk '{ t = substr($0, 2, index($0, "]") - 2) + 0; l = substr($0, index($0, "]") + 2) }
	l ~ ENVIRON["RE"] { printf "%.3f\n", t; exit }' "$1"; }

# Host time of the first dom0 line: the first line without "(XEN)" after
# Xen's "Freed ... init memory".
t_first_dom0() { awk '{ t = substr($0, 2, index($0, "]") - 2) + 0; l = substr($0, index($0, "]") + 2) }
	go && l !~ /^\(XEN\)/ && l != "" { printf "%.3f\n", t; exit }
	l ~ /^\(XEN\) Freed .*init memory/ { go = 1 }' "$1"; }

# First number after the ERE on the first matching line.
num_after() { RE="$2" awk '{ l = substr($0, index($0, "]") + 2) }
	match(l, ENVIRON["RE"]) { s = substr(l, RSTART + RLENGTH); sub(/^[^0-9]*/, "", s); print s + 0; exit }' "$1"; }

# Pages of the initial list Xen built: "Phys-Mach map: A->B".
list_pages() {
	local r
	r="$(awk '/Phys-Mach map:/ { print $NF; exit }' "$1")"
	[ -n "$r" ] && echo $(((0x${r#*->} - 0x${r%%->*}) / 4096))
}

# Our "hypercalls (...)" line: "remap: N page(s), C calls, E mmu_update entries".
ours_remap() { awk '/^\[ *[0-9.]+\] hypercalls \(/ { match($0, /remap: [0-9]+ page\(s\), [0-9]+ calls, [0-9]+ mmu_update/)
	split(substr($0, RSTART, RLENGTH), f, /[ ,]+/); print f[2], f[4], f[6]; exit }' "$1"; }

# Linux's remap cost from its code: per page 1 mmu_update (1 entry) + 1
# update_va_mapping; per piece of <= 509 pages (REMAP_SIZE) one set_pte_mfn
# when recorded and one when replayed. Input: the piece sizes (one remap
# range per line). Output: "calls entries".
linux_remap_cost() { awk '{ n += $1; pieces += int(($1 + 508) / 509) }
	END { print 2 * n + 2 * pieces, n + 2 * pieces }'; }

# Linux's final P2M in pages from the planned layout: leaves L, split
# windows W: L + W (list L1s) + W (frame lists) + 4 shared + 3 roots + 1 PMD.
linux_p2m_pages() { echo $(($1 + 2 * $2 + 8)); }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "-" }'; }
mib() { awk -v p="$1" 'BEGIN { printf "%.2f", p * 4096 / 1048576 }'; }
sub_t() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "") print "-"; else printf "%.2f", a - b }'; }

self_check() {
	local d fails=0
	d="$(mktemp -d)"
	cat >"$d/ours.log" <<'EOF'
[   6.417] (XEN)  Phys-Mach map: 0000008000000000->0000008000a03000
[   6.909] (XEN) Freed 656kB init memory
[   6.926] p2mkit guest: xen-3.0-x86_64, VIRT_BASE 0x0, cmdline ''
[   7.719] applied the plan: remapped 262273 page(s), released 0 page(s), max_pfn 0x180200
[   7.746] published: max_pfn 0x180200, frame_list_list 0x14000b
[   7.753] hypercalls (to P2M ready): 8042 (console_io not counted: 34 more); mmu_update 2088 calls 264856 entries, mmuext_op 32 calls 32 ops, update_va_mapping 5917, memory_op 5, other 0; remap: 262273 page(s), 3702 calls, 262275 mmu_update entries, per page 0.014 calls 1.000 entries
[   7.754] P2M memory to ready: peak 10384 KiB (the initial list 10240 KiB, held from the start), now 10340 KiB (libp2m's statistics 10332 KiB)
[   8.153] P2M cost: 2561 private leaves, 6 private tables, 6 mids, 5 meta, 5 shared; 10332 KiB
EOF
	cat >"$d/linux.log" <<'EOF'
[  20.832] (XEN)  Phys-Mach map: 0000008000000000->0000008000a00000
[  22.349] (XEN) Freed 656kB init memory
[  22.400] (XEN) d0v0 a Xen line after the hand-over
[  37.057] [    0.000000] Linux version 6.1.0-57-amd64
[  42.269] [    5.094464] p2m virtual area at (____ptrval____), size is 40000000
[  49.025] [   11.844312] Remapped 262273 page(s)
EOF
	check() { if [ "$2" = "$3" ]; then echo "ok   $1 = $2"; else echo "FAIL $1: got '$2', want '$3'"; fails=$((fails + 1)); fi; }
	check "ours first line" "$(t_first_dom0 "$d/ours.log")" 6.926
	check "ours hand-over" "$(t_of "$d/ours.log" '^\(XEN\) Freed .*init memory')" 6.909
	check "ours ready" "$(t_of "$d/ours.log" '^published: ')" 7.746
	check "ours remap" "$(ours_remap "$d/ours.log")" "262273 3702 262275"
	check "ours P2M KiB" "$(num_after "$d/ours.log" '^P2M cost: .*shared; ')" 10332
	check "ours peak KiB" "$(num_after "$d/ours.log" '^P2M memory to ready: peak ')" 10384
	check "ours list pages" "$(list_pages "$d/ours.log")" 2563
	check "linux first line" "$(t_first_dom0 "$d/linux.log")" 37.057
	check "linux ready" "$(t_of "$d/linux.log" '^\[ *[0-9.]+\] Remapped [0-9]+ page')" 49.025
	check "linux remapped" "$(num_after "$d/linux.log" 'Remapped ')" 262273
	check "linux list pages" "$(list_pages "$d/linux.log")" 2560
	check "linux remap cost" "$(printf '97\n262176\n' | linux_remap_cost)" "525580 263307"
	check "linux pages" "$(linux_p2m_pages 2561 6)" 2581
	check "interval" "$(sub_t 49.025 37.057)" 11.97
	rm -rf "$d"
	[ "$fails" = 0 ] && echo "vs-linux.sh: self-check passed" && return 0
	echo "vs-linux.sh: self-check: $fails failed"
	return 1
}

while [ $# -gt 0 ]; do
	case "$1" in
	--build) build="$2"; shift 2 ;;
	--only) only="$2"; shift 2 ;;
	--out) out="$2"; shift 2 ;;
	--no-fetch) fetch=0; shift ;;
	--tabulate) tabulate=1; fetch=0; shift ;;
	--self-check) self_check; exit $? ;;
	-h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
	*) echo "vs-linux.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
	esac
done

. "$here/find-build.sh"
[ -n "$build" ] || build="$(find_build "$root" guest-initp2m.elf)"
[ -n "$build" ] && [ -x "$build/p2m" ] || die "no built p2m with guest/guest-initp2m.elf; build first or give --build DIR"
p2m="$build/p2m"
pkgs="$cache/pkgs"
if [ "$fetch" = 1 ]; then
	"$here/get-xen.sh" --tools >/dev/null || die "scripts/get-xen.sh --tools failed"
elif ! ls "$pkgs"/boot/vmlinuz-*-amd64 >/dev/null 2>&1; then
	echo "vs-linux.sh: Linux not fetched (run scripts/get-xen.sh --tools): skipped" >&2
	exit 77
fi
kernel="$(ls "$pkgs"/boot/vmlinuz-*-amd64 | grep -v -- '-rt-\|-cloud-' | sort -V | tail -n 1)"
[ -f "$kernel" ] || die "no Linux kernel in $pkgs/boot"
out="${out:-$build/vs-linux}"
mkdir -p "$out"

# name|machine|mem|dom0_mem|timeout for Linux (s)
configs=("pc6|pc|6G|5G,max:5G|300" "q35|q35|6G|4G,max:4G|300" "64g|pc|64G|62G,max:62G|900")

# Linux: run until its milestone, then end the run (SIGTERM to p2m boot,
# which stops QEMU and reports). Leaves the log in $1.
run_linux() {
	local log="$1" tmo="$2" pid waited=0
	shift 2
	"$p2m" boot --guest "$kernel" --args "$linux_args" --log "$log" --timeout "$tmo" --quiet "$@" \
		>"$log.out" 2>&1 &
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		if grep -q '\] Remapped [0-9]* page' "$log" 2>/dev/null; then
			sleep 2
			kill -TERM "$pid" 2>/dev/null
			break
		fi
		sleep 1
		waited=$((waited + 1))
	done
	wait "$pid" 2>/dev/null
}

table="$out/vs-linux.md"
started="$(date -u '+%Y-%m-%d %H:%M UTC')"
{
	echo "| machine | kernel | load | first line -> P2M ready | Xen hand-over -> P2M ready | remapped | remap calls/page | remap mmu_update entries/page | P2M memory | P2M peak to ready |"
	echo "|---|---|---|---|---|---|---|---|---|---|"
} >"$table"
status=0
: >"$out/notes.md"
for c in "${configs[@]}"; do
	IFS='|' read -r name machine mem dom0 tmo <<<"$c"
	if [ -n "$only" ] && ! [[ ",$only," == *",$name,"* ]]; then continue; fi
	desc="$machine -m $mem, dom0 $dom0"
	[ "$tabulate" = 0 ] && echo "vs-linux.sh: $name ($desc): our guest"
	lo="$out/ours-$name.log" ll="$out/linux-$name.log"
	if [ "$tabulate" = 0 ]; then
		cut -d' ' -f1 /proc/loadavg >"$lo.load"
		"$p2m" boot --init-p2m --machine "$machine" --mem "$mem" --dom0-mem "$dom0" --log "$lo" --quiet \
			>"$lo.out" 2>&1 || { echo "vs-linux.sh: $name: our guest failed:"; tail -n 3 "$lo.out"; status=1; }
		echo "vs-linux.sh: $name ($desc): Linux $(basename "$kernel")"
		cut -d' ' -f1 /proc/loadavg >"$ll.load"
		run_linux "$ll" "$tmo" --machine "$machine" --mem "$mem" --dom0-mem "$dom0"
	elif [ ! -f "$lo" ] || [ ! -f "$ll" ]; then
		echo "vs-linux.sh: $name: no logs in $out: skipped"
		continue
	fi
	load_o="$(cat "$lo.load" 2>/dev/null || echo "?")" load_l="$(cat "$ll.load" 2>/dev/null || echo "?")"

	# Ours, measured.
	o_x="$(t_of "$lo" '^\(XEN\) Freed .*init memory')" o_f="$(t_first_dom0 "$lo")"
	o_r="$(t_of "$lo" '^published: ')"
	read -r o_pages o_calls o_entries <<<"$(ours_remap "$lo")"
	o_kib="$(num_after "$lo" '^P2M cost: .*shared; ')"
	o_list="$(list_pages "$lo")"
	o_peak="$(num_after "$lo" '^P2M memory to ready: peak ')"
	# Linux: times measured, the rest derived.
	l_x="$(t_of "$ll" '^\(XEN\) Freed .*init memory')" l_f="$(t_first_dom0 "$ll")"
	l_r="$(t_of "$ll" '^\[ *[0-9.]+\] Remapped [0-9]+ page')"
	l_pages="$(num_after "$ll" 'Remapped ')"
	l_list="$(list_pages "$ll")"
	plan="$("$p2m" e820 "$ll" --map xen --nr-pages "${dom0%%,*}" --no-dump 2>&1)"
	p_remapped="$(sed -n 's/.*"Remapped \([0-9]*\) page(s)".*/\1/p' <<<"$plan" | head -n 1)"
	read -r p_leaves p_windows <<<"$(sed -n "s/.*Linux's list for the same plan: \([0-9]*\) private leaves, \([0-9]*\) split.*/\1 \2/p" <<<"$plan")"
	read -r l_calls l_entries <<<"$(sed -n 's/.*frames of \[.*\] move to \[.*\]  *\([0-9]*\) pages/\1/p' <<<"$plan" | linux_remap_cost)"
	if [ -z "$l_r" ] || [ -z "$o_r" ]; then
		echo "vs-linux.sh: $name: a milestone is missing (ours: '${o_r}', Linux: '${l_r}'); see $lo, $ll"
		status=1
	fi
	if [ -n "$l_pages" ] && [ "$p_remapped" != "$l_pages" ]; then
		echo "vs-linux.sh: $name: the plan remaps ${p_remapped:-?} pages but Linux remapped $l_pages: its derived figures do not hold"
		status=1
	fi
	l_p2m=$(linux_p2m_pages "${p_leaves:-0}" "${p_windows:-0}")
	o_mib="$(awk -v k="${o_kib:-0}" 'BEGIN { printf "%.2f", k / 1024 }')"
	{
		echo "| $desc | ours (guest-initp2m.elf) | $load_o | $(sub_t "$o_r" "$o_f") s | $(sub_t "$o_r" "$o_x") s | ${o_pages:-?} | $(ratio "$o_calls" "$o_pages") | $(ratio "$o_entries" "$o_pages") | $o_mib MiB | $(awk -v k="$o_peak" 'BEGIN { if (k == "") print "?"; else printf "%.2f", k / 1024 }') MiB |"
		echo "| $desc | Linux 6.1 | $load_l | $(sub_t "$l_r" "$l_f") s | $(sub_t "$l_r" "$l_x") s | ${l_pages:-?} | $(ratio "$l_calls" "$l_pages") (derived) | $(ratio "$l_entries" "$l_pages") (derived) | $(mib "$l_p2m") MiB (derived) | $(awk -v a="$(mib "$l_p2m")" -v b="$(mib "${l_list:-0}")" 'BEGIN { printf "%.2f", a + b }') MiB (derived) |"
	} >>"$table"
	# Linux's P2M phase proper: reserving the list's VA area (the copy
	# starts) to "Remapped", on the host clock.
	l_v="$(t_of "$ll" '^\[ *[0-9.]+\] p2m virtual area at')"
	o_total="$(num_after "$lo" '^hypercalls \(to P2M ready\): ')"
	o_mmu="$(sed -n 's/.*\] hypercalls (to P2M ready): .*mmu_update \([0-9]*\) calls \([0-9]*\) entries.*/\1 calls, \2 entries/p' "$lo" | head -n 1)"
	echo "- $desc: ours, everything up to P2M ready (build, remap, free, publish): ${o_total:-?} hypercalls (console_io not counted), mmu_update ${o_mmu:-?} (measured)." >>"$out/notes.md"
	echo "- $desc: Linux from \"p2m virtual area\" (its list rebuild starts) to \"Remapped\": $(sub_t "$l_r" "$l_v") s; initial list $o_list pages (ours), $l_list (Linux); QEMU wall: ours $(sed -n 's/.*wall \([0-9.]*\) s.*/\1/p' "$lo.out") s, Linux $(sed -n 's/.*wall \([0-9.]*\) s.*/\1/p' "$ll.out") s (ended after its milestone)" >>"$out/notes.md"
done
[ "$tabulate" = 1 ] && ls "$out"/ours-*.log >/dev/null 2>&1 &&
	started="$(date -u -r "$(ls "$out"/ours-*.log | head -n 1)" '+%Y-%m-%d %H:%M UTC') (tabulated again)"
xen_version="$(sed -n 's/.*(XEN) Xen version \([^ ]*\) .*/\1/p' "$out"/ours-*.log 2>/dev/null | head -n 1)"
{
	echo "Run of $started: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)," \
		"QEMU $(qemu-system-x86_64 --version | awk 'NR == 1 { print $4 }') TCG, Xen ${xen_version:-?}, $(basename "$kernel");" \
		"load = the 1-minute load average when the boot started"
	echo
	cat "$table"
	echo
	cat "$out/notes.md"
} >"$table.tmp" && mv "$table.tmp" "$table"
echo
cat "$table"
echo
echo "vs-linux.sh: logs and the table in $out"
exit "$status"
