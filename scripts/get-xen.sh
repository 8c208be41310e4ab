#!/usr/bin/env bash
# get-xen.sh: provision what `p2m boot` needs to run the PV guest on real Xen.
#
#   scripts/get-xen.sh            QEMU and libxen-dev (apt) + the Xen 4.17 image
#   scripts/get-xen.sh --tools    also the packages of the toolstack tier
#                                 (Linux 6.1, busybox, xen-utils and their libs)
#   scripts/get-xen.sh --shadow   also build Xen 4.17 from Debian's source package
#                                 with CONFIG_SHADOW_PAGING=y (PV log-dirty, i.e.
#                                 live migration) into xen/xen-shadow, and the same
#                                 with CONFIG_DEBUG=y into xen/xen-shadow-debug
#
# Design: QEMU is an ordinary host tool and is installed with apt-get. The
# hypervisor is NEVER installed on the host: its Debian package is fetched
# with `apt-get download`, unpacked with `dpkg -x` into a cache the repo
# ignores, and its gzipped multiboot image is gunzipped to cache/xen/xen,
# which QEMU's multiboot loader boots directly (-kernel). How Xen is booted
# under QEMU here is described in docs/design.md, the lab.
#
# --shadow: Debian's binary Xen has shadow paging off, so `xl migrate` of a
# PV guest fails ("Failed to enable logdirty"). The `xen` source package of
# the binary's version is fetched with `apt-get source` through an apt
# configuration of its own (apt/: deb-src entries for the suites the binary
# comes from, its own lists; the host's sources are never touched). If the
# mirror no longer serves that version's source, the newest 4.17 source it
# does serve is built instead, with a warning. Only the hypervisor is built
# (`make -C xen`, out of tree), from Debian's config (debian/xen-kconfig)
# plus the options above; its build tools are installed with apt-get.
#
# Layout (root P2M_CACHE, default <repo>/cache):
#   debs/   the downloaded .deb files
#   pkgs/   every package unpacked with dpkg -x (one merged tree)
#   xen/xen the hypervisor image that `p2m boot` uses by default
#   xen/xen-shadow, xen/xen-shadow-debug   the --shadow images (multiboot
#           ELF like xen/xen; .syms beside each: symbols for addr2line)
#   apt/    the apt configuration, lists and source downloads of --shadow
#   src/    the unpacked source tree and one build tree per image
#
# Idempotent: a package whose .deb is already in debs/ is not fetched again,
# the image is only rewritten when the .gz is newer, and the --shadow images
# are rebuilt only when the binary package's version or the recipe changes
# (xen/xen-shadow.stamp). Exit status is 0 when everything asked for is
# there, 1 with a message naming the step that failed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
cache="${P2M_CACHE:-$root/cache}"
debs="$cache/debs"
pkgs="$cache/pkgs"
xendir="$cache/xen"
jobs="${P2M_JOBS:-$(nproc)}"

# The toolstack tier (docs/design.md, "The toolstack tier"): Linux dom0,
# busybox, the Xen tools and the shared libraries they load.
tools_pkgs=('re:^linux-image-6\.1\.0-[0-9]+-amd64$' busybox-static xen-utils-4.17 xenstore-utils
	xen-utils-common libxenmisc4.17 libxencall1 libxendevicemodel1 libxenevtchn1
	libxenforeignmemory1 libxengnttab1 libxenhypfs1 libxenstore4 libxentoollog1
	libxentoolcore1 libyajl2 libext2fs2 libncurses6 libtinfo6 libuuid1 libzstd1
	zlib1g liblzma5 libc6 libbz2-1.0 liblz4-1 libcom-err2 libgcc-s1 libnl-3-200
	libnl-route-3-200 libfdt1 libpci3)

# --help: the leading comment block, whatever its length.
usage() { awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; }

want_tools=0
want_shadow=0
for a in "$@"; do
	case "$a" in
	--tools) want_tools=1 ;;
	--shadow) want_shadow=1 ;;
	-h|--help) usage; exit 0 ;;
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

# ---- --shadow: the hypervisor rebuilt from Debian's source package ----------

