# toolstack-migrate.sh: the live-migration steps of `scripts/toolstack.sh
# --migrate`, sourced by the dom0's /init (scripts/toolstack-init.sh, whose
# helpers it uses: check, up, state, nverdicts, verdict, wait_verdicts,
# settle_log, last_line, listline, memset, request). Busybox sh.
#
# Each migration is `xl -vvv migrate -s "" NAME "xl -vvv migrate-receive"`:
# with an empty ssh command xl runs the host argument itself as the
# receiving end, so the stream goes through a pipe to a second xl on the
# same host (tools/xl/xl_migrate.c). The saver's log (libxc's rounds, with
# dom0's uptime in front of each line) is kept in /tmp/migN.log and its
# figures are printed.

# The new domain is created as NAME--incoming; xenconsoled names its log
# after the name it has then and opens it O_APPEND: a symlink keeps the
# whole life of the guest in one file, in order, for the helpers.
mig_n=0
mig_links() { # NAME
	ln -sf guest-$1.log /var/log/xen/console/guest-$1--incoming.log
}

# guest_lines_since NAME N: the guest's console lines after line N.
guest_lines_since() { tail -n +$(($2 + 1)) /var/log/xen/console/guest-$1.log 2>/dev/null; }
guest_nlines() { wc -l </var/log/xen/console/guest-$1.log 2>/dev/null || echo 0; }

# mig_report LOG: the saver's rounds as libxc logs them (progress per
# round: "Frames iteration N ... done/total"), the suspend, the end.
mig_report() {
	grep -E 'Frames|suspended|generation|Migration|migration (sender|target)|logdirty|ERROR|error|p2m list|max_pfn|rc=' "$1" |
		grep -vE ' ([1-9]|[1-9][0-9])%$' | sed 's/^/toolstack:   | /' | tail -n 60
}

# mig_rounds LOG: "N rounds: a+b+c pages" from the 100% progress lines.
mig_rounds() {
	awk '/Frames( iteration [0-9]+)?: [0-9]+\/[0-9]+ +100%/ {
		if (match($0, /[0-9]+\/[0-9]+ +100%/)) {
			s = substr($0, RSTART, RLENGTH); split(s, a, "/"); n++
			pages = pages (pages == "" ? "" : " + ") a[1]
		}
	}
	/Domain now suspended/ { susp = $1 }
	/Got permission, starting domain/ { start = $1 }
	END {
		printf "%d rounds, pages %s (the last with the guest suspended)", n, pages
		if (susp != "" && start != "") printf "; dom0 saw %.2f s from the suspend to the start", start - susp
	}' "$1"
}

# migrate NAME WHAT ok|abort [DURING]: one live migration to localhost.
#   ok     xl succeeds, NAME is a new domain, the guest's checks after its
#          resume pass (the pattern check among them: 0 bad pages)
#   abort  xl fails with the saver's generation message, NAME is still
#          the same domain and was never suspended
#   DURING a function run (with NAME) while the saver is held in its first
#          live round (tests/xen/xlprogress.c): log-dirty is on, the guest
#          runs, and the round cannot end before DURING returns, however
#          fast the machine. It returns how many verdicts the guest logged.
migrate() {
	local name=$1 what=$2 want=$3 during=${4:-} n l0 id0 id1 t0 t1 log rc pid v pat down b i
	mig_n=$((mig_n + 1))
	log=/tmp/mig$mig_n.log
	n=$(nverdicts $name)
	l0=$(guest_nlines $name)
	id0=$(xl domid $name)
	t0=$(up)
	rm -f /tmp/xlprogress-held
	[ -n "$during" ] && touch /tmp/xlprogress-hold
	{ LD_PRELOAD=/lib/xlprogress.so xl -vvv migrate -s "" $name "xl -vvv migrate-receive" 2>&1; echo "rc=$?"; } |
		while IFS= read -r line; do echo "$(up) $line"; done >$log &
	pid=$!
	if [ -n "$during" ]; then
		i=0
		while [ ! -f /tmp/xlprogress-held ] && [ $i -lt 1200 ] && kill -0 $pid 2>/dev/null; do
			sleep 0.1; i=$((i + 1))
		done
		if [ -f /tmp/xlprogress-held ]; then
			$during $name $id0 $l0
			n=$(nverdicts $name)
		else
			check fail "$name: migration $mig_n$what: the saver never reached a live round ($(tail -n 1 $log))"
		fi
		rm -f /tmp/xlprogress-hold
	fi
	wait $pid
	t1=$(up)
	rc=$(sed -n 's/^[0-9.]* rc=//p' $log | tail -n 1)
	echo "toolstack: migration $mig_n$what: xl migrate exit ${rc:-?} after $(awk "BEGIN{print $t1-$t0}") s; saver and receiver log:"
	mig_report $log
	id1=$(xl domid $name 2>/dev/null)
	echo "toolstack: xl list: $(listline $name)"
	if [ "$want" = abort ]; then
		if [ "${rc:-0}" != 0 ] && grep -q 'p2m generation count changed. Migration aborted.' $log &&
			[ "$id1" = "$id0" ] && ! guest_lines_since $name $l0 | grep -q "control/shutdown = 'suspend'"; then
			check ok "$name: migration $mig_n$what aborted by the saver ($(awk "BEGIN{print $t1-$t0}") s): '$(grep -o 'p2m generation count changed. Migration aborted.' $log | head -n 1)' ($(mig_rounds $log | sed 's/ (the last.*//; s/^0 rounds, pages $/at its first check, before any round/')); domain $id0 runs on at the source, never suspended"
		else
			check fail "$name: migration $mig_n$what: wanted the saver's generation abort (xl rc ${rc:-?}, domain $id0 -> ${id1:-gone})"
		fi
		return
	fi
	if [ "${rc:-1}" != 0 ] || [ -z "$id1" ] || [ "$id1" = "$id0" ]; then
		check fail "$name: xl migrate$what (rc ${rc:-?}, domain $id0 -> ${id1:-gone})"
		return
	fi
	check ok "$name: xl migrate$what ($(awk "BEGIN{print $t1-$t0}") s, domain $id0 -> $id1): $(mig_rounds $log)"
	if ! wait_verdicts $name $((n + 1)) 120; then
		check fail "$name: no verdict after migration $mig_n$what"; return
	fi
	settle_log $name
	v=$(verdict $name)
	pat=$(last_line $name '^(PASS|FAIL) pattern:')
	down=$(last_line $name '^resumed \(new domain\)' | sed 's/: start_info.*//')
	b=$(guest_lines_since $name $l0 | grep '^balloon: after the restore' | tail -n 1)
	[ -n "$b" ] && echo "toolstack:   $b"
	if echo "$v" | grep -qE '(^|[^0-9])[1-9][0-9]* passed, 0 failed' && echo "$pat" | grep -q '^PASS'; then
		check ok "$name: checks after migration $mig_n$what: $v; $down; $pat"
	else
		check fail "$name: checks after migration $mig_n$what: ${v:-no verdict}; ${pat:-no pattern check}"
	fi
}

