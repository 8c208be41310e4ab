#!/usr/bin/env bash
# get-xen.sh: provision what `p2m boot` needs to run the PV guest on real Xen.
#
#   scripts/get-xen.sh            QEMU and libxen-dev (apt) + the Xen 4.17 image
#   scripts/get-xen.sh --tools    also the packages of the toolstack tier
#                                 (Linux 6.1, busybox, xen-utils and their libs)
#
# Design: QEMU is an ordinary host tool and is installed with apt-get. The
# hypervisor is NEVER installed on the host: its Debian package is fetched
# with `apt-get download`, unpacked with `dpkg -x` into a cache the repo
# ignores, and its gzipped multiboot image is gunzipped to cache/xen/xen,
# which QEMU's multiboot loader boots directly (-kernel).
#
# Layout (root P2M_CACHE, default <repo>/cache):
#   debs/   the downloaded .deb files
#   pkgs/   every package unpacked with dpkg -x (one merged tree)
#   xen/xen the hypervisor image that `p2m boot` uses by default
#
# Idempotent: a package whose .deb is already in debs/ is not fetched again,
# and the image is only rewritten when the .gz is newer. Exit status is 0
# when everything asked for is there, 1 with a message naming what is not.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
cache="${P2M_CACHE:-$root/cache}"
debs="$cache/debs"
pkgs="$cache/pkgs"
xendir="$cache/xen"

# The toolstack tier (docs/design.md, "The toolstack tier"): Linux dom0,
# busybox, the Xen tools and the shared libraries they load.
tools_pkgs=('re:^linux-image-6\.1\.0-[0-9]+-amd64$' busybox-static xen-utils-4.17 xenstore-utils
	xen-utils-common libxenmisc4.17 libxencall1 libxendevicemodel1 libxenevtchn1
	libxenforeignmemory1 libxengnttab1 libxenhypfs1 libxenstore4 libxentoollog1
	libxentoolcore1 libyajl2 libext2fs2 libncurses6 libtinfo6 libuuid1 libzstd1
	zlib1g liblzma5 libc6 libbz2-1.0 liblz4-1 libcom-err2 libgcc-s1 libnl-3-200
	libnl-route-3-200 libfdt1 libpci3)

want_tools=0
for a in "$@"; do
	case "$a" in
	--tools) want_tools=1 ;;
	-h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "get-xen.sh: unknown option '$a' (try --help)" >&2; exit 2 ;;
	esac
done

say() { echo "get-xen: $*"; }
die() { echo "get-xen: error: $*" >&2; exit 1; }

as_root() {
	if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"
	else die "need root for: $* (run as root or install sudo)"; fi
}

apt_updated=0
apt_update_once() {
	[ "$apt_updated" = 1 ] && return 0
	say "apt-get update"
	as_root apt-get update -qq || die "apt-get update failed: is a Debian mirror reachable?"
	apt_updated=1
}

# Host tools: QEMU to run Xen, cpio for the toolstack initramfs.
ensure_host_pkg() { # command package
	command -v "$1" >/dev/null && return 0
	apt_update_once
	say "installing $2"
	DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$2" >/dev/null ||
		die "cannot install $2 with apt-get (needed for '$1')"
	command -v "$1" >/dev/null || die "$2 installed but '$1' is still not on PATH"
}

# Resolve "re:REGEX" to the newest package name matching it (sort -V), so
# that the current Debian 6.1 kernel ABI is taken whatever its number.
resolve_name() {
	case "$1" in
	re:*)
		local pat="${1#re:}" name
		name="$(apt-cache pkgnames 2>/dev/null | grep -E "$pat" | sort -V | tail -n 1 || true)"
		if [ -z "$name" ] && [ "$apt_updated" = 0 ]; then
			apt_update_once
			name="$(apt-cache pkgnames 2>/dev/null | grep -E "$pat" | sort -V | tail -n 1 || true)"
		fi
		[ -n "$name" ] || die "no Debian package matches '$pat'"
		echo "$name" ;;
	*) echo "$1" ;;
	esac
}

# Download one package into debs/ unless a .deb of it is there already.
fetch_deb() { # name
	local name="$1"
	if compgen -G "$debs/${name}_*.deb" >/dev/null; then return 0; fi
	say "downloading $name"
	if ! (cd "$debs" && apt-get download -q "$name" >/dev/null 2>"$debs/.err"); then
		apt_update_once
		(cd "$debs" && apt-get download -q "$name" >/dev/null 2>"$debs/.err") || {
			cat "$debs/.err" >&2
			die "cannot download Debian package '$name' (no such package in the configured sources, or the mirror is unreachable)"
		}
	fi
	rm -f "$debs/.err"
}

# Unpack every .deb whose stamp is missing or older than the .deb.
unpack_all() {
	local deb stamp
	mkdir -p "$pkgs/.stamps"
	for deb in "$debs"/*.deb; do
		[ -e "$deb" ] || continue
		stamp="$pkgs/.stamps/$(basename "$deb").done"
		if [ ! -e "$stamp" ] || [ "$deb" -nt "$stamp" ]; then
			dpkg -x "$deb" "$pkgs" || die "dpkg -x failed on $deb"
			touch "$stamp"
		fi
	done
}

mkdir -p "$debs" "$pkgs" "$xendir"

ensure_host_pkg qemu-system-x86_64 qemu-system-x86
# The build (lib and guest) takes Xen's public headers from the host.
if [ ! -f /usr/include/xen/xen.h ]; then
	apt_update_once
	say "installing libxen-dev (Xen public headers)"
	DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq libxen-dev >/dev/null ||
		die "cannot install libxen-dev with apt-get"
fi
names=(xen-hypervisor-4.17-amd64)
if [ "$want_tools" = 1 ]; then
	ensure_host_pkg cpio cpio
	for p in "${tools_pkgs[@]}"; do names+=("$(resolve_name "$p")"); done
fi
for n in "${names[@]}"; do fetch_deb "$n"; done
unpack_all

gz="$pkgs/boot/xen-4.17-amd64.gz"
[ -f "$gz" ] || die "the hypervisor package unpacked but has no boot/xen-4.17-amd64.gz"
if [ ! -s "$xendir/xen" ] || [ "$gz" -nt "$xendir/xen" ]; then
	zcat "$gz" >"$xendir/xen.tmp" && mv "$xendir/xen.tmp" "$xendir/xen"
fi
say "Xen image: $xendir/xen ($(stat -c %s "$xendir/xen") bytes)"
say "QEMU: $(qemu-system-x86_64 --version | head -n 1)"
if [ "$want_tools" = 1 ]; then
	k="$(ls "$pkgs"/boot/vmlinuz-*-amd64 2>/dev/null | grep -v -- '-rt-\|-cloud-' | sort -V | tail -n 1 || true)"
	[ -n "$k" ] || die "linux-image unpacked but no boot/vmlinuz-* found"
	say "toolstack packages unpacked in $pkgs (kernel $(basename "$k"))"
fi
