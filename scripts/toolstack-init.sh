#!/bin/busybox sh
# toolstack-init.sh: the dom0 /init of the toolstack tier (scripts/toolstack.sh
# copies it into the initramfs as /init). It brings up the toolstack
# (xenstored, xen-init-dom0, xenconsoled), runs each domU, prints one
# "toolstack: PASS|FAIL ..." line per check and "toolstack: N passed, N
# failed", and leaves QEMU through isa-debug-exit (0x10 pass, 0x11 fail).
#
# What to run comes from files toolstack.sh writes into the initramfs:
#   /guest/list        domU names, one a line (config /guest/p2m-NAME.cfg)
#   /guest/save        1: xl save + xl restore each domU
#   /guest/big         1: a huge domU (big_steps; no dump-core, no destroy)
#   /guest/pages       with big: PAGE_DATA records srdump reads before it cuts the save
#   /guest/runtime     1: before the save, the runtime steps (runtime_steps)
#   /guest/migrate     1: before the save, the live migrations of
#                      /guest/migrate.sh (scripts/toolstack-migrate.sh)
# No `set -e`: every step is a check that is counted, and the run goes on.
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
	else failed=$((failed + 1)); echo "toolstack: FAIL $2"; echo "$2" >>/tmp/failed-checks; fi
}
leave() {
	# The failed checks again, last: a log cut to its tail still names them.
	[ -s /tmp/failed-checks ] && sed 's/^/toolstack: failed: /' /tmp/failed-checks
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
# xl list's line for NAME, and its Mem column (MiB).
listline() { xl list "$1" 2>/dev/null | awk -v n="$1" '$1 == n'; }
listmem() { listline "$1" | awk '{ print $3 }'; }
# last_line NAME PATTERN: the domU's last console line matching PATTERN.
last_line() { grep -E "$2" /var/log/xen/console/guest-$1.log 2>/dev/null | tail -n 1; }
# memset NAME MIB: xl mem-set, then wait for the guest's next run of its
# checks (it runs them once it reached the target) and judge the step by
# its verdict and by what xl list reports.
memset() {
	local n t0 t1 m v b diff
	n=$(nverdicts $1)
	t0=$(up)
	if ! xl mem-set $1 ${2}m; then check fail "$1: xl mem-set $2 MiB"; return; fi
	if ! wait_verdicts $1 $((n + 1)) 180; then
		check fail "$1: mem-set $2 MiB: no verdict within 180 s ($(last_line $1 '^balloon'))"
		return
	fi
	t1=$(up)
	settle_log $1
	m=$(listmem $1)
	v=$(verdict $1)
	b=$(last_line $1 '^balloon: (reached|stopped)')
	echo "toolstack: xl list: $(listline $1)"
	echo "toolstack:   $(last_line $1 '^P2M cost')"
	diff=$((${m:-0} - $2)); [ $diff -lt 0 ] && diff=$((-diff))
	if echo "$v" | grep -qE '(^|[^0-9])[1-9][0-9]* passed, 0 failed' && [ $diff -le 1 ]; then
		check ok "$1: mem-set $2 MiB ($(awk "BEGIN{print $t1-$t0}") s): xl list Mem $m MiB; $b; $v"
	else
		check fail "$1: mem-set $2 MiB: xl list Mem ${m:-?} MiB; ${b:-no balloon line}; ${v:-no verdict}"
	fi
}
# request NAME NODE WHAT PATTERN: write a new value into the guest's
# control/NODE (docs/runtime.md: it acts when the value changes), wait for
# its next verdict and judge the step by it and by its line matching
# PATTERN.
request() {
	local n id t0 t1 c v
	n=$(nverdicts $1)
	id=$(xl domid $1)
	t0=$(up)
	xenstore-write /local/domain/$id/control/$2 "$t0" ||
		{ check fail "$1: xenstore-write control/$2"; return; }
	if ! wait_verdicts $1 $((n + 1)) 180; then
		check fail "$1: $3: no verdict within 180 s"; return
	fi
	t1=$(up)
	settle_log $1
	c=$(last_line $1 "$4")
	v=$(verdict $1)
	echo "toolstack: xl list: $(listline $1)"
	if echo "$v" | grep -qE '(^|[^0-9])[1-9][0-9]* passed, 0 failed' && [ -n "$c" ]; then
		check ok "$1: $3 ($(awk "BEGIN{print $t1-$t0}") s): $c; $v"
	else
		check fail "$1: $3: ${c:-no report}; ${v:-no verdict}"
	fi
}
# grants NAME COUNT: dom0's gntpeer grants COUNT pages to the guest and
# keeps them alive while the guest maps them (its grant step, with bad refs
# of its own), then revokes them.
grants() {
	local id pid i
	id=$(xl domid $1)
	gntpeer $id $2 >/tmp/grefs 2>/tmp/gntpeer.err &
	pid=$!
	i=0
	while [ ! -s /tmp/grefs ] && [ $i -lt 100 ] && kill -0 $pid 2>/dev/null; do
		sleep 0.1; i=$((i + 1))
	done
	if [ ! -s /tmp/grefs ]; then
		check fail "$1: gntpeer gave no grant refs ($(cat /tmp/gntpeer.err))"
		kill $pid 2>/dev/null; return
	fi
	echo "toolstack: gntpeer granted refs $(cat /tmp/grefs) to domain $id"
	xenstore-write /local/domain/$id/data/p2m-grants "0 $(cat /tmp/grefs)"
	request $1 p2m-grant "grant mapping" '^PASS grant'
	kill $pid 2>/dev/null
	wait $pid 2>/dev/null
}
# saverestore NAME WHEN: xl save + xl restore, then wait for the resumed
# guest's next verdict (it runs its checks again after it resumes).
saverestore() {
	local n t0 t1
	n=$(nverdicts $1)
	t0=$(up)
	if ! xl save $1 /tmp/$1.save; then check fail "$1: xl save$2"; return; fi
	t1=$(up)
	check ok "$1: xl save$2 ($(awk "BEGIN{print $t1-$t0}") s, $(wc -c </tmp/$1.save) bytes)"
	t0=$(up)
	if ! xl restore /tmp/$1.save; then
		check fail "$1: xl restore$2"; rm -f /tmp/$1.save; return
	fi
	t1=$(up)
	rm -f /tmp/$1.save
	check ok "$1: xl restore$2 ($(awk "BEGIN{print $t1-$t0}") s)"
	if wait_verdicts $1 $((n + 1)) 120; then
		settle_log $1
		check ok "$1: checks after restore$2: $(verdict $1)"
	else
		check fail "$1: no verdict after restore$2"
	fi
}
# runtime_steps NAME: the guest is up with its first verdict (the smp
# check included); balloon it down to 25% and back three times (save +
# restore at 25% the first time), then up
# to maxmem and back, then the explicit compaction, XENMEM_exchange and
# a grant batch, and growth beyond maxmem (xl mem-max, then mem-set 256,
# save + restore there, and back), each step judged by the guest's checks.
runtime_steps() {
	echo "toolstack: xl list: $(listline $1)"
	check ok "$1: up, $(last_line $1 '^(PASS|FAIL) smp')"
	# (The helpers use i; the round has a name of its own.)
	for round in 1 2 3; do
		memset $1 16
		[ $round = 1 ] && saverestore $1 " at 16 MiB"
		memset $1 64
	done
	memset $1 128
	memset $1 64
	request $1 p2m-compact compaction '^balloon: compacted'
	request $1 p2m-exchange XENMEM_exchange '^PASS exchange'
	grants $1 6
	# Memory hotplug: above the maxmem planned at boot.
	if xl mem-max $1 256m; then
		check ok "$1: xl mem-max 256 MiB"
		memset $1 256
		saverestore $1 " at 256 MiB"
		memset $1 64
	else
		check fail "$1: xl mem-max 256 MiB"
	fi
}
# big_steps NAME: a domU above 512 GiB that keeps its memory (limit=off)
# and stays up (loop). Once its checks pass: dom0's p2mpeek reads its P2M
# through the list and tree-only; `xl -vvv save` into a FIFO that srdump
# reads and closes after /guest/pages PAGE_DATA records (the whole stream
# would not fit this machine), so the save fails and xl resumes the domU
# (suspend cancelled); its checks must run again and pass. The domU is
# left alive (destroying it would make Xen scrub all of it).
big_steps() {
	local id t0 t1 rc n pages
	pages=$(cat /guest/pages)
	if ! wait_verdicts $1 1 1800; then
		check fail "$1: no verdict after boot ($(state $1))"; return
	fi
	t1=$(up)
	settle_log $1
	grep -E '^(limit|P2M cost|released|(PASS|FAIL) (tools-walk|max-pfn))' \
		/var/log/xen/console/guest-$1.log | sed 's/^/toolstack:   | /'
	echo "toolstack: xl list: $(listline $1)"
	if [ -n "$(badverdicts $1)" ] || [ -z "$(verdict $1)" ]; then
		check fail "$1: boot checks: $(badverdicts $1)"; return
	fi
	check ok "$1: up at $t1 s: $(last_line $1 '^limit'); $(verdict $1)"
	id=$(xl domid $1)
	t0=$(up)
	p2mpeek $id >/tmp/p2mpeek.log 2>&1; rc=$?
	t1=$(up)
	sed 's/^/toolstack:   /' /tmp/p2mpeek.log
	if [ $rc = 0 ]; then
		check ok "$1: p2mpeek list + tree-only ($(awk "BEGIN{print $t1-$t0}") s): $(grep -o 'tree-only: .*' /tmp/p2mpeek.log)"
	else
		check fail "$1: p2mpeek (status $rc)"
	fi
	n=$(nverdicts $1)
	rm -f /tmp/$1.fifo
	mkfifo /tmp/$1.fifo
	srdump --pages $pages /tmp/$1.fifo >/tmp/srdump.log 2>&1 &
	t0=$(up)
	xl -vvv save $1 /tmp/$1.fifo >/tmp/save.log 2>&1; rc=$?
	t1=$(up)
	wait $!
	echo "toolstack: xl -vvv save: status $rc after $(awk "BEGIN{print $t1-$t0}") s; $(wc -l </tmp/save.log) log lines, these of the saver and the outcome:"
	grep -E 'p2m list from|max_pfn|p2m_frames|Saving domain|too large|Bad |[Ff]ailed|[Ee]rror|resum|signal|Broken pipe|helper' \
		/tmp/save.log | grep -v 'xc: detail: .*xenstore' | head -n 40 | sed 's/^/toolstack:   | /'
	echo "toolstack: srdump:"
	sed 's/^/toolstack:   | /' /tmp/srdump.log
	if grep -q 'p2m list from' /tmp/save.log; then
		check ok "$1: libxc's saver walked the list: $(grep -o 'p2m list from.*' /tmp/save.log | head -n 1); $(grep -o 'max_pfn [^ ]*, p2m_frames.*' /tmp/save.log | head -n 1)"
	else
		check fail "$1: no 'p2m list from' line in xl -vvv save's log"
	fi
	if grep -q 'stopped here' /tmp/srdump.log; then
		check ok "$1: stream cut after $pages PAGE_DATA records: $(grep -o 'P2M frames record:[^;]*' /tmp/srdump.log)"
	else
		check fail "$1: srdump did not reach its cut ($(grep -m1 'error' /tmp/srdump.log))"
	fi
	# The cut save fails; xl then resumes the domU with its suspend
	# cancelled, and the guest runs its checks again.
	if wait_verdicts $1 $((n + 1)) 1200; then
		settle_log $1
		check ok "$1: after the cut save (xl: $(grep -m1 -o 'Failed to save domain.*' /tmp/save.log)): state $(state $1), $(last_line $1 '[Ss]uspend|[Rr]esume' | head -c 120); $(verdict $1)"
	else
		check fail "$1: no verdict after the cut save: state $(state $1), xl: $(tail -n 1 /tmp/save.log)"
	fi
	echo "toolstack: xl list: $(listline $1)"
}
save=$(cat /guest/save)
runtime=$(cat /guest/runtime)
big=$(cat /guest/big)
migrate=$(cat /guest/migrate 2>/dev/null || echo 0)
[ "$migrate" = 1 ] && . /guest/migrate.sh
for n in $(cat /guest/list); do
	d=p2m-$n
	t0=$(up)
	if ! xl create /guest/$d.cfg; then check fail "$d: xl create"; continue; fi
	t1=$(up)
	check ok "$d: xl create ($(awk "BEGIN{print $t1-$t0}") s)"
	if [ "$big" = 1 ]; then
		big_steps $d
		echo "toolstack: --- console of $d ---"
		sed 's/^/  | /' /var/log/xen/console/guest-$d.log 2>/dev/null | tail -n 60
		continue # left alive: destroying it makes Xen scrub all of it
	fi
	if [ "$save" = 1 ]; then
		# With "loop" the guest stays up after its checks, serving
		# control/shutdown; save only once it is there.
		if ! wait_verdicts $d 1 120; then
			check fail "$d: no verdict before save"
		else
			[ "$runtime" = 1 ] && runtime_steps $d
			[ "$migrate" = 1 ] && migrate_steps $d
			saverestore $d ""
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
		# (Not for --runtime: xen.toolstack covers it, and it takes
		# 30-80 s of TCG.)
		if [ "$s" != gone ] && [ "$big" = 0 ] && [ "$runtime" = 0 ] && [ "$migrate" = 0 ]; then
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