# ping_during NAME DOMID LINE0: the guest answers control/p2m-ping while
# the saver is held in a live round (never suspended since LINE0).
ping_during() {
	local n
	n=$(nverdicts $1)
	xenstore-write /local/domain/$2/control/p2m-ping "$(up)"
	if wait_verdicts $1 $((n + 1)) 60 &&
		! guest_lines_since $1 $3 | grep -q "control/shutdown = 'suspend'"; then
		check ok "$1: during the live rounds of migration $mig_n (at $(up) s) the guest answered: $(last_line $1 '^PASS ping')"
	else
		check fail "$1: no answer to control/p2m-ping while xl migrate ran ($(last_line $1 'ping'))"
	fi
}
# balloon_during NAME: two balloon steps while the saver is held in a
# live round (memset judges each by the guest's verdict and xl list).
balloon_during() {
	memset $1 32
	memset $1 64
}

# churn_during NAME DOMID: the guest makes and drops a leaf every 200 ms
# for 3 s (control/p2m-churn) while the saver is held in a live round;
# its checks after the churn pass at the source.
churn_during() {
	local n
	n=$(nverdicts $1)
	xenstore-write /local/domain/$2/data/p2m-churn-ms 3000
	xenstore-write /local/domain/$2/control/p2m-churn "$(up)"
	if ! wait_verdicts $1 $((n + 1)) 120; then
		check fail "$1: no verdict after the structure changes"; return
	fi
	settle_log $1
	if echo "$(verdict $1)" | grep -qE '(^|[^0-9])[1-9][0-9]* passed, 0 failed' &&
		last_line $1 '^PASS churn' | grep -q .; then
		check ok "$1: inside a live round of migration $mig_n: $(last_line $1 '^PASS churn'); $(verdict $1)"
	else
		check fail "$1: structure changes inside migration $mig_n: $(last_line $1 'churn'); $(verdict $1)"
	fi
}

# migrate_steps NAME: the guest is up with its first verdict.
migrate_steps() {
	local name=$1 l0 gens steps
	mig_links $name
	echo "toolstack: xl list: $(listline $name)"
	check ok "$name: up; $(last_line $name '^pattern: wrote')"
	# The checker can fail: three flipped bits are three bad pages.
	request $name p2m-corrupt "pattern checker on deliberate corruption" '^PASS pattern-corrupt'

	# (a) Idle; the guest answers a request in the middle of a live round.
	migrate $name " (idle)" ok ping_during

	# (b) The balloon goes 64 -> 32 -> 64 MiB (populated at boot) inside a
	# live round: the pfns it gives back and takes again are dirtied.
	l0=$(guest_nlines $name)
	migrate $name " while ballooning" ok balloon_during
	# The balloon's steps between the migration's start and the suspend.
	guest_lines_since $name $l0 | sed -n "1,/control\/shutdown = 'suspend'/p" >/tmp/balloon-during
	steps=$(grep -c '^balloon: reached' /tmp/balloon-during)
	gens=$(grep '^balloon: reached' /tmp/balloon-during | sed 's/.*generation //' | sort -u | tr '\n' ' ')
	if [ "$steps" -ge 2 ] && ! grep -q 'BREAKS' /tmp/balloon-during; then
		check ok "$name: $steps balloon steps during the live rounds of migration $mig_n, none broke the rule (generation: $gens)"
	else
		check fail "$name: $steps balloon steps (wanted 2) during migration $mig_n ($(grep -m1 BREAKS /tmp/balloon-during))"
	fi
	# After the resume: a target neither step had, then 64 MiB again.
	memset $name 48
	memset $name 64

	# (c) A leaf comes and goes every 200 ms for 3 s inside a live round:
	# the saver aborts at its next check; the retry, after it, succeeds.
	migrate $name " during structure changes" abort churn_during
	migrate $name " (retry once the changes are over)" ok
	# Any check that failed on the way (each run of the checks ends in a
	# verdict of its own), with the lines before it.
	grep -nE '^FAIL|BREAKS|stopped short|gave [0-9]+ of|took [0-9]+ of|PANIC' \
		/var/log/xen/console/guest-$name.log | head -n 20 | sed 's/^/toolstack:   guest: /'
}
