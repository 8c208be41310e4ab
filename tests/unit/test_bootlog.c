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

/* Lines copied from real boots on Xen 4.17.5 (release and CONFIG_DEBUG=y
 * builds of Debian's source, loglvl=all guest_loglvl=all) that report no
 * misuse by a guest: Xen's own messages, Linux dom0's and our guest's
 * output, and a domU's console through Xen. */
static const char *const benign_lines[] = {
	"(XEN) d0 has maximum 208 PIRQs",
	"(XEN) PCI add device 0000:00:02.0",
	"(XEN) Guest Loglevel: All",
	"(XEN) Freed 660kB init memory",
	"(XEN) PCI add device 0000:00:01.3",
	"(XEN)   PV L1TF shadowing: Dom0 disabled, DomU disabled",
	"[    0.000000] Released 0 page(s)",
	"xc: info: Saving domain 1, type x86 PV",
	"toolstack: PASS p2m-a: xl create (3.35 s)",
	"(d1) 12 passed, 0 failed",
	"",
	"(XEN)",
};

static void test_benign_lines_are_not_warnings(void **state)
{
	(void)state;
	struct bootlog b = BOOTLOG_INIT;
	for (size_t i = 0; i < sizeof(benign_lines) / sizeof(benign_lines[0]); i++) {
		assert_false(bootlog_guest_warning(benign_lines[i], NULL));
		bootlog_line(&b, benign_lines[i]);
	}
	assert_true(b.dom0_started);
	assert_int_equal(b.guest_warnings, 0);
	assert_string_equal(b.guest_warning, "");
}

/* Each shape of attribution Xen 4.17 uses, and the MMU refusals without
 * one; look-alikes that are not Xen's attribution. */
static void test_attribution_shapes(void **state)
{
	(void)state;
	assert_true(bootlog_guest_warning("(XEN) arch/x86/mm.c:877:d0v0 Bad L1 flags 800000", NULL));
	assert_true(bootlog_guest_warning("(XEN) mm.c:1014:d12v3 Could not get page type PGT_writable_page", NULL));
	assert_true(bootlog_guest_warning("(XEN) d1v0 Unhandled invalid opcode fault/trap [#6, ec=0000]", NULL));
	assert_true(bootlog_guest_warning("(XEN) d3: Forcing read-only access to MFN fed00", NULL));
	assert_true(bootlog_guest_warning("(XEN) [2026-12-02 18:00:00.000] d0v1 bad something", NULL));
	assert_true(bootlog_guest_warning("(XEN) Bad type (saw 1000000000000001 != exp 2000000000000000) for mfn 1234", NULL));
	assert_true(bootlog_guest_warning("(XEN) Attempt to create linear p.t. with write perms", NULL));
	/* Xen's idle vCPU and Xen's own lines naming a domain are not guests'
	 * misuse; nor is anything outside Xen's prefix. */
	assert_false(bootlog_guest_warning("(XEN) traps.c:1234:d[IDLE]v0 something", NULL));
	assert_false(bootlog_guest_warning("(XEN) d0 has maximum 416 PIRQs", NULL));
	assert_false(bootlog_guest_warning("(XEN) dom0: something", NULL));
	assert_false(bootlog_guest_warning("(XEN) file.c:12:d0 no vcpu", NULL));
	assert_false(bootlog_guest_warning("(XEN) file.c:x:d0v0 no line number", NULL));
	assert_false(bootlog_guest_warning("arch/x86/mm.c:877:d0v0 Bad L1 flags 800000", NULL));
	assert_false(bootlog_guest_warning("(d1) Bad type: our own test output", NULL));
}

/* Lines a debug Xen (4.17.5, CONFIG_DEBUG=y, built out of tree: gdprintk's
 * __FILE__ is the full path) logged while Linux 6.1 ran as dom0 in the
 * toolstack tier: Linux's doing, not our guest's. */
static const char *const linux_dom0_lines[] = {
	"(XEN) /root/p2mkit/cache/src/xen-4.17.5+72-g01140da4e8-1/xen/arch/x86/pv/emul-priv-op.c:1030:d0v0 RDMSR 0xc0010055 unimplemented",
	"(XEN) d0: Forcing read-only access to MFN fed00",
};

