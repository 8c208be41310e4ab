#!/usr/bin/env bash
# Install what building and testing p2mkit needs on Debian 12, as root.
# Idempotent: packages already installed are not asked for again, and
# `apt-get update` runs at most once, only when something is missing.
#
#   scripts/deps.sh [EXTRA_PACKAGE...]      (--help: this text)
#
# Add packages your part needs to PACKAGES below (one line, one reason).
# Also makes sure vm.max_map_count leaves room for large hosted P2Ms.
set -euo pipefail

case ${1:-} in -h|--help) awk 'NR > 1 { if (!/^#/) exit; sub(/^# ?/, ""); print }' "$0"; exit 0 ;; esac

PACKAGES=(
	cmake make gcc               # the build
	clang libclang-rt-14-dev     # clang builds, its ASan/UBSan/TSan runtimes, libFuzzer
	libxen-dev                   # Xen's public headers (the ABI, never retyped)
	libcmocka-dev                # unit tests
	pkg-config                   # tests/install: build against the installed libp2m
	procps                       # sysctl
	qemu-system-x86 cpio         # Xen under QEMU (scripts/get-xen.sh), the toolstack initramfs
	"$@"
)

missing=()
for p in "${PACKAGES[@]}"; do
	if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
		missing+=("$p")
	fi
done

if ((${#missing[@]})); then
	if [ "$(id -u)" != 0 ]; then
		echo "deps.sh: missing packages: ${missing[*]}; run as root to install them" >&2
		exit 1
	fi
	echo "deps.sh: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q --no-install-recommends "${missing[@]}"
else
	echo "deps.sh: all packages present"
fi

# The hosted platform maps each 1 GiB window of a list once (about 16400
# mappings for a 16 TiB guest, more with many split windows); the kernel's
# default limit is 65530. Raise it if we can; say so if we cannot.
want=262144
have=$(cat /proc/sys/vm/max_map_count 2>/dev/null || echo 0)
if [ "$have" -lt "$want" ]; then
	if sysctl -q -w vm.max_map_count="$want" 2>/dev/null; then
		echo "deps.sh: vm.max_map_count raised from $have to $want"
	else
		echo "deps.sh: vm.max_map_count is $have and could not be raised to $want" \
		     "(not root, or a container); very large hosted P2Ms will be refused with a message" >&2
	fi
fi
