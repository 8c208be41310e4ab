#!/usr/bin/env bash
# Run every libFuzzer target of tests/fuzz for a bounded time or number of
# runs, one at a time, nice'd, single-threaded.
#
#   scripts/fuzz.sh [-t SECONDS | -n RUNS] [-b BUILD_DIR] [TARGET...]   (-h, --help: this text)
#
# Defaults: 60 s per target, build dir build-fuzz (configured with clang
# if needed), all targets (e820_plan e820_log e820_json e820_sysfs
# p2mread). The seed corpus is tests/fuzz/corpus/NAME; new inputs go to
# BUILD_DIR/corpus (not the repository). A finding leaves crash-* in
# BUILD_DIR and makes the script exit 1. Prints each target's executed-run
# count.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build-fuzz
limit="-max_total_time=60"
case ${1:-} in -h|--help) awk 'NR > 1 { if (!/^#/) exit; sub(/^# ?/, ""); print }' "$0"; exit 0 ;; esac
while getopts "t:n:b:" o; do
	case $o in
	t) limit="-max_total_time=$OPTARG" ;;
	n) limit="-runs=$OPTARG" ;;
	b) build=$OPTARG ;;
	*) echo "usage: $0 [-t SECONDS | -n RUNS] [-b BUILD_DIR] [TARGET...]" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
targets=${*:-e820_plan e820_log e820_json e820_sysfs p2mread}

if ! command -v clang >/dev/null; then
	echo "fuzz.sh: clang is needed for libFuzzer" >&2
	exit 1
fi
if [ ! -f "$build/CMakeCache.txt" ]; then
	CC=clang cmake -S "$root" -B "$build" -DP2M_GUEST=OFF >/dev/null
fi
for t in $targets; do
	cmake --build "$build" -j2 --target "fuzz_$t" >/dev/null
done

status=0
for t in $targets; do
	case $t in
	e820_plan) maxlen=604 ;;      # 28-byte header + 64 entries
	p2mread) maxlen=4096 ;;       # 24-byte header + frames
	*) maxlen=2048 ;;
	esac
	mkdir -p "$build/corpus/$t"
	log=$build/fuzz_$t.log
	if (cd "$build" && nice -n 10 "$build/tests/fuzz/fuzz_$t" "$limit" \
		-max_len=$maxlen -print_final_stats=1 \
		"$build/corpus/$t" "$root/tests/fuzz/corpus/$t" >"$log" 2>&1); then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
		echo "fuzz $t: ${runs:-?} runs, no finding"
	else
		echo "fuzz $t: FINDING (see $log and $build/crash-*)" >&2
		tail -20 "$log" >&2
		status=1
	fi
done
exit $status
