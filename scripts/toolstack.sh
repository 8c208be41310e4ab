#!/usr/bin/env bash
# toolstack.sh: tier 3 of the Xen lab. Boots Debian's Linux 6.1 as PV dom0
# on Xen 4.17 under QEMU with an initramfs holding busybox and the Xen 4.17
# tools, starts xenstored, xen-init-dom0 and xenconsoled, and runs our PV
# guest as a domU through `xl create` (then, with --save, `xl save` and
# `xl restore`), reading the domU's verdict from xenconsoled's log.
#
#   scripts/toolstack.sh [--build DIR] [--save] [--mem MIB] [--args "..."] [--timeout S] [--no-fetch]
#   scripts/toolstack.sh --big [--build DIR] [--mem MIB] [--pages N] [--timeout S]
#   scripts/toolstack.sh --runtime [--build DIR] [--timeout S] [--no-fetch]
#   scripts/toolstack.sh --migrate [--build DIR] [--timeout S] [--no-fetch]
#
#   --build DIR   the build tree holding p2m and guest/*.elf (default: the
#                 first of build/, build-*/ that has both)
#   --save        also xl save + xl restore each domU (the guest must support
#                 suspend: cmdline word "loop", see guest/README.md)
#   --mem MIB     domU memory (default 32)
#   --args "..."  words added to every domU's command line (e.g. "limit=16M":
#                 trim the memory above 16 MiB, see guest/README.md)
#   --timeout S   for the whole QEMU run (default 600)
#   --no-fetch    do not download: exit 77 (skip) when the packages of
#                 `scripts/get-xen.sh --tools` are not in the cache yet
#   --big         one 600 GiB domU (guest-high-initp2m.elf: libxc maps its
#                 INIT_P2M list with 4 KiB pages) on a 1 TiB machine, dom0
#                 4 GiB, that keeps all its memory ("limit=off loop": no
#                 512 GiB trim) and publishes the list and the tree of its
#                 first 512 GiB. Once its checks pass: dom0's p2mpeek
#                 (tests/xen/p2mpeek_main.c) reads its P2M with libp2mread
#                 through the list, tree-only (refused: too large for the
#                 tree) and the tree of the first 512 GiB (the list's
#                 leaves); `xl -vvv save` into a FIFO that srdump
#                 (tests/xen/srdump.c) reads, printing the stream's records
#                 (the P2M frames record's pfn range and frame count) and
#                 closing it after N PAGE_DATA records (--pages, default 8):
#                 the saver's log lines on the p2m list are printed; xl then
#                 resumes the domU (suspend cancelled) and its checks run
#                 again. No dump-core and no destroy (Xen would scrub, i.e.
#                 commit, 600 GiB of host RAM): the run ends with the domU
#                 alive. ~14.6 GB of host RAM and 9-25 minutes (with the
#                 host's load; p2mpeek's reads take most); run alone.
#                 With --mem MIB the same steps on a domU of MIB (a 2 GiB
#                 machine, dom0 1 GiB, --pages 2 by default): a quick
#                 rehearsal (CTest xen.toolstack.bigsave), where the tree
#                 reaches the whole guest.
#   --pages N     with --big: PAGE_DATA records (1024 pages each) srdump
#                 reads before it cuts the save
#   --runtime     the P2M after boot (docs/runtime.md): one domU of 4 vCPUs,
#                 memory 64 MiB, maxmem 128 MiB, that stays up ("loop"):
#                 its checks include the `smp` check (lock-free readers on
#                 every vCPU while the others write); then `xl mem-set` to
#                 16 MiB and back to 64 MiB three times and once to maxmem
#                 (the balloon driver), the explicit P2M compaction, a
#                 XENMEM_exchange of 2 MiB and back, a grant batch from
#                 dom0 (tests/xen/gntpeer.c) with bad refs, xl mem-max 256 and
#                 mem-set 256 (beyond the boot plan) and back, save + restore
#                 at 16 MiB, at 256 MiB and at the end, and the
#                 guest's checks after each step; `xl list` after each step.
#   --migrate     live migration to localhost (docs/runtime.md "Live
#                 migration"; steps in scripts/toolstack-migrate.sh): one
#                 domU of 2 vCPUs, memory 64 MiB, maxmem 128 MiB, "loop";
#                 its free pages carry a pattern of their pfn, checked after
#                 every resume; `xl -vvv migrate -s "" NAME "xl -vvv
#                 migrate-receive"` of (a) the idle guest (it answers a
#                 request during a live round), (b) the guest ballooning
#                 64 -> 32 -> 64 MiB in a live round (no abort), (c) the
#                 guest growing and dropping a leaf for 3 s in a live
#                 round (the saver aborts:
#                 "p2m generation count changed"; the guest runs on) and
#                 its retry; then save + restore. Needs a Xen with shadow
#                 paging (PV log-dirty): the default image is
#                 cache/xen/xen-shadow (`scripts/get-xen.sh --shadow`).
#
# The hypervisor is $P2M_XEN when set (e.g. cache/xen/xen-shadow of
# `scripts/get-xen.sh --shadow`), else cache/xen/xen.
# Everything comes from Debian packages (scripts/get-xen.sh --tools); the
# initramfs is rebuilt in DIR/toolstack/ each run (~2 s). The dom0's /init
# (scripts/toolstack-init.sh) prints "toolstack: N passed, N failed" (one check per domU and step) and
# leaves QEMU through isa-debug-exit (0x10 pass, 0x11 fail) by writing
# /dev/port, so `p2m boot` returns the verdict as for the tier-1 guest.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
cache="${P2M_CACHE:-$root/cache}"
xen_image="${P2M_XEN:-$cache/xen/xen}"
build="${P2M_BUILD:-}"
save=0
fetch=1
mem=32
timeout=600
big=0
mem_given=0
pages=8
pages_given=0
runtime=0
migrate=0
args=""
while [ $# -gt 0 ]; do
	case "$1" in
	--build) build="$2"; shift 2 ;;
	--save) save=1; shift ;;
	--no-fetch) fetch=0; shift ;;
	--mem) mem="$2"; mem_given=1; shift 2 ;;
	--pages) pages="$2"; pages_given=1; shift 2 ;;
	--args) args="$2"; shift 2 ;;
	--timeout) timeout="$2"; shift 2 ;;
	--big) big=1; shift ;;
	--runtime) runtime=1; save=1; shift ;;
	--migrate) migrate=1; save=1; shift ;;
	-h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
	*) echo "toolstack.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
	esac
