#!/usr/bin/env bash
# toolstack.sh: tier 3 of the Xen lab. Boots Debian's Linux 6.1 as PV dom0
# on Xen 4.17 under QEMU with an initramfs holding busybox and the Xen 4.17
# tools, starts xenstored, xen-init-dom0 and xenconsoled, and runs our PV
# guest as a domU through `xl create` (then, with --save, `xl save` and
# `xl restore`), reading the domU's verdict from xenconsoled's log.
#
#   scripts/toolstack.sh [--build DIR] [--save] [--mem MIB] [--args "..."] [--timeout S] [--no-fetch]
#   scripts/toolstack.sh --big [--build DIR]
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
#                 4 GiB; no dump-core and no destroy (Xen would scrub, i.e.
#                 commit, 600 GiB of host RAM): the run ends with the domU
#                 alive. ~13.5 GB of host RAM and several minutes; run alone.
#
# The hypervisor is $P2M_XEN when set (e.g. cache/xen/xen-shadow of
# `scripts/get-xen.sh --shadow`), else cache/xen/xen.
# Everything comes from Debian packages (scripts/get-xen.sh --tools); the
# initramfs is rebuilt in DIR/toolstack/ each run (~2 s). The dom0's /init
# prints "toolstack: N passed, N failed" (one check per domU and step) and
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
args=""
while [ $# -gt 0 ]; do
	case "$1" in
	--build) build="$2"; shift 2 ;;
	--save) save=1; shift ;;
	--no-fetch) fetch=0; shift ;;
	--mem) mem="$2"; shift 2 ;;
	--args) args="$2"; shift 2 ;;
	--timeout) timeout="$2"; shift 2 ;;
	--big) big=1; shift ;;
	-h|--help) sed -n '2,33p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "toolstack.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
	esac
done
die() { echo "toolstack.sh: error: $*" >&2; exit 1; }

if [ -z "$build" ]; then
	for d in "$root"/build "$root"/build-*; do
		if [ -x "$d/p2m" ] && [ -f "$d/guest/guest.elf" ]; then build="$d"; break; fi
	done
fi
[ -n "$build" ] && [ -x "$build/p2m" ] || die "no built p2m with guest/guest.elf found; build first or give --build DIR"
[[ "$mem" =~ ^[0-9]+$ ]] || die "--mem wants MiB as a number"

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

# The domUs: each "name|image|MiB|extra".
if [ "$big" = 1 ]; then
	domus=("big|guest-high-initp2m.elf|614400|")
	qemu_mem=1T dom0_mem=4G,max:4G
	[ "$timeout" = 600 ] && timeout=1500
else
	domus=("a|guest.elf|$mem|" "b|guest-high-initp2m.elf|$mem|")
	qemu_mem=2G dom0_mem=1G,max:1G
fi
for d in "${domus[@]}"; do
	IFS='|' read -r name image dmem extra <<<"$d"
	[ -f "$build/guest/$image" ] || die "guest image $build/guest/$image missing"
	[ "$save" = 1 ] && extra="${extra:+$extra }loop"
	[ -n "$args" ] && extra="${extra:+$extra }$args"
	cp "$build/guest/$image" "$stage"/guest/
	cat >"$stage/guest/p2m-$name.cfg" <<EOF
name = "p2m-$name"
kernel = "/guest/$image"
memory = $dmem
vcpus = 1
on_poweroff = "preserve"
on_crash = "preserve"
on_reboot = "preserve"
extra = "$extra"
EOF
done
printf '%s\n' "${domus[@]}" | cut -d'|' -f1 >"$stage"/guest/list
echo "$save" >"$stage"/guest/save
echo "$big" >"$stage"/guest/big

