#!/usr/bin/env bash
# Fetch Xen 4.17 and the toolstack tier (scripts/get-xen.sh --tools), then
# build and run every test of p2mkit, in four configurations and one build:
#   gcc            all tests but the debug-Xen pass and those that need the
#                  shadow Xen (the Xen boot scenarios skip unless Xen and QEMU
#                  were fetched with scripts/get-xen.sh)
#   clang          all tests but the Xen boots
#   gcc-asan       ASan+UBSan (-DP2M_SANITIZE=address), all but the Xen boots
#   clang-tsan     TSan (-DP2M_SANITIZE=thread), the tests labelled `concurrency`
#   gcc-release    build only, -DCMAKE_BUILD_TYPE=Release (-O3): gcc's flow
#                  warnings (-Wmaybe-uninitialized, ...) depend on the
#                  optimisation level, and -Werror must hold at every one
# then run every libFuzzer target briefly (fuzz: scripts/fuzz.sh -t 15),
# then the debug-Xen pass (xen-debug: scripts/get-xen.sh --shadow builds
# the shadow Xen and its CONFIG_DEBUG=y twin from Debian's source: 7 min
# 18 s on an idle 2-core machine from an empty cache (measured 2026-12-03:
# 187 s and 244 s for the two builds), about a second once cached; every
# Xen scenario of the gcc tree runs once more on the debug image, and a
# warning Xen logs about the guest fails it; the tests labelled
# xen-shadow, live migration, run there too, on the shadow image), and
# print a summary. Exits non-zero if anything failed.
#
#   scripts/test.sh [CONFIG...]     (default: all five, fuzz, then xen-debug; --help: this text)
# Environment: P2M_JOBS (default: nproc), P2M_BUILD_ROOT (default: build-test/).
set -uo pipefail   # not -e: a failing configuration is recorded and the others still run

case ${1:-} in -h|--help) awk 'NR > 1 { if (!/^#/) exit; sub(/^# ?/, ""); print }' "$0"; exit 0 ;; esac

root=$(cd "$(dirname "$0")/.." && pwd)
jobs=${P2M_JOBS:-$(nproc)}
out=${P2M_BUILD_ROOT:-$root/build-test}

"$root/scripts/deps.sh" || { echo "test.sh: installing dependencies failed" >&2; exit 1; }
# Without Xen the boot scenarios would only be skipped: fail instead.
"$root/scripts/get-xen.sh" --tools || { echo "test.sh: fetching Xen and the toolstack failed" >&2; exit 1; }

configs=("$@")
[ ${#configs[@]} -gt 0 ] || configs=(gcc clang gcc-asan clang-tsan gcc-release fuzz xen-debug)

declare -a summary
failed=0

# run_config NAME CC SANITIZE GUEST [CTEST ARGS... | --build-only]
# (P2M_BUILD_TYPE: the CMake build type, default RelWithDebInfo)
run_config() {
	local name=$1 cc=$2 sanitize=$3 guest=$4
	shift 4
	local dir=$out/${P2M_TREE:-$name} start=$SECONDS status=ok
	echo
	echo "=== $name: configure, build, test ==="
	if ! cmake -S "$root" -B "$dir" -DCMAKE_C_COMPILER="$cc" -DP2M_SANITIZE="$sanitize" \
	     -DP2M_GUEST="$guest" -DCMAKE_BUILD_TYPE="${P2M_BUILD_TYPE:-RelWithDebInfo}"; then
		status="configure FAILED"
	elif ! cmake --build "$dir" -j "$jobs"; then
		status="build FAILED"
	elif [ "${1:-}" = --build-only ]; then
		:
	else
		# Sanitizers: fail on the first report, with symbolized stacks.
		ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0} \
		UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
		TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1} \
		ctest --test-dir "$dir" --output-on-failure --no-tests=error -j "$jobs" "$@" \
			|| status="tests FAILED"
	fi
	[ "$status" = ok ] || failed=1
	summary+=("$(printf '%-11s %-16s %4ds' "$name" "$status" $((SECONDS - start)))")
}

for c in "${configs[@]}"; do
	case $c in
	gcc)        run_config gcc gcc "" ON -LE '^xen-(debug|shadow)$' ;;
	clang)      run_config clang clang "" ON -LE '^xen' ;;
	gcc-asan)   run_config gcc-asan gcc address OFF -LE '^xen' ;;
	clang-tsan) run_config clang-tsan clang thread OFF -L '^concurrency$' ;;
	# No guest: it forces -O2 whatever the build type, as the gcc tree has it.
	gcc-release) P2M_BUILD_TYPE=Release run_config gcc-release gcc "" OFF --build-only ;;
	fuzz)
		start=$SECONDS
		echo
		echo "=== fuzz: every libFuzzer target for 15 s ==="
		if "$root/scripts/fuzz.sh" -t 15 -b "$out/fuzz"; then st=ok; else st="FAILED"; failed=1; fi
		summary+=("$(printf '%-11s %-16s %4ds' fuzz "$st" $((SECONDS - start)))") ;;
	xen-debug)
		# The shadow Xen's build is its own line: a cold build dominates.
		start=$SECONDS
		echo
		echo "=== xen-debug: build the debug hypervisor (scripts/get-xen.sh --shadow) ==="
		if "$root/scripts/get-xen.sh" --shadow; then st=ok; else st="FAILED"; failed=1; fi
		summary+=("$(printf '%-11s %-16s %4ds' xen-shadow "$st" $((SECONDS - start)))")
		# The gcc tree (built again if needed), only the labels that need
		# the shadow images: xen-debug, and xen-shadow (live migration).
		[ "$st" = ok ] && P2M_TREE=gcc run_config xen-debug gcc "" ON -L '^xen-(debug|shadow)$' ;;
	*) echo "test.sh: unknown configuration '$c' (gcc, clang, gcc-asan, clang-tsan, gcc-release, fuzz, xen-debug)" >&2; exit 2 ;;
	esac
done

echo
echo "=== summary ==="
printf '%s\n' "${summary[@]}"
nfail=$(printf '%s\n' "${summary[@]}" | grep -c -v ' ok ' || true)
[ $failed -eq 0 ] || echo "test.sh: FAILED"
# Last line: the plain verdict CI reads.
echo "configurations: $((${#summary[@]} - nfail)) passed, $nfail failed"
[ $failed -eq 0 ]
