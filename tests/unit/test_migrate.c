/*
 * p2m_suspend and p2m_resume on the hosted platform, through the renaming
 * wrapper (helper_fault.h): a restore gives every frame a new mfn, the
 * resumed P2M must name them all and read exactly as before; a cancelled
 * suspend gets the same mfns back; every structural call is refused while
 * suspended; a failed suspend or resume changes nothing and can be
 * retried. (Every single and double fault of both calls: test_faults.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helper_fault.h"
#include "p2m/migrate.h"

#define CAP (4 * W)
#define POOL_BASE (CAP - 4 * S)

/* RAM, identity, foreign, a split window of mixed slots, a shared
 * identity window, a published tree; frames adopted as guest pages. */
static void guest(struct ff *x)
{
	static const uint64_t gp[2] = { 2 * W + 11, 2 * W + 12 }, gm[2] = { 0x777, 0x778 };

	ff_init(x, CAP, true);
	for (uint64_t pfn = 0; pfn < 3 * S + 17; pfn++)
		assert_int_equal(p2m_set(&x->f.p, pfn, ram_of(pfn)), 0);
	assert_int_equal(p2m_set_range_identity(&x->f.p, 0xa0, 0x60), 0);
	assert_int_equal(p2m_set_range_identity(&x->f.p, W, W), 0);
	assert_int_equal(p2m_set(&x->f.p, W + 5 * S, 0x1234), 0);
	assert_int_equal(p2m_set_foreign(&x->f.p, gp, gm, 2), 0);
	assert_int_equal(p2m_publish(&x->f.p, &x->arch, false), 0);
	ff_adopt(x, POOL_BASE, 4 * S);
}

/* Every entry as in s, except the pool's, which a restore renames. */
static void same_but_pool(struct ff *x, const struct snap *s)
{
	for (uint64_t pfn = 0; pfn < s->n; pfn++) {
		uint64_t e = p2m_raw(&x->f.p, pfn);

		if (pfn >= POOL_BASE && pfn < POOL_BASE + 4 * S)
			continue;
		if (e != s->raw[pfn])
			fail_msg("pfn %#llx reads %#llx after resume, was %#llx",
				 (unsigned long long)pfn, (unsigned long long)e,
				 (unsigned long long)s->raw[pfn]);
	}
}

static void round_trip(bool new_domain)
{
	struct ff x;
	struct snap s;
	struct ff_records before;

	guest(&x);
	ff_check_names(&x);
	snap_take(&x.f, &s);
	ff_records_take(&x, &before);
	assert_int_equal(p2m_suspend(&x.f.p), 0);
	assert_true(x.f.p.suspended);
	/* Lookups work while suspended. */
	assert_int_equal(p2m_raw(&x.f.p, 5), ram_of(5));
	if (new_domain)
		ff_restore(&x, 0x2c3000);
	assert_int_equal(p2m_resume(&x.f.p, new_domain), 0);
	same_but_pool(&x, &s);
	ff_check_names(&x);
	if (!new_domain)
		ff_records_expect_same(&x, &before); /* the meta chain is a copy */
	if (new_domain)
		assert_int_equal(p2m_generation(&x.f.p), 0);
	/* Structural calls work again, and so does a second round. */
	assert_int_equal(p2m_publish(&x.f.p, &x.arch, false), 0);
	assert_int_equal(x.arch.pfn_to_mfn_frame_list_list, x.f.p.top_mfn);
	assert_int_equal(p2m_set(&x.f.p, 3 * W + 9, 0x4444), 0);
	assert_int_equal(p2m_set_range_missing(&x.f.p, 0, 2 * S), 0);
	ff_check_names(&x);
	assert_int_equal(p2m_suspend(&x.f.p), 0);
	ff_restore(&x, 0x1d1000);
	assert_int_equal(p2m_resume(&x.f.p, true), 0);
	ff_check_names(&x);
	assert_int_equal(p2m_raw(&x.f.p, 3 * W + 9), 0x4444);
	snap_free(&s);
	ff_records_free(&before);
	ff_fini(&x);
}

static void restore_renames_every_frame(void **state)
{
	(void)state;
	round_trip(true);
}

