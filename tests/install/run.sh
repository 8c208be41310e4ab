#!/usr/bin/env bash
# The installed libp2m, used as a stranger would: `cmake --install` the
# build into a fresh prefix, then build two programs with nothing but
# pkg-config's flags (PKG_CONFIG_PATH pointing at the prefix) and run them:
#   example.c             hosted, against libp2m.pc, with its own platform
#   ../freestanding/fs_main.c  no libc, against libp2m-freestanding.pc
# and check the layout docs/porting.md promises.
#
#   tests/install/run.sh CMAKE BUILD_DIR CC LIBDIR XEN_HEADERS_DIR
# (CTest passes them; XEN_HEADERS_DIR holds only xen/, for -nostdinc.)
# --help prints this text.
set -euo pipefail

case ${1:-} in -h|--help) awk 'NR > 1 { if (!/^#/) exit; sub(/^# ?/, ""); print }' "$0"; exit 0 ;; esac

cmake=$1 build=$2 cc=$3 libdir=$4 xen_only=$5
here=$(cd "$(dirname "$0")" && pwd)
prefix=$(mktemp -d "${TMPDIR:-/tmp}/p2m-install.XXXXXX")
trap 'rm -rf "$prefix"' EXIT

"$cmake" --install "$build" --prefix "$prefix" >/dev/null
for f in include/p2m/p2m.h include/p2m/platform.h include/p2m/e820.h \
	 "$libdir/libp2m.a" "$libdir/libp2m_freestanding.a" \
	 "$libdir/pkgconfig/libp2m.pc" "$libdir/pkgconfig/libp2m-freestanding.pc"; do
	[ -f "$prefix/$f" ] || { echo "install: $f missing under the prefix" >&2; exit 1; }
done

export PKG_CONFIG_PATH=$prefix/$libdir/pkgconfig
echo "pkg-config --cflags --libs libp2m: $(pkg-config --cflags --libs libp2m)"

# Hosted: a user's program and its own platform.
# shellcheck disable=SC2046 # pkg-config's output is a list of words
"$cc" -std=c11 -Wall -Wextra -Werror -o "$prefix/example" "$here/example.c" \
	$(pkg-config --cflags --libs libp2m)
out=$("$prefix/example")
echo "$out" | tail -n 1
echo "$out" | grep -q '^libp2m example: [0-9]* checks passed$'

# Freestanding: the flags the archive was built with, no libc at all.
# shellcheck disable=SC2046
"$cc" -std=c11 -Wall -Wextra -Werror $(pkg-config --variable=build_cflags libp2m-freestanding) \
	-isystem "$("$cc" -print-file-name=include)" -isystem "$xen_only" -fno-pie \
	-o "$prefix/fs_main" "$here/../freestanding/fs_main.c" \
	$(pkg-config --cflags --libs libp2m-freestanding) -nostdlib -static
"$prefix/fs_main"
echo "freestanding program against the installed libp2m_freestanding.a: exit 0"