static void test_real_debug_lines(void **state)
{
	(void)state;
	long dom = 7;
	for (size_t i = 0; i < 2; i++) {
		assert_true(bootlog_guest_warning(linux_dom0_lines[i], &dom));
		assert_int_equal(dom, 0);
	}
	assert_true(bootlog_guest_warning("(XEN) mm.c:1014:d12v3 Could not get page type", &dom));
	assert_int_equal(dom, 12);
	assert_true(bootlog_guest_warning("(XEN) Bad type (saw 1 != exp 2) for mfn 1234", &dom));
	assert_int_equal(dom, -1); /* a refusal naming no domain */
	assert_false(bootlog_guest_warning("(XEN) d0 has maximum 208 PIRQs", &dom));
	assert_int_equal(dom, -1);
}

/* warn_from_domid 1 (the toolstack tier): dom0's warnings are Linux's and
 * not counted; a domU's, or one naming no domain, are. */
static void test_domu_only(void **state)
{
	(void)state;
	struct bootlog b = BOOTLOG_INIT;
	b.warn_from_domid = 1;
	bootlog_line(&b, "(XEN) Freed 648kB init memory");
	feed(&b, linux_dom0_lines, 2);
	assert_int_equal(b.guest_warnings, 0);
	bootlog_line(&b, "(XEN) arch/x86/mm.c:2160:d3v0 Bad L1 flags 90000");
	bootlog_line(&b, "(XEN) Bad type (saw 1 != exp 2) for mfn 1234");
	assert_int_equal(b.guest_warnings, 2);
	assert_string_equal(b.guest_warning, "arch/x86/mm.c:2160:d3v0 Bad L1 flags 90000");

	/* A warning the run provoked on purpose (the grant step's bad ref,
	 * bad domain and bogus handle) is not counted; others still are. */
	struct bootlog al = BOOTLOG_INIT;
	al.warn_from_domid = 1;
	al.warn_allow = "Bad ref 0x7ffffff |Could not find domain 28672";
	bootlog_line(&al, "(XEN) Freed 648kB init memory");
	bootlog_line(&al, "(XEN) common/grant_table.c:1053:d2v0 Bad ref 0x7ffffff for d0");
	bootlog_line(&al, "(XEN) common/grant_table.c:1024:d2v0 Could not find domain 28672");
	assert_int_equal(al.guest_warnings, 0);
	bootlog_line(&al, "(XEN) common/grant_table.c:1053:d2v0 Bad ref 0x12 for d0");
	assert_int_equal(al.guest_warnings, 1);

	struct bootlog all = BOOTLOG_INIT;
	bootlog_line(&all, "(XEN) Freed 648kB init memory");
	feed(&all, linux_dom0_lines, 2);
	assert_int_equal(all.guest_warnings, 2);
	assert_string_equal(all.guest_warning, linux_dom0_lines[0] + 6);
}

/* bootlog_line counts warnings only once dom0 runs, keeps the first. */
static void test_first_warning_kept(void **state)
{
	(void)state;
	struct bootlog b = BOOTLOG_INIT;
	bootlog_line(&b, "(XEN) Bad page from an early boot line that is Xen's own");
	bootlog_line(&b, "(XEN) Freed 660kB init memory");
	bootlog_line(&b, "(XEN) mm.c:2160:d0v0 Bad L1 flags 90000");
	bootlog_line(&b, "(XEN) d0v0 second");
	assert_int_equal(b.guest_warnings, 2);
	assert_string_equal(b.guest_warning, "mm.c:2160:d0v0 Bad L1 flags 90000");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_verdict),
		cmocka_unit_test(test_guest_verdict_after_dom0_start),
		cmocka_unit_test(test_panic_reason),
		cmocka_unit_test(test_dom0_crash),
		cmocka_unit_test(test_benign_lines_are_not_warnings),
		cmocka_unit_test(test_attribution_shapes),
		cmocka_unit_test(test_first_warning_kept),
		cmocka_unit_test(test_real_debug_lines),
		cmocka_unit_test(test_domu_only),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
