/*
 * bootverdict: the verdict of `p2m boot` from a parsed boot log and how
 * QEMU ended. One case per reason, in the order the verdict tries them,
 * and the pass, which needs every condition at once.
 */
#define _GNU_SOURCE /* fmemopen */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/bootverdict.h"

/* A boot that passed: dom0 started, 12 checks passed, isa-debug-exit 0x10. */
static void passing(struct bootlog *b, struct vmrun_result *r, struct boot_expect *e)
{
	memset(b, 0, sizeof(*b));
	memset(r, 0, sizeof(*r));
	memset(e, 0, sizeof(*e));
	b->dom0_started = true;
	b->guest_lines = 40;
	b->have_verdict = true;
	b->passed = 12;
	r->started = r->exited = true;
	r->exit_status = (BOOT_DEBUG_EXIT_PASS << 1) | 1;
}

/* The verdict must fail with a reason containing want. */
static void expect_fail(const struct bootlog *b, const struct vmrun_result *r,
			const struct boot_expect *e, const char *want)
{
	char why[512];

	assert_false(bootverdict(b, r, 100, e, why, sizeof(why)));
	if (!strstr(why, want))
		fail_msg("reason \"%s\" lacks \"%s\"", why, want);
}

static void pass(void **state)
{
	struct bootlog b;
	struct vmrun_result r;
	struct boot_expect e;
	char why[512] = "x";

	(void)state;
	passing(&b, &r, &e);
	assert_true(bootverdict(&b, &r, 100, &e, why, sizeof(why)));
	assert_string_equal(why, "");
	assert_int_equal(boot_debug_exit_code(&r), BOOT_DEBUG_EXIT_PASS);
}

static void xen_and_guest_failures(void **state)
{
	struct bootlog b;
	struct vmrun_result r;
	struct boot_expect e;

	(void)state;
	passing(&b, &r, &e);
	r.interrupted_by = 2;
	expect_fail(&b, &r, &e, "interrupted (signal 2)");
	passing(&b, &r, &e);
	b.xen_panic = true;
	expect_fail(&b, &r, &e, "Xen panic: (no reason printed)");
	snprintf(b.panic_reason, sizeof(b.panic_reason), "Not enough RAM for domain 0");
	expect_fail(&b, &r, &e, "Xen panic: Not enough RAM for domain 0");
	passing(&b, &r, &e);
	snprintf(b.guest_panic, sizeof(b.guest_panic), "p2m_build failed");
	expect_fail(&b, &r, &e, "the guest panicked: p2m_build failed");
	passing(&b, &r, &e);
	b.dom0_crashed = true;
	snprintf(b.dom0_end, sizeof(b.dom0_end), "Hardware Dom0 crashed");
	expect_fail(&b, &r, &e, "dom0 crashed (Xen: \"Hardware Dom0 crashed\")");
}

static void timeouts(void **state)
{
	struct bootlog b;
	struct vmrun_result r;
	struct boot_expect e;

	(void)state;
	passing(&b, &r, &e);
	r.timed_out = true;
	expect_fail(&b, &r, &e, "timeout after 100 s: QEMU killed (after the guest's verdict)");
	b.have_verdict = false;
	expect_fail(&b, &r, &e, "(the guest gave no verdict)");
	b.guest_lines = 0;
	expect_fail(&b, &r, &e, "(the guest printed nothing)");
	b.dom0_started = false;
	expect_fail(&b, &r, &e, "(Xen never started dom0)");
}

static void no_or_bad_verdict(void **state)
{
	struct bootlog b;
	struct vmrun_result r;
	struct boot_expect e;

	(void)state;
	passing(&b, &r, &e);
	b.have_verdict = false;
	expect_fail(&b, &r, &e, "no \"N passed, N failed\" line from the guest (it stopped early)");
	b.dom0_ended = true;
	snprintf(b.dom0_end, sizeof(b.dom0_end), "Hardware Dom0 halted");
	expect_fail(&b, &r, &e, "(Hardware Dom0 halted)");
	passing(&b, &r, &e);
	b.failed = 1;
	expect_fail(&b, &r, &e, "the guest reported 12 passed, 1 failed");
	passing(&b, &r, &e);
	b.passed = 0;
	expect_fail(&b, &r, &e, "the guest reported 0 passed, 0 failed");
}

static void exit_paths(void **state)
{
	struct bootlog b;
	struct vmrun_result r;
	struct boot_expect e;

	(void)state;
	passing(&b, &r, &e);
	r.exit_status = 0;   /* even: not through isa-debug-exit */
	assert_int_equal(boot_debug_exit_code(&r), -1);
	expect_fail(&b, &r, &e, "did not leave through isa-debug-exit (QEMU ended otherwise)");
	r.exited = false;
	r.term_signal = 9;
	expect_fail(&b, &r, &e, "did not leave through isa-debug-exit");
	passing(&b, &r, &e);
	r.exit_status = (0x11 << 1) | 1;
	expect_fail(&b, &r, &e, "wrote 0x11 to isa-debug-exit (pass is 0x10)");
}

static void expected_texts(void **state)
{
	struct bootlog b;
	struct vmrun_result r;
	struct boot_expect e;
	char why[512];

	(void)state;
	passing(&b, &r, &e);
	e.text[e.n++] = "remapped 262273";
	e.text[e.n++] = "identity";
	boot_expect_line(&e, "p2m: 4 identity ranges");
	expect_fail(&b, &r, &e, "no console line contains the expected \"remapped 262273\"");
	boot_expect_line(&e, "(XEN) noise");
	boot_expect_line(&e, "e820: remapped 262273 pages");
	assert_true(bootverdict(&b, &r, 100, &e, why, sizeof(why)));
	/* Xen's warnings about the guest fail the run only with clean_log. */
	b.guest_warnings = 2;
	snprintf(b.guest_warning, sizeof(b.guest_warning), "%s", "d1v0 Bad L1 flags 800000");
	assert_true(bootverdict(&b, &r, 100, &e, why, sizeof(why)));
	e.clean_log = true;
	expect_fail(&b, &r, &e, "Xen logged 2 warning(s) about the guest, the first: d1v0 Bad L1 flags 800000");
	e.clean_log = false;
	/* A failed boot reports its own reason before a missing text. */
	e.found[0] = false;
	b.failed = 2;
	expect_fail(&b, &r, &e, "12 passed, 2 failed");
}

static void summary(void **state)
{
	struct bootlog b;
	struct vmrun_result r;
	struct boot_expect e;
	char out[1024] = "";
	FILE *f = fmemopen(out, sizeof(out), "w");

	(void)state;
	passing(&b, &r, &e);
	r.wall_seconds = 3.5;
	r.peak_rss_kib = 2048;
	bootverdict_print(f, &b, &r, true, "");
	fclose(f);
	assert_string_equal(out, "p2m boot: guest: 12 passed, 0 failed; QEMU: exit status 33 "
			    "(isa-debug-exit 0x10)\np2m boot: wall 3.50 s, QEMU peak RSS 2.0 MiB\n"
			    "p2m boot: PASS\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(pass),
		cmocka_unit_test(xen_and_guest_failures),
		cmocka_unit_test(timeouts),
		cmocka_unit_test(no_or_bad_verdict),
		cmocka_unit_test(exit_paths),
		cmocka_unit_test(expected_texts),
		cmocka_unit_test(summary),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