static void cancelled_suspend_keeps_the_mfns(void **state)
{
	(void)state;
	round_trip(false);
}

/* Issue 5: while suspended, every call that could change the structure
 * fails with EBUSY and a message, changing nothing; stores into private
 * slots and lookups still work. */
static void structural_calls_refused_while_suspended(void **state)
{
	static const uint64_t gp[1] = { 3 * W + 1 }, gm[1] = { 0x999 };
	uint64_t initial[4] = { 1, 2, 3, 4 };
	struct ff_records r;
	struct snap s;
	struct ff x;

	(void)state;
	guest(&x);
	assert_int_equal(p2m_suspend(&x.f.p), 0);
	snap_take(&x.f, &s);
	ff_records_take(&x, &r);
	assert_int_equal(p2m_set_range_missing(&x.f.p, 2 * W, W), -P2M_EBUSY);
	assert_non_null(strstr(p2m_last_error(&x.f.p), "suspended"));
	assert_int_equal(p2m_set_range_identity(&x.f.p, 3 * W, W), -P2M_EBUSY);
	assert_int_equal(p2m_set_range_missing(&x.f.p, 0, S), -P2M_EBUSY);
	assert_int_equal(p2m_set(&x.f.p, 3 * W + 7, 0x5), -P2M_EBUSY);
	assert_non_null(strstr(p2m_last_error(&x.f.p), "p2m_set"));
	assert_int_equal(p2m_prepare(&x.f.p, 3 * W + 7), -P2M_EBUSY);
	assert_int_equal(p2m_set_foreign(&x.f.p, gp, gm, 1), -P2M_EBUSY);
	assert_int_equal(p2m_build(&x.f.p, initial, 4), -P2M_EBUSY);
	assert_int_equal(p2m_publish(&x.f.p, &x.arch, false), -P2M_EBUSY);
	assert_int_equal(p2m_suspend(&x.f.p), -P2M_EBUSY);
	snap_expect_same(&x.f, &s);
	ff_records_expect_same(&x, &r);
	/* A store into a private slot is no structural change. */
	assert_int_equal(p2m_set(&x.f.p, 7, 0x31), 0);
	assert_int_equal(p2m_raw(&x.f.p, 7), 0x31);
	assert_int_equal(p2m_resume(&x.f.p, false), 0);
	assert_int_equal(p2m_set(&x.f.p, 3 * W + 7, 0x5), 0);
	snap_free(&s);
	ff_records_free(&r);
	ff_fini(&x);
}

/* Issue 3: a suspend failing at its last frame_map (the old code had
 * rewritten meta_head and the chain by then) changes nothing. */
static void failed_suspend_changes_nothing(void **state)
{
	struct ff_records r;
	struct snap s;
	struct ff x;
	uint64_t last = 0;

	(void)state;
	/* Find the number of suspend's last frame_map call. */
	guest(&x);
	ff_arm(&x, 0, 0);
	assert_int_equal(p2m_suspend(&x.f.p), 0);
	last = x.last_of[FF_FRAME_MAP];
	ff_disarm(&x);
	ff_fini(&x);
	assert_true(last > 0);
	guest(&x);
	snap_take(&x.f, &s);
	ff_records_take(&x, &r);
	ff_arm(&x, last, 0);
	assert_int_equal(p2m_suspend(&x.f.p), -P2M_EMAP);
	ff_disarm(&x);
	assert_false(x.f.p.suspended);
	snap_expect_same(&x.f, &s);
	ff_records_expect_same(&x, &r);
	fx_check_accounting(&x.f);
	ff_check_names(&x);
	snap_free(&s);
	ff_records_free(&r);
	ff_fini(&x);
}

/* Issue 4: a resume failing half-way (at its last fallible call, after
 * the old code had translated every record) changes nothing and
 * succeeds when retried. */