shadow_recipe="recipe 1: debian/xen-kconfig + CONFIG_SHADOW_PAGING=y; debug: + CONFIG_DEBUG=y"
aptdir="$cache/apt"
src_lists_fresh=0
srcdir="$cache/src"

# Install the tools the hypervisor alone needs (not the tools' build-deps).
ensure_build_tools() {
	local p missing=()
	for p in dpkg-dev gcc make binutils flex bison python3 xz-utils; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} = 0 ] && return 0
	apt_update_once
	say "installing the hypervisor's build tools: ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null ||
		die "step 'build tools': apt-get install ${missing[*]} failed"
}

# apt with the cache's own configuration: deb-src lines only, own lists.
apt_src() { APT_CONFIG="$aptdir/apt.conf" "$@"; }

# One deb-src line per archive the host's policy lists for the binary
# ("500 http://deb.debian.org/debian-security bookworm-security/main amd64 Packages").
src_lines() { # signed-by option
	apt-cache policy xen-hypervisor-4.17-amd64 2>/dev/null |
		awk -v o="$1" '$2 ~ /^https?:/ && $5 == "Packages" { split($3, s, "/"); print "deb-src " o $2 " " s[1] " " s[2] }' |
		sort -u
}

# Write apt/ (config, deb-src for every archive that carries the binary
# package, per the host's own policy) and refresh its lists when the sources
# changed or were never fetched. $1=1 forces a refresh.
setup_src_apt() {
	local force="${1:-0}" kr=/usr/share/keyrings/debian-archive-keyring.gpg opt="" lines
	mkdir -p "$aptdir/lists/partial" "$aptdir/cache/archives/partial" "$aptdir/sources.list.d" "$aptdir/dl"
	cat >"$aptdir/apt.conf.new" <<-CONF
	Dir::Etc::sourcelist "$aptdir/sources.list";
	Dir::Etc::sourceparts "$aptdir/sources.list.d";
	Dir::State::Lists "$aptdir/lists";
	Dir::Cache "$aptdir/cache";
	CONF
	mv "$aptdir/apt.conf.new" "$aptdir/apt.conf"
	[ -f "$kr" ] && opt="[signed-by=$kr] "
	lines="$(src_lines "$opt")"
	if [ -z "$lines" ]; then
		apt_update_once
		lines="$(src_lines "$opt")"
	fi
	[ -n "$lines" ] || die "step 'deb-src': the host's apt sources offer no xen-hypervisor-4.17-amd64"
	if [ "$lines" != "$(cat "$aptdir/sources.list" 2>/dev/null)" ]; then
		printf '%s\n' "$lines" >"$aptdir/sources.list"
		force=1
	fi
	if [ "$force" = 1 ] || ! compgen -G "$aptdir/lists/*Sources*" >/dev/null; then
		say "apt-get update (deb-src lists under $aptdir)"
		apt_src apt-get update -qq || die "step 'deb-src': apt-get update with $aptdir/apt.conf failed"
		src_lists_fresh=1
	fi
}

# Download and unpack source version $1 into src/xen-$1; fails quietly
# (status 1) when the mirror does not serve it.
fetch_source() { # version
	local v="$1" tree="$srcdir/xen-$1"
	[ -e "$tree/.unpacked" ] && return 0
	say "apt-get source xen=$v"
	(cd "$aptdir/dl" && apt_src apt-get source -q --download-only "xen=$v") >"$aptdir/dl/.log" 2>&1 || return 1
	rm -rf "$tree"
	dpkg-source -x "$aptdir/dl/xen_${v#*:}.dsc" "$tree" >>"$aptdir/dl/.log" 2>&1 ||
		{ cat "$aptdir/dl/.log" >&2; die "step 'unpack': dpkg-source -x of xen $v failed"; }
	touch "$tree/.unpacked"
}

