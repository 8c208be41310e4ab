/*
 * bootlog: the console reader behind `p2m boot`'s verdict. Fed with lines
 * shaped like Xen 4.17's real output (docs/design.md, "The lab"): the
 * guest's closing line, a panic with its reason, dom0 halting, and lines
 * that only look like a verdict.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/bootlog.h"

static void test_parse_verdict(void **state)
{
	(void)state;
	long p = -1, f = -1;
	assert_true(bootlog_parse_verdict("12 passed, 0 failed", &p, &f));
	assert_int_equal(p, 12);
	assert_int_equal(f, 0);
	assert_true(bootlog_parse_verdict("guest: 7 passed, 3 failed, 1 skipped", &p, &f));
	assert_int_equal(p, 7);
	assert_int_equal(f, 3);
	assert_false(bootlog_parse_verdict("passed, 0 failed", &p, &f));
	assert_false(bootlog_parse_verdict("x12 passed, 0 failed", &p, &f));
	assert_false(bootlog_parse_verdict("12 passed, no failed", &p, &f));
	assert_false(bootlog_parse_verdict("12 passed, 3 failures", &p, &f));
	assert_false(bootlog_parse_verdict("", &p, &f));
}

static void feed(struct bootlog *b, const char *const *lines, size_t n)
{
	for (size_t i = 0; i < n; i++)
		bootlog_line(b, lines[i]);
}

static void test_guest_verdict_after_dom0_start(void **state)
{
	(void)state;
	struct bootlog b = BOOTLOG_INIT;
	/* Before Xen starts dom0, nothing is the guest's. */
	assert_int_equal(bootlog_line(&b, "1 passed, 0 failed"), BOOTLOG_NOTHING);
	assert_false(b.have_verdict);
	assert_int_equal(bootlog_line(&b, "(XEN) Freed 656kB init memory"), BOOTLOG_NOTHING);
	assert_true(b.dom0_started);
	/* Xen's own line never counts as the verdict. */
	assert_int_equal(bootlog_line(&b, "(XEN) 5 passed, 0 failed"), BOOTLOG_NOTHING);
	assert_false(b.have_verdict);
	assert_int_equal(bootlog_line(&b, "check m2p: ok"), BOOTLOG_NOTHING);
	assert_int_equal(bootlog_line(&b, "40 passed, 1 failed"), BOOTLOG_VERDICT);
	assert_int_equal(bootlog_line(&b, "41 passed, 0 failed"), BOOTLOG_VERDICT);
	assert_string_equal(b.guest_panic, "");
	bootlog_line(&b, "PANIC: p2m_build: cannot allocate 512 leaves");
	bootlog_line(&b, "PANIC: second");
	assert_string_equal(b.guest_panic, "p2m_build: cannot allocate 512 leaves");
	assert_true(b.have_verdict);
	assert_int_equal(b.passed, 41);
	assert_int_equal(b.failed, 0);
	assert_int_equal(b.guest_lines, 5);
	assert_int_equal(bootlog_line(&b, "(XEN) Hardware Dom0 halted: halting machine"), BOOTLOG_FINAL);
	assert_true(b.dom0_ended);
	assert_false(b.dom0_crashed);
}

static void test_panic_reason(void **state)
{
	(void)state;
	static const char *const lines[] = {
		"(XEN) *** Building a PV Dom0 ***",
		"(XEN) ",
		"(XEN) ****************************************",
		"(XEN) Panic on CPU 0:",
		"(XEN) Not enough RAM for domain 0 allocation",
		"(XEN) ****************************************",
	};
	struct bootlog b = BOOTLOG_INIT;
	feed(&b, lines, sizeof(lines) / sizeof(lines[0]));
	assert_true(b.xen_panic);
	assert_string_equal(b.panic_reason, "Not enough RAM for domain 0 allocation");
	assert_int_equal(bootlog_line(&b, "(XEN) Reboot in five seconds..."), BOOTLOG_FINAL);
	assert_false(b.dom0_started);
}

static void test_dom0_crash(void **state)
{
	(void)state;
	struct bootlog b = BOOTLOG_INIT;
	assert_int_equal(bootlog_line(&b, "(XEN) Hardware Dom0 crashed: rebooting machine in 5 seconds."),
			 BOOTLOG_FINAL);
	assert_true(b.dom0_crashed);
	assert_string_equal(b.dom0_end, "Hardware Dom0 crashed: rebooting machine in 5 seconds.");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_verdict),
		cmocka_unit_test(test_guest_verdict_after_dom0_start),
		cmocka_unit_test(test_panic_reason),
		cmocka_unit_test(test_dom0_crash),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