cat >"$stage"/init <<'EOF'
#!/bin/busybox sh
# dom0 /init: bring up the toolstack, run each domU, report, leave QEMU.
/bin/busybox --install -s /bin
export PATH=/bin:/sbin:/usr/bin:/usr/lib/xen-4.17/bin
export LD_LIBRARY_PATH=/usr/lib/xen-4.17/lib:/usr/lib/x86_64-linux-gnu:/lib/x86_64-linux-gnu
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmp /tmp
for m in xen-evtchn xen-privcmd xen-gntdev xen-gntalloc xenfs; do
	insmod /modules/$m.ko || echo "toolstack: insmod $m failed"
done
mount -t xenfs xenfs /proc/xen
up() { cut -d' ' -f1 /proc/uptime; }
passed=0
failed=0
check() { # ok|fail what
	if [ "$1" = ok ]; then passed=$((passed + 1)); echo "toolstack: PASS $2"
	else failed=$((failed + 1)); echo "toolstack: FAIL $2"; fi
}
leave() {
	echo "toolstack: $passed passed, $failed failed"
	v='\020'; [ "$failed" = 0 ] && [ "$passed" -gt 0 ] || v='\021'
	printf "$v" | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
	poweroff -f
}
t=$(up); xenstored --pid-file /run/xenstored.pid && check ok "xenstored started ($t s)" || { check fail xenstored; leave; }
t=$(up); xen-init-dom0 >/tmp/init-dom0.log 2>&1 && check ok "xen-init-dom0 ($t s)" || { cat /tmp/init-dom0.log; check fail xen-init-dom0; leave; }
xenconsoled --log=guest --log-dir=/var/log/xen/console || check fail xenconsoled
xl info | grep -E 'xen_version|total_memory|free_memory'