# Pick and fetch the source into src_version: the binary's version, else
# (the mirror dropped it) the newest 4.17 one the mirror serves.
choose_source() { # binary-version
	local want="$1" v
	src_version="$want"
	fetch_source "$want" && return 0
	if [ "$src_lists_fresh" = 0 ]; then # the lists may predate the binary
		setup_src_apt 1
		fetch_source "$want" && return 0
	fi
	for v in $(apt_src apt-cache showsrc xen 2>/dev/null | awk '/^Version:/ { print $2 }' | sort -rV); do
		case "$v" in "$want") continue ;; 4.17.*) ;; *) continue ;; esac
		src_version="$v"
		if fetch_source "$v"; then
			say "warning: the mirror does not serve the source of xen $want (the binary's version); building xen $v instead"
			return 0
		fi
	done
	cat "$aptdir/dl/.log" >&2
	die "step 'apt-get source': no xen 4.17 source package could be downloaded (wanted $want)"
}

# Configure and build one image: $1 name (xen-shadow...), $2 source tree,
# then the Kconfig lines forced on top of Debian's config.
build_image() {
	local name="$1" tree="$2" b="$srcdir/build-$1" start=$SECONDS opt sym
	shift 2
	rm -rf "$b" && mkdir -p "$b"
	cp "$tree/debian/xen-kconfig" "$b/.config" || die "step 'config': $tree has no debian/xen-kconfig"
	for opt in "$@"; do
		sym="${opt%%=*}"
		sed -i "/^$sym=/d; /^# $sym is not set/d" "$b/.config"
		echo "$opt" >>"$b/.config"
	done
	make -C "$tree/xen" O="$b" XEN_TARGET_ARCH=x86_64 olddefconfig >"$b/build.log" 2>&1 ||
		{ tail -n 20 "$b/build.log" >&2; die "step 'config' of $name: make olddefconfig failed (log: $b/build.log)"; }
	for opt in "$@"; do
		grep -qx "$opt" "$b/.config" || die "step 'config' of $name: $opt did not survive olddefconfig"
	done
	say "building $name from xen $(basename "$tree" | sed 's/^xen-//') ($jobs jobs, log: $b/build.log)"
	make -C "$tree/xen" O="$b" XEN_TARGET_ARCH=x86_64 -j "$jobs" >>"$b/build.log" 2>&1 ||
		{ tail -n 30 "$b/build.log" >&2; die "step 'build' of $name: make -C xen failed (log: $b/build.log)"; }
	[ -s "$b/xen" ] || die "step 'build' of $name: make succeeded but left no $b/xen"
	cp "$b/xen-syms" "$xendir/$name.syms.tmp" && mv "$xendir/$name.syms.tmp" "$xendir/$name.syms"
	cp "$b/xen" "$xendir/$name.tmp" && mv "$xendir/$name.tmp" "$xendir/$name"
	say "built $xendir/$name ($(stat -c %s "$xendir/$name") bytes) in $((SECONDS - start)) s"
}

# Both images, unless the stamp says they match the binary's version and
# this recipe.
build_shadow() {
	local deb bin stamp want
	deb="$(ls "$debs"/xen-hypervisor-4.17-amd64_*_amd64.deb 2>/dev/null | sort -V | tail -n 1)"
	[ -n "$deb" ] || die "step 'version': no xen-hypervisor-4.17-amd64 .deb in $debs"
	bin="$(dpkg-deb -f "$deb" Version)"
	stamp="$xendir/xen-shadow.stamp"
	want="binary $bin; $shadow_recipe"
	if [ -s "$xendir/xen-shadow" ] && [ -s "$xendir/xen-shadow-debug" ] &&
	   [ "$(sed -n 1p "$stamp" 2>/dev/null)" = "$want" ]; then
		say "xen-shadow and xen-shadow-debug are up to date ($(sed -n 2p "$stamp")): nothing to build"
		return 0
	fi
	ensure_build_tools
	setup_src_apt
	choose_source "$bin"
	rm -f "$stamp"
	build_image xen-shadow "$srcdir/xen-$src_version" CONFIG_SHADOW_PAGING=y
	build_image xen-shadow-debug "$srcdir/xen-$src_version" CONFIG_SHADOW_PAGING=y CONFIG_DEBUG=y
	printf '%s\nsource xen %s\n' "$want" "$src_version" >"$stamp"
}

mkdir -p "$debs" "$pkgs" "$xendir" "$srcdir"

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
[ "$want_shadow" = 0 ] || build_shadow
