/*
 * bootlog: read the serial console of a Xen boot, line by line, and keep
 * what decides the verdict of `p2m boot`.
 *
 * The console interleaves Xen's own lines ("(XEN) ...") with the guest's
 * (dom0 writes through CONSOLEIO_write appear without a prefix; a domU's
 * get "(dN) "). bootlog recognises:
 *   - the guest's closing line "N passed, N failed" (the last one wins;
 *     a line from Xen itself is never taken for it);
 *   - a Xen panic: the "Panic on CPU n:" header and the reason on the
 *     next line (e.g. "Not enough RAM for domain 0 allocation");
 *   - the guest's own "PANIC: reason" line (the first one is kept);
 *   - dom0 ending without the emulator exiting: "Hardware Dom0 halted",
 *     "... crashed", "... shutdown", "Reboot in five seconds": after
 *     these nothing more will come, so the runner may end QEMU at once;
 *   - Xen's warnings about something a guest did (bootlog_guest_warning):
 *     counted (those naming a domain below warn_from_domid excepted),
 *     the first one kept. A debug Xen (CONFIG_DEBUG=y) with
 *     guest_loglvl=all prints them for every MMU or privileged-operation
 *     request it refuses or corrects; `p2m boot --clean-xen-log` fails
 *     the run on one.
 *
 * Invariants: a bootlog starts zeroed (BOOTLOG_INIT or memset 0); strings
 * it keeps are NUL-terminated and truncated, never overrun.
 */
#ifndef P2M_HOST_BOOTLOG_H
#define P2M_HOST_BOOTLOG_H

#include <stdbool.h>

#define BOOTLOG_MSG 256

struct bootlog {
	unsigned long lines;        /* lines seen */
	bool have_verdict;          /* an "N passed, N failed" line was seen */
	long passed, failed;        /* from the last such line */
	bool xen_panic;             /* "Panic on CPU" seen */
	char panic_reason[BOOTLOG_MSG]; /* the line after it, "(XEN) " removed */
	bool dom0_ended;            /* Xen reported dom0 halted/crashed/shut down */
	bool dom0_crashed;          /* ... and it was a crash */
	char dom0_end[BOOTLOG_MSG]; /* Xen's line saying so */
	char guest_panic[BOOTLOG_MSG];  /* the guest's first "PANIC: ..." line */
	bool dom0_started;          /* Xen printed "Freed ... init memory" */
	unsigned long guest_lines;  /* unprefixed lines since then (dom0 output) */
	long warn_from_domid;       /* set by the caller: warnings naming a lower
	                             * domain id are not counted (1: dom0 is Linux,
	                             * only the domUs are ours) */
	const char *warn_allow;     /* set by the caller: '|'-separated texts; a
	                             * warning containing one is one the run
	                             * provoked on purpose and is not counted */
	unsigned long guest_warnings;   /* Xen's warnings about a guest, after dom0 start */
	char guest_warning[BOOTLOG_MSG]; /* the first one, "(XEN) " removed */
	bool expect_reason;         /* internal: the next line is the panic reason */
};

#define BOOTLOG_INIT {0}

enum bootlog_event {
	BOOTLOG_NOTHING,  /* go on */
	BOOTLOG_VERDICT,  /* the guest's closing line was just seen */
	BOOTLOG_FINAL,    /* Xen will print nothing useful any more: end QEMU */
};

/* Feed one console line (no newline). */
enum bootlog_event bootlog_line(struct bootlog *b, const char *line);

/* Parse "N passed, N failed" anywhere in s (", N skipped" may follow).
 * Returns true and sets *passed and *failed when found. */
bool bootlog_parse_verdict(const char *s, long *passed, long *failed);

/* Is LINE (one console line) Xen reporting something a guest did wrong?
 * *domid (may be NULL) gets the domain it names, -1 when it names none.
 * True for a Xen line attributed to a guest vCPU or domain (Xen's
 * gdprintk "file.c:LINE:d1v0 ...", gprintk "d1v0 ...", "d1: ...") and
 * for Xen's MMU refusals however attributed ("Bad type", "Could not get
 * page", "Bad L1 flags", "Attempt to ..."); false for the guest's own
 * output ("(d1) ..." or unprefixed), for Xen's idle vCPU and for the
 * few attributed lines that report no misuse (bootlog.c lists them). */
bool bootlog_guest_warning(const char *line, long *domid);

#endif