done
die() { echo "toolstack.sh: error: $*" >&2; exit 1; }

. "$here/find-build.sh"
[ -n "$build" ] || build="$(find_build "$root" guest.elf)"
[ -n "$build" ] && [ -x "$build/p2m" ] || die "no built p2m with guest/guest.elf found; build first or give --build DIR"
[[ "$mem" =~ ^[0-9]+$ ]] || die "--mem wants MiB as a number"

# PV live migration needs log-dirty, i.e. shadow paging: Debian's
# binary has it off ("Failed to enable logdirty: 95,22,0").
[ "$migrate" = 1 ] && [ -z "${P2M_XEN:-}" ] && xen_image="$cache/xen/xen-shadow"
if [ "$migrate" = 1 ] && [ ! -f "$xen_image" ]; then
	[ "$fetch" = 1 ] || { echo "toolstack.sh: $xen_image not built (scripts/get-xen.sh --shadow): skipped" >&2; exit 77; }
	"$here/get-xen.sh" --shadow >/dev/null || die "scripts/get-xen.sh --shadow failed"
fi

pkgs="$cache/pkgs"
if [ "$fetch" = 1 ]; then
	"$here/get-xen.sh" --tools >/dev/null || die "scripts/get-xen.sh --tools failed"
elif ! ls "$pkgs"/boot/vmlinuz-*-amd64 >/dev/null 2>&1 || [ ! -x "$pkgs/usr/lib/xen-4.17/bin/xl" ] ||
	[ ! -f "$xen_image" ]; then
	echo "toolstack.sh: packages not fetched (run scripts/get-xen.sh --tools): skipped" >&2
	exit 77
fi
kernel="$(ls "$pkgs"/boot/vmlinuz-*-amd64 | grep -v -- '-rt-\|-cloud-' | sort -V | tail -n 1)"
kver="${kernel##*/vmlinuz-}"
[ -f "$kernel" ] || die "no Linux kernel in $pkgs/boot"

work="$build/toolstack"
stage="$work/root"
rm -rf "$stage"
mkdir -p "$stage"/{bin,sbin,dev,proc,sys,run,tmp,etc/xen,var/lib/xen,var/log/xen/console,var/run/xen,guest,modules}

# Programs and the libraries they load (a merged /lib and /usr/lib, as on Debian).
cp -a "$pkgs"/bin/busybox "$stage"/bin/
cp -a "$pkgs"/lib64 "$stage"/
mkdir -p "$stage"/lib "$stage"/usr/lib "$stage"/usr/bin
cp -a "$pkgs"/lib/x86_64-linux-gnu "$stage"/lib/
cp -a "$pkgs"/usr/lib/x86_64-linux-gnu "$stage"/usr/lib/
mkdir -p "$stage"/usr/lib/xen-4.17
cp -a "$pkgs"/usr/lib/xen-4.17/bin "$stage"/usr/lib/xen-4.17/
[ -d "$pkgs"/usr/lib/xen-4.17/lib ] && cp -a "$pkgs"/usr/lib/xen-4.17/lib "$stage"/usr/lib/xen-4.17/
cp -a "$pkgs"/usr/bin/xenstore* "$stage"/usr/bin/
rm -rf "$stage"/usr/lib/x86_64-linux-gnu/gconv
for m in xen-evtchn xen-privcmd xen-gntdev xen-gntalloc xenfs/xenfs; do
	cp "$pkgs/lib/modules/$kver/kernel/drivers/xen/$m.ko" "$stage"/modules/ ||
		die "module $m.ko not in the linux-image package"