static void failed_resume_can_be_retried(void **state)
{
	struct ff_records r;
	struct ff x;
	uint64_t calls;

	(void)state;
	guest(&x);
	assert_int_equal(p2m_suspend(&x.f.p), 0);
	ff_restore(&x, 0x2c3000);
	ff_records_take(&x, &r);
	ff_arm(&x, 0, 0);
	assert_int_equal(p2m_resume(&x.f.p, true), 0);
	calls = x.calls;
	ff_disarm(&x);
	ff_records_free(&r);
	ff_fini(&x);
	assert_true(calls > 0);

	guest(&x);
	assert_int_equal(p2m_suspend(&x.f.p), 0);
	ff_restore(&x, 0x2c3000);
	ff_records_take(&x, &r);
	ff_arm(&x, calls, 0);
	assert_true(p2m_resume(&x.f.p, true) < 0);
	ff_disarm(&x);
	assert_true(x.f.p.suspended);
	ff_records_expect_same(&x, &r);
	assert_int_equal(p2m_resume(&x.f.p, true), 0);
	ff_check_names(&x);
	ff_records_free(&r);
	ff_fini(&x);
}

/* A P2M of 2^30 pfns (4 TiB) has a meta chain of two frames: suspend and
 * resume copy it into fresh frames. Round trip, then every single fault
 * of both calls (first and last 16 calls, every 64th between) changes
 * nothing and a retry succeeds. */
#define BIG ((uint64_t)1 << 30)
#define BIG_POOL (BIG - 4 * S)

static void big_guest(struct ff *x)
{
	uint64_t c[P2M_PER_PAGE];

	ff_init(x, BIG, false);
	assert_int_equal(p2m_set(&x->f.p, 5, 0x55), 0);
	assert_int_equal(p2m_set(&x->f.p, 3000 * W + 7, 0x77), 0);
	ff_adopt(x, BIG_POOL, 4 * S);
	assert_int_equal(hosted_read_frame(x->f.h, ff_hosted(x, x->f.p.meta_head), c), 0);
	assert_true(c[0] != P2M_INVALID); /* two chain frames at least */
}

static uint64_t big_calls(int which)
{
	struct ff x;
	uint64_t n;

	big_guest(&x);
	if (which)
		assert_int_equal(p2m_suspend(&x.f.p), 0);
	ff_arm(&x, 0, 0);
	assert_int_equal(which ? p2m_resume(&x.f.p, false) : p2m_suspend(&x.f.p), 0);
	n = x.calls;
	ff_disarm(&x);
	ff_fini(&x);
	return n;
}

static void long_chain_is_copied(void **state)
{
	struct ff_records r;
	struct ff x;

	(void)state;
	big_guest(&x);
	ff_records_take(&x, &r);
	assert_int_equal(p2m_suspend(&x.f.p), 0);
	ff_restore(&x, 0x2c3000);
	assert_int_equal(p2m_resume(&x.f.p, true), 0);
	ff_check_names(&x);
	assert_int_equal(p2m_raw(&x.f.p, 3000 * W + 7), 0x77);
	ff_records_free(&r);
	ff_fini(&x);

	for (int which = 0; which < 2; which++) {
		uint64_t calls = big_calls(which), runs = 0;

		for (uint64_t i = 1; i <= calls; i++) {
			if (i > 16 && i + 16 <= calls && i % 64)
				continue;
			big_guest(&x);
			if (which) {
				assert_int_equal(p2m_suspend(&x.f.p), 0);
				ff_restore(&x, 0x2c3000);
			}
			ff_records_take(&x, &r);
			ff_arm(&x, i, 0);
			assert_true((which ? p2m_resume(&x.f.p, true) : p2m_suspend(&x.f.p)) < 0);
			ff_disarm(&x);
			ff_records_expect_same(&x, &r);
			fx_check_accounting(&x.f);
			assert_int_equal(which ? p2m_resume(&x.f.p, true) : p2m_suspend(&x.f.p), 0);
			if (which)
				ff_check_names(&x);
			ff_records_free(&r);
			ff_fini(&x);
			runs++;
		}
		print_message("%s of a 2-frame chain: %llu calls, %llu single faults run\n",
			      which ? "p2m_resume" : "p2m_suspend", (unsigned long long)calls,
			      (unsigned long long)runs);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(restore_renames_every_frame),
		cmocka_unit_test(cancelled_suspend_keeps_the_mfns),
		cmocka_unit_test(structural_calls_refused_while_suspended),
		cmocka_unit_test(failed_suspend_changes_nothing),
		cmocka_unit_test(failed_resume_can_be_retried),
		cmocka_unit_test(long_chain_is_copied),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
