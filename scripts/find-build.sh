# find-build.sh: sourced by the scripts that run a built p2m and guest
# (scale.sh, toolstack.sh, vs-linux.sh), so they agree on which build tree
# they use.
#
#   find_build ROOT GUEST_IMAGE   print the first of ROOT/build, ROOT/build-*
#                                 that holds an executable p2m and
#                                 guest/GUEST_IMAGE; nothing if none (status 0
#                                 either way, so `set -e` callers reach their
#                                 own message)
find_build() {
	local d
	for d in "$1"/build "$1"/build-*; do
		if [ -x "$d/p2m" ] && [ -f "$d/guest/$2" ]; then
			echo "$d"
			return 0
		fi
	done
	return 0
}