done
echo 'autoballoon="off"' >"$stage"/etc/xen/xl.conf

# The domUs: each "name|image|MiB|extra|maxmem MiB|vCPUs".
if [ "$big" = 1 ] && [ "$mem_given" = 1 ]; then
	domus=("big|guest-high-initp2m.elf|$mem|limit=off loop|$mem|1")
	qemu_mem=2G dom0_mem=1G,max:1G
	# Cut well before the last page (a small domU's whole stream could
	# otherwise fit the FIFO's buffer, the save succeed and xl destroy it).
	[ "$pages_given" = 1 ] || pages=2
elif [ "$big" = 1 ]; then
	domus=("big|guest-high-initp2m.elf|614400|limit=off loop|614400|1")
	qemu_mem=1T dom0_mem=4G,max:4G
	[ "$timeout" = 600 ] && timeout=2400
elif [ "$runtime" = 1 ]; then
	domus=("rt|guest.elf|64||128|4")
	qemu_mem=2G dom0_mem=1G,max:1G
elif [ "$migrate" = 1 ]; then
	domus=("mig|guest.elf|64||128|2")
	qemu_mem=2G dom0_mem=1G,max:1G
else
	domus=("a|guest.elf|$mem||$mem|1" "b|guest-high-initp2m.elf|$mem||$mem|1")
	qemu_mem=2G dom0_mem=1G,max:1G
fi
for d in "${domus[@]}"; do
	IFS='|' read -r name image dmem extra maxmem vcpus <<<"$d"
	[ -f "$build/guest/$image" ] || die "guest image $build/guest/$image missing"
	[ "$save" = 1 ] && extra="${extra:+$extra }loop"
	[ -n "$args" ] && extra="${extra:+$extra }$args"
	cp "$build/guest/$image" "$stage"/guest/
	cat >"$stage/guest/p2m-$name.cfg" <<EOF
name = "p2m-$name"
kernel = "/guest/$image"
memory = $dmem
maxmem = $maxmem
vcpus = $vcpus
on_poweroff = "preserve"
on_crash = "preserve"
on_reboot = "preserve"
extra = "$extra"
EOF
done
printf '%s\n' "${domus[@]}" | cut -d'|' -f1 >"$stage"/guest/list
echo "$save" >"$stage"/guest/save
echo "$big" >"$stage"/guest/big
echo "$runtime" >"$stage"/guest/runtime
echo "$migrate" >"$stage"/guest/migrate
if [ "$migrate" = 1 ]; then
	install -m 644 "$here/toolstack-migrate.sh" "$stage"/guest/migrate.sh
	# xl hides the saver's progress (its rounds) while migrating: the
	# shim of tests/xen/xlprogress.c lets it through.
	[ -f "$build/tests/xen/xlprogress.so" ] || die "$build/tests/xen/xlprogress.so missing (build it)"
	cp "$build/tests/xen/xlprogress.so" "$stage"/lib/
fi

install -m 755 "$here/toolstack-init.sh" "$stage"/init
# The dom0 side of --big's reads and save (tests/xen/p2mpeek_main.c, srdump.c).
if [ "$big" = 1 ]; then
	[[ "$pages" =~ ^[0-9]+$ ]] || die "--pages wants a number"
	echo "$pages" >"$stage"/guest/pages
	for t in p2mpeek srdump; do
		[ -x "$build/tests/xen/$t" ] ||
			die "$build/tests/xen/$t missing (build it; p2mpeek needs libxen-dev's static libraries)"
		cp "$build/tests/xen/$t" "$stage"/bin/
	done
fi
# The dom0 side of --runtime's grant step (tests/xen/gntpeer.c).
if [ "$runtime" = 1 ]; then
	[ -x "$build/tests/xen/gntpeer" ] || die "$build/tests/xen/gntpeer missing (build it)"
	cp "$build/tests/xen/gntpeer" "$stage"/bin/
fi

(cd "$stage" && find . | cpio -o -H newc --quiet | gzip -1) >"$work/initrd.cpio.gz"
echo "toolstack.sh: initramfs $work/initrd.cpio.gz ($(du -h "$work/initrd.cpio.gz" | cut -f1)), kernel $kernel"

exec "$build/p2m" boot --xen "$xen_image" --guest "$kernel" --module "$work/initrd.cpio.gz" \
	--args "console=hvc0 earlyprintk=xen loglevel=4" \
	--mem "$qemu_mem" --dom0-mem "$dom0_mem" --timeout "$timeout" --log "$work/console.log"
