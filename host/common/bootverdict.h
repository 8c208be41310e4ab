/*
 * bootverdict: the verdict of `p2m boot`, a pure function of what was seen
 * on the console (the parsed boot log, common/bootlog.h), how QEMU ended
 * (common/vmrun.h) and which of the expected console texts appeared.
 *
 * A boot passes only when the guest printed its closing "N passed, 0
 * failed" line with N > 0, left QEMU through isa-debug-exit with the pass
 * code, and every --expect text appeared. Otherwise the first reason in
 * this order is given: interrupted, Xen panic, guest panic, dom0 crash,
 * timeout, no verdict line, failed checks, no isa-debug-exit, wrong exit
 * code, a warning of Xen's about the guest (with clean_log), an expected
 * text missing. tests/unit/test_bootverdict.c covers
 * each. A new check of the log is one more line in bootverdict().
 */
#ifndef HOST_BOOTVERDICT_H
#define HOST_BOOTVERDICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "common/bootlog.h"
#include "common/vmrun.h"

/*
 * The guest's isa-debug-exit convention (guest/README.md): it writes
 * BOOT_DEBUG_EXIT_PASS when every check passed and another value when not;
 * QEMU then exits with status (value << 1) | 1.
 */
#define BOOT_DEBUG_EXIT_PASS 0x10

#define BOOT_MAX_EXPECT 8

/* The --expect texts and whether a console line contained each. */
struct boot_expect {
	const char *text[BOOT_MAX_EXPECT];
	bool found[BOOT_MAX_EXPECT];
	int n;
	bool clean_log;   /* no warning of Xen's about a guest may appear (bootlog) */
};

/* Mark the texts line contains. */
void boot_expect_line(struct boot_expect *e, const char *line);

/* The code the guest wrote to isa-debug-exit, or -1 if QEMU did not end
 * through it. */
int boot_debug_exit_code(const struct vmrun_result *r);

/*
 * true: the boot passed. false: why says why (NUL-terminated, at most n
 * bytes). timeout is the run's limit in seconds, for the message.
 */
bool bootverdict(const struct bootlog *b, const struct vmrun_result *r, double timeout,
		 const struct boot_expect *e, char *why, size_t n);

/* The closing summary: the guest's count, how QEMU ended, wall time and
 * QEMU's peak RSS, then PASS or FAIL: why. */
void bootverdict_print(FILE *f, const struct bootlog *b, const struct vmrun_result *r,
		       bool pass, const char *why);

#endif