# state NAME: xl's state letters (r b p s c d), "queued" for a listed
# domain with none of them (runnable but not on the CPU: with Xen's one
# pCPU a busy domU is exactly that whenever dom0 runs xl), or "gone".
state() {
	xl list "$1" 2>/dev/null | awk -v n="$1" '
		$1 == n { s = $5; gsub("-", "", s); print (s == "" ? "queued" : s); found = 1 }
		END { if (!found) print "gone" }'
}
# wait_end NAME SECONDS: until the domain has shut down or crashed.
wait_end() {
	i=0
	while [ $i -lt $(($2 * 10)) ]; do
		s=$(state "$1")
		case "$s" in *s*|*c*|gone) echo "$s"; return;; esac
		sleep 0.1; i=$((i + 1))
	done
	echo timeout
}
verdict() { # NAME: the domU's last closing line in xenconsoled's log
	grep -E '[0-9]+ passed, [0-9]+ failed' /var/log/xen/console/guest-$1.log 2>/dev/null | tail -n 1
}
nverdicts() { # NAME: how many closing lines (one per run of the checks)
	grep -cE '[0-9]+ passed, [0-9]+ failed' /var/log/xen/console/guest-$1.log 2>/dev/null
}
badverdicts() { # NAME: closing lines that are not "N>0 passed, 0 failed"
	grep -E '[0-9]+ passed, [0-9]+ failed' /var/log/xen/console/guest-$1.log 2>/dev/null |
		grep -vE '(^|[^0-9])[1-9][0-9]* passed, 0 failed' | head -n 1
}
settle_log() { # NAME: xenconsoled writes the log a little after the ring
	f=/var/log/xen/console/guest-$1.log
	i=0; last=-1
	while [ $i -lt 20 ]; do
		now=$(wc -c <$f 2>/dev/null || echo 0)
		[ "$now" = "$last" ] && [ "$now" != 0 ] && return
		last=$now; sleep 0.3; i=$((i + 1))
	done
}
wait_verdicts() { # NAME COUNT SECONDS: until COUNT closing lines are logged
	i=0
	while [ $i -lt $(($3 * 10)) ]; do
		[ "$(nverdicts $1)" -ge "$2" ] && return 0
		case "$(state $1)" in *c*|gone) return 1;; esac
		sleep 0.1; i=$((i + 1))
	done
	return 1
}
save=$(cat /guest/save)
big=$(cat /guest/big)
for n in $(cat /guest/list); do
	d=p2m-$n
	t0=$(up)
	if ! xl create /guest/$d.cfg; then check fail "$d: xl create"; continue; fi
	t1=$(up)
	check ok "$d: xl create ($(awk "BEGIN{print $t1-$t0}") s)"
	if [ "$save" = 1 ]; then
		# With "loop" the guest stays up after its checks, serving
		# control/shutdown; save only once it is there.
		if ! wait_verdicts $d 1 120; then
			check fail "$d: no verdict before save"
		else
			t0=$(up)
			if xl save $d /tmp/$d.save; then
				t1=$(up); check ok "$d: xl save ($(awk "BEGIN{print $t1-$t0}") s, $(wc -c </tmp/$d.save) bytes)"
				t0=$(up)
				if xl restore /tmp/$d.save; then
					t1=$(up); check ok "$d: xl restore ($(awk "BEGIN{print $t1-$t0}") s)"
					# The resumed guest runs its checks again.
					wait_verdicts $d 2 120 && check ok "$d: checks after restore" ||
						check fail "$d: no second verdict after restore"
				else check fail "$d: xl restore"; fi
				rm -f /tmp/$d.save
			else check fail "$d: xl save"; fi
		fi
		xl shutdown $d >/dev/null 2>&1
	fi
	limit=120; [ "$big" = 1 ] && limit=1200
	s=$(wait_end $d $limit)
	settle_log $d
	echo "toolstack: --- console of $d ---"
	sed 's/^/  | /' /var/log/xen/console/guest-$d.log 2>/dev/null | tail -n 60
	grep -m1 'PANIC' /var/log/xen/console/guest-$d.log 2>/dev/null | sed 's/^/toolstack: domU /' 
	v=$(verdict $d)
	b=$(badverdicts $d)
	[ -z "$b" ] || v="$b"
	case "$s" in
	*c*) check fail "$d: domain crashed (verdict: ${v:-none})" ;;
	timeout) check fail "$d: still running after $limit s (verdict: ${v:-none})" ;;
	*)
		if echo "$v" | grep -qE ' 0 failed' && ! echo "$v" | grep -qE '(^|[^0-9])0 passed'; then
			check ok "$d: $v"
		else
			check fail "$d: ended (state ${s:-?}) without a passing verdict (${v:-none})"
		fi
		# The toolstack reads the P2M the guest published (libxc's
		# map_p2m: p2m_cr3/p2m_vaddr or the frame-list tree) to dump it.
		if [ "$s" != gone ] && [ "$big" = 0 ]; then
			t0=$(up)
			if xl dump-core $d /tmp/$d.core >/tmp/$d.dump.log 2>&1; then
				t1=$(up)
				check ok "$d: xl dump-core ($(awk "BEGIN{print $t1-$t0}") s, $(wc -c </tmp/$d.core) bytes)"
			else
				cat /tmp/$d.dump.log
				check fail "$d: xl dump-core"
			fi
			rm -f /tmp/$d.core
		fi ;;
	esac
	# A huge domU is left alone: destroying it makes Xen scrub all of it.
	[ "$big" = 1 ] || xl destroy $d >/dev/null 2>&1
done
leave
EOF
chmod +x "$stage"/init

(cd "$stage" && find . | cpio -o -H newc --quiet | gzip -1) >"$work/initrd.cpio.gz"
echo "toolstack.sh: initramfs $work/initrd.cpio.gz ($(du -h "$work/initrd.cpio.gz" | cut -f1)), kernel $kernel"

exec "$build/p2m" boot --xen "$xen_image" --guest "$kernel" --module "$work/initrd.cpio.gz" \
	--args "console=hvc0 earlyprintk=xen loglevel=4" \
	--mem "$qemu_mem" --dom0-mem "$dom0_mem" --timeout "$timeout" --log "$work/console.log"
