/*
 * p2m_set, the range calls and p2m_prepare: every value class, bad values
 * and pfns (with messages naming them), no-op writes that allocate
 * nothing, splits of shared slots and windows, joins of whole slots and
 * windows (frames freed, uniform windows joined), identity clamped at the
 * capacity, and allocation or mapping failures injected at every site.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "helper_p2m.h"

static struct p2m_stats stats(struct fx *f)
{
	struct p2m_stats st;

	p2m_get_stats(&f->p, &st);
	return st;
}

static void every_value_class(void **state)
{
	struct fx f;
	uint64_t pfn = 5 * S + 3;

	(void)state;
	fx_init(&f, W, false);
	assert_int_equal(p2m_set(&f.p, pfn, 0x1234), 0);
	assert_int_equal(p2m_raw(&f.p, pfn), 0x1234);
	assert_int_equal(p2m_kind_of(&f.p, pfn), P2M_KIND_RAM);
	assert_int_equal(p2m_set(&f.p, pfn, p2m_foreign_entry(0x777)), 0);
	assert_int_equal(p2m_kind_of(&f.p, pfn), P2M_KIND_FOREIGN);
	assert_int_equal(p2m_mfn(&f.p, pfn), 0x777);
	assert_int_equal(p2m_set(&f.p, pfn, p2m_identity_entry(pfn)), 0);
	assert_int_equal(p2m_kind_of(&f.p, pfn), P2M_KIND_IDENTITY);
	assert_int_equal(p2m_mfn(&f.p, pfn), pfn);
	assert_int_equal(p2m_set(&f.p, pfn, P2M_INVALID), 0);
	assert_int_equal(p2m_kind_of(&f.p, pfn), P2M_KIND_MISSING);
	assert_int_equal(p2m_mfn(&f.p, pfn), P2M_INVALID);
	/* The largest mfn, and mfn 0. */
	assert_int_equal(p2m_set(&f.p, pfn + 1, P2M_MFN_LIMIT - 1), 0);
	assert_int_equal(p2m_raw(&f.p, pfn + 1), P2M_MFN_LIMIT - 1);
	assert_int_equal(p2m_set(&f.p, pfn + 2, 0), 0);
	assert_int_equal(p2m_raw(&f.p, pfn + 2), 0);
	/* Neighbours stay missing. */
	assert_int_equal(p2m_raw(&f.p, pfn - 1), P2M_INVALID);
	assert_int_equal(p2m_raw(&f.p, pfn + 3), P2M_INVALID);
	fx_fini(&f);
}

static void expect_bad(struct fx *f, uint64_t pfn, uint64_t v, int err, const char *needle)
{
	struct snap s;
	uint64_t live = fx_live(f), gen = p2m_generation(&f->p);
	char pfnhex[32];

	snap_take(f, &s);
	assert_int_equal(p2m_set(&f->p, pfn, v), -err);
	snprintf(pfnhex, sizeof(pfnhex), "pfn %#llx", (unsigned long long)pfn);
	if (!strstr(p2m_last_error(&f->p), pfnhex))
		fail_msg("message \"%s\" does not name %s", p2m_last_error(&f->p), pfnhex);
	if (needle && !strstr(p2m_last_error(&f->p), needle))
		fail_msg("message \"%s\" lacks \"%s\"", p2m_last_error(&f->p), needle);
	snap_expect_same(f, &s);
	assert_int_equal(fx_live(f), live);
	assert_int_equal(p2m_generation(&f->p), gen);
	snap_free(&s);
}

static void bad_values_name_the_pfn(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f, W, false);
	assert_int_equal(p2m_set(&f.p, 7, 0x42), 0);
	expect_bad(&f, 0x123, p2m_identity_entry(0x124), P2M_EINVAL, "must carry that pfn");
	expect_bad(&f, 0x123, P2M_MFN_LIMIT, P2M_EINVAL, NULL);
	expect_bad(&f, 0x123, p2m_foreign_entry(P2M_MFN_LIMIT), P2M_EINVAL, NULL);
	expect_bad(&f, 0x123, P2M_TAG_MASK | 5, P2M_EINVAL, NULL);
	expect_bad(&f, 7, P2M_INVALID - 1, P2M_EINVAL, NULL);
	/* Beyond the capacity. */
	expect_bad(&f, W, 0x42, P2M_ERANGE, "beyond the capacity 0x40000");
	expect_bad(&f, ~(uint64_t)0 - 1, 0x42, P2M_ERANGE, NULL);
	/* Identity beyond the capacity is what it already is. */
	assert_int_equal(p2m_set(&f.p, W + 9, p2m_identity_entry(W + 9)), 0);
	assert_int_equal(p2m_raw(&f.p, W + 9), p2m_identity_entry(W + 9));
	fx_fini(&f);
}

static void noop_writes_allocate_nothing(void **state)
{
	struct fx f;
	uint64_t live, gen;

	(void)state;
	fx_init(&f, 2 * W, false);
	assert_int_equal(p2m_set_range_identity(&f.p, W, W), 0);
	live = fx_live(&f);
	gen = p2m_generation(&f.p);
	for (uint64_t pfn = 0; pfn < W; pfn += 4099)
		assert_int_equal(p2m_set(&f.p, pfn, P2M_INVALID), 0);
	for (uint64_t pfn = W; pfn < 2 * W; pfn += 4099)
		assert_int_equal(p2m_set(&f.p, pfn, p2m_identity_entry(pfn)), 0);
	assert_int_equal(fx_live(&f), live);
	assert_int_equal(p2m_generation(&f.p), gen);
	/* The no-op writes need no allocation at all: a failing platform
	 * does not disturb them. */
	hosted_fail_nth_alloc(f.h, 1);
	assert_int_equal(p2m_set(&f.p, 3, P2M_INVALID), 0);
	assert_int_equal(p2m_set(&f.p, W + 3, p2m_identity_entry(W + 3)), 0);
	assert_true(hosted_alloc_failure_pending(f.h));
	hosted_fail_nth_alloc(f.h, 0);
	/* But ~0 into identity is a change. */
	assert_int_equal(p2m_set(&f.p, W + 3, P2M_INVALID), 0);
	assert_int_equal(p2m_raw(&f.p, W + 3), P2M_INVALID);
	assert_int_equal(p2m_raw(&f.p, W + 4), p2m_identity_entry(W + 4));
	assert_true(fx_live(&f) > live);
	fx_fini(&f);
}

static void splits_cost_what_they_should(void **state)
{
	struct fx f;
	uint64_t live, gen;

	(void)state;
	fx_init(&f, 2 * W, true);
	live = fx_live(&f);
	gen = p2m_generation(&f.p);
	/* First write into a shared window: table, frame list and leaf. */
	assert_int_equal(p2m_set(&f.p, 10, 0x99), 0);
	assert_int_equal(fx_live(&f), live + 3);
	assert_int_equal(p2m_generation(&f.p), gen + 2);
	assert_int_equal(stats(&f).private_leaves, 1);
	assert_int_equal(stats(&f).private_tables, 1);
	assert_int_equal(stats(&f).shared_windows, 1);
	/* Another slot of that window: a leaf only. */
	assert_int_equal(p2m_set(&f.p, 3 * S, 0x98), 0);
	assert_int_equal(fx_live(&f), live + 4);
	assert_int_equal(p2m_generation(&f.p), gen + 4);
	/* The same slot again: a plain store, no mapping change. */
	assert_int_equal(p2m_set(&f.p, 11, 0x97), 0);
	assert_int_equal(fx_live(&f), live + 4);
	assert_int_equal(p2m_generation(&f.p), gen + 4);
	assert_int_equal(stats(&f).shared_slots, 2 * 512 - 2);
	fx_check_accounting(&f);
	fx_fini(&f);
}

static void fill(struct fx *f, uint64_t a, uint64_t b)
{
	for (uint64_t pfn = a; pfn < b; pfn++)
		assert_int_equal(p2m_set(&f->p, pfn, ram_of(pfn)), 0);
}

static void ranges_partial_and_whole(void **state)
{
	struct fx f;
	uint64_t live;

	(void)state;
	fx_init(&f, 2 * W, false);
	fill(&f, 0, 4 * S);
	live = fx_live(&f);
	/* Partial slot inside private leaves: stores only. */
	assert_int_equal(p2m_set_range_missing(&f.p, 10, 20), 0);
	assert_int_equal(fx_live(&f), live);
	for (uint64_t pfn = 0; pfn < 40; pfn++)
		assert_int_equal(p2m_raw(&f.p, pfn),
				 pfn >= 10 && pfn < 30 ? P2M_INVALID : ram_of(pfn));
	/* A whole slot goes back to the shared page, its leaf is freed. */
	assert_int_equal(p2m_set_range_identity(&f.p, S, S), 0);
	assert_int_equal(fx_live(&f), live - 1);
	assert_int_equal(f.p.kinds[1], P2M_SLOT_IDENTITY);
	for (uint64_t pfn = S; pfn < 2 * S; pfn++)
		assert_int_equal(p2m_raw(&f.p, pfn), p2m_identity_entry(pfn));
	assert_int_equal(p2m_raw(&f.p, 2 * S), ram_of(2 * S));
	assert_int_equal(p2m_raw(&f.p, S - 1), ram_of(S - 1));
	/* Part of slot 2 and all of slot 3: slot 3 joined, slot 2 stored. */
	assert_int_equal(p2m_set_range_missing(&f.p, 2 * S + 100, 2 * S - 100), 0);
	assert_int_equal(fx_live(&f), live - 2);
	assert_int_equal(p2m_raw(&f.p, 2 * S + 99), ram_of(2 * S + 99));
	assert_int_equal(p2m_raw(&f.p, 2 * S + 100), P2M_INVALID);
	assert_int_equal(p2m_raw(&f.p, 4 * S - 1), P2M_INVALID);
	fx_check_accounting(&f);
	/* A partial range in a shared slot of another kind needs a leaf. */
	assert_int_equal(p2m_set_range_identity(&f.p, 10 * S + 5, 3), 0);
	assert_int_equal(fx_live(&f), live - 1);
	assert_int_equal(p2m_raw(&f.p, 10 * S + 4), P2M_INVALID);
	assert_int_equal(p2m_raw(&f.p, 10 * S + 5), p2m_identity_entry(10 * S + 5));
	assert_int_equal(p2m_raw(&f.p, 10 * S + 7), p2m_identity_entry(10 * S + 7));
	assert_int_equal(p2m_raw(&f.p, 10 * S + 8), P2M_INVALID);
	/* The whole window back to missing: everything private is freed. */
	assert_int_equal(p2m_set_range_missing(&f.p, 0, W), 0);
	fx_check_accounting(&f);
	assert_int_equal(stats(&f).private_leaves, 0);
	assert_int_equal(stats(&f).private_tables, 0);
	assert_int_equal(stats(&f).shared_windows, 2);
	for (uint64_t pfn = 0; pfn < 4 * S; pfn++)
		assert_int_equal(p2m_raw(&f.p, pfn), P2M_INVALID);
	/* Whole windows of identity cost nothing. */
	live = fx_live(&f);
	assert_int_equal(p2m_set_range_identity(&f.p, 0, 2 * W), 0);
	assert_int_equal(fx_live(&f), live);
	assert_int_equal(p2m_raw(&f.p, W + 77), p2m_identity_entry(W + 77));
	assert_int_equal(p2m_kind_of(&f.p, 0), P2M_KIND_IDENTITY);
	fx_fini(&f);
}

static void window_becoming_uniform_is_joined(void **state)
{
	struct fx f;
	uint64_t live0;

	(void)state;
	fx_init(&f, 2 * W, true);
	live0 = fx_live(&f);
	assert_int_equal(p2m_set(&f.p, W + 5, 0x10), 0);
	assert_int_equal(p2m_set(&f.p, 2 * W - 1, 0x11), 0);
	assert_int_equal(stats(&f).shared_windows, 1);
	/* Two ranges that together cover window 1, neither whole. */
	assert_int_equal(p2m_set_range_missing(&f.p, W, W / 2), 0);
	assert_int_equal(stats(&f).shared_windows, 1);
	assert_int_equal(p2m_set_range_missing(&f.p, W + W / 2, W / 2), 0);
	assert_int_equal(stats(&f).shared_windows, 2);
	assert_int_equal(fx_live(&f), live0);
	/* A range straddling two windows, each left uniform identity. */
	assert_int_equal(p2m_set(&f.p, W - 1, 0x12), 0);
	assert_int_equal(p2m_set(&f.p, W, 0x13), 0);
	assert_int_equal(p2m_set(&f.p, W + S + 1, 0x14), 0);
	assert_int_equal(p2m_set_range_identity(&f.p, 0, W + S), 0);
	assert_int_equal(p2m_raw(&f.p, W), p2m_identity_entry(W));
	assert_int_equal(stats(&f).shared_windows, 1);
	assert_int_equal(p2m_set_range_identity(&f.p, W + S, W - S), 0);
	assert_int_equal(stats(&f).shared_windows, 2);
	assert_int_equal(fx_live(&f), live0);
	for (uint64_t pfn = 0; pfn < 2 * W; pfn += 511)
		assert_int_equal(p2m_raw(&f.p, pfn), p2m_identity_entry(pfn));
	fx_fini(&f);
}

static void identity_ranges_clamp_at_capacity(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f, W, false);
	assert_int_equal(p2m_set_range_identity(&f.p, W - 10, 100), 0);
	assert_int_equal(p2m_raw(&f.p, W - 11), P2M_INVALID);
	assert_int_equal(p2m_raw(&f.p, W - 10), p2m_identity_entry(W - 10));
	assert_int_equal(p2m_raw(&f.p, W + 50), p2m_identity_entry(W + 50));
	assert_int_equal(p2m_set_range_identity(&f.p, W + 5, 10), 0);
	assert_int_equal(p2m_set_range_identity(&f.p, 0, ~(uint64_t)0), 0);
	assert_int_equal(p2m_raw(&f.p, 0), p2m_identity_entry(0));
	/* Missing beyond the capacity cannot be. */
	assert_int_equal(p2m_set_range_missing(&f.p, W - 10, 11), -P2M_ERANGE);
	assert_non_null(strstr(p2m_last_error(&f.p), "beyond the capacity 0x40000"));
	assert_int_equal(p2m_raw(&f.p, W - 10), p2m_identity_entry(W - 10));
	assert_int_equal(p2m_set_range_missing(&f.p, W, 1), -P2M_ERANGE);
	assert_int_equal(p2m_set_range_missing(&f.p, 5, ~(uint64_t)0 - 2), -P2M_ERANGE);
	assert_int_equal(p2m_raw(&f.p, 5), p2m_identity_entry(5));
	/* Empty ranges do nothing, anywhere. */
	assert_int_equal(p2m_set_range_missing(&f.p, 3, 0), 0);
	assert_int_equal(p2m_set_range_missing(&f.p, W * 5, 0), 0);
	assert_int_equal(p2m_raw(&f.p, 3), p2m_identity_entry(3));
	fx_fini(&f);
}

static void prepare_then_set_allocates_nothing(void **state)
{
	struct fx f;
	uint64_t live, gen;

	(void)state;
	fx_init(&f, W, true);
	assert_int_equal(p2m_set_range_identity(&f.p, 0, W), 0);
	live = fx_live(&f);
	gen = p2m_generation(&f.p);
	assert_int_equal(p2m_prepare(&f.p, 1000), 0);
	assert_int_equal(fx_live(&f), live + 3);
	assert_int_equal(p2m_generation(&f.p), gen + 2);
	/* Values unchanged by the split. */
	for (uint64_t pfn = 512; pfn < 1024; pfn++)
		assert_int_equal(p2m_raw(&f.p, pfn), p2m_identity_entry(pfn));
	assert_int_equal(p2m_prepare(&f.p, 1001), 0);
	assert_int_equal(fx_live(&f), live + 3);
	hosted_fail_nth_alloc(f.h, 1);
	assert_int_equal(p2m_set(&f.p, 1000, 0x55), 0);
	assert_int_equal(p2m_set(&f.p, 1023, P2M_INVALID), 0);
	assert_true(hosted_alloc_failure_pending(f.h));
	hosted_fail_nth_alloc(f.h, 0);
	assert_int_equal(p2m_raw(&f.p, 1000), 0x55);
	assert_int_equal(p2m_raw(&f.p, 1022), p2m_identity_entry(1022));
	assert_int_equal(p2m_prepare(&f.p, W), -P2M_ERANGE);
	assert_non_null(strstr(p2m_last_error(&f.p), "pfn 0x40000"));
	fx_fini(&f);
}

/* --- failure injection at every site --- */

static void setup_identity_window1(struct fx *f, void *arg)
{
	(void)arg;
	assert_int_equal(p2m_set_range_identity(&f->p, W, W), 0);
	assert_int_equal(p2m_set(&f->p, 3, 0x77), 0);
}

static int op_set_shared(struct fx *f, void *arg)
{
	(void)arg;
	return p2m_set(&f->p, W + 700, 0x1234);
}

static void check_set_shared(struct fx *f, void *arg)
{
	(void)arg;
	assert_int_equal(p2m_raw(&f->p, W + 700), 0x1234);
	assert_int_equal(p2m_raw(&f->p, W + 701), p2m_identity_entry(W + 701));
}

static int op_prepare(struct fx *f, void *arg)
{
	(void)arg;
	return p2m_prepare(&f->p, W + 9);
}

static int op_range_partial(struct fx *f, void *arg)
{
	(void)arg;
	/* Partial slots at both ends, in two windows of other kinds. */
	return p2m_set_range_missing(&f->p, W - 100 + 3, 300);
}

static void check_range_partial(struct fx *f, void *arg)
{
	(void)arg;
	assert_int_equal(p2m_raw(&f->p, W - 98), P2M_INVALID);
	assert_int_equal(p2m_raw(&f->p, W + 202), P2M_INVALID);
	assert_int_equal(p2m_raw(&f->p, W + 203), p2m_identity_entry(W + 203));
}

static void setup_ram(struct fx *f, void *arg)
{
	(void)arg;
	fill(f, W - 2 * S, W + 2 * S);
	assert_int_equal(p2m_set(&f->p, 2 * W + 5, 0x66), 0);
}

static int op_range_join(struct fx *f, void *arg)
{
	(void)arg;
	/* Partial slots, whole slots, a whole window, uniform leftovers. */
	return p2m_set_range_identity(&f->p, W - 2 * S + 1, W + 4 * S);
}

/* After a mapping failure part-way through a range: every pfn of the
 * range holds its old value or identity, every other pfn its old value. */
static void range_join_partial(struct fx *f, const struct snap *before, void *arg)
{
	uint64_t a = W - 2 * S + 1, b = a + W + 4 * S;

	(void)arg;
	for (uint64_t pfn = 0; pfn < before->n; pfn++) {
		uint64_t e = p2m_raw(&f->p, pfn);

		if (e == before->raw[pfn])
			continue;
		if (pfn >= a && pfn < b && e == p2m_identity_entry(pfn))
			continue;
		fail_msg("pfn %#llx reads %#llx after a failed range, was %#llx",
			 (unsigned long long)pfn, (unsigned long long)e,
			 (unsigned long long)before->raw[pfn]);
	}
	assert_int_equal(p2m_generation(&f->p) & 1, 0);
}

static void inject_set(void **state)
{
	(void)state;
	assert_true(fx_inject_each(FX_INJECT_ALLOC, 3 * W, true, setup_identity_window1,
				   op_set_shared, check_set_shared, NULL) >= 1);
	assert_true(fx_inject_each(FX_INJECT_MAP, 3 * W, true, setup_identity_window1,
				   op_set_shared, check_set_shared, NULL) >= 2);
	assert_true(fx_inject_each(FX_INJECT_ALLOC, 3 * W, true, setup_identity_window1,
				   op_prepare, NULL, NULL) >= 1);
	assert_true(fx_inject_each(FX_INJECT_MAP, 3 * W, true, setup_identity_window1,
				   op_prepare, NULL, NULL) >= 2);
}

static void inject_range(void **state)
{
	(void)state;
	assert_true(fx_inject_each(FX_INJECT_ALLOC, 3 * W, true, setup_identity_window1,
				   op_range_partial, check_range_partial, NULL) >= 1);
	assert_true(fx_inject_each(FX_INJECT_MAP, 3 * W, true, setup_identity_window1,
				   op_range_partial, check_range_partial, NULL) >= 2);
}

static void inject_range_join(void **state)
{
	(void)state;
	/* One allocation: the partial slot at the end, in window 2. */
	assert_int_equal(fx_inject_each(FX_INJECT_ALLOC, 3 * W, true, setup_ram,
					op_range_join, NULL, NULL), 1);
	/* A mapping failure while joining stops the range part-way
	 * (p2m.h promises all-or-nothing only for allocation failures). */
	assert_true(fx_inject_each_partial(FX_INJECT_MAP, 3 * W, true, setup_ram,
					   op_range_join, NULL, range_join_partial, NULL) >= 1);
}

/*
 * A writer of another pfn slips in between the range call's check that
 * the window became uniform and the join itself. Made deterministic by a
 * platform whose lock() runs the other writer's p2m_set just before the
 * join takes the lock (writers of different pfns may run concurrently,
 * p2m.h). The join must see the new private slot and leave the window
 * alone.
 */
static struct fx race;
static void (*race_real_lock)(void *);
static int race_countdown;
static int race_rc = -1;

static void race_lock(void *ctx)
{
	if (race_countdown && --race_countdown == 0)
		race_rc = p2m_set(&race.p, 5 * S + 1, 0x4321);
	race_real_lock(ctx);
}

static void uniform_join_rechecks_under_the_lock(void **state)
{
	struct p2m_platform pl;

	(void)state;
	fx_platform(&race);
	pl = race.plat;
	race_real_lock = pl.lock;
	pl.lock = race_lock;
	assert_int_equal(p2m_create(&race.p, &pl, 2 * W, true), 0);
	race.created = true;
	/* Window 0 private, with one private slot (slot 0). */
	assert_int_equal(p2m_set(&race.p, 3, 0x1234), 0);
	/* The range call returns slot 0 to missing: lock #1 joins the slot,
	 * lock #2 joins the (then uniform) window. Before #2, another writer
	 * makes slot 5 private and stores into it. */
	race_countdown = 2;
	assert_int_equal(p2m_set_range_missing(&race.p, 0, S), 0);
	assert_int_equal(race_countdown, 0);
	assert_int_equal(race_rc, 0);
	assert_int_equal(p2m_raw(&race.p, 3), P2M_INVALID);
	if (p2m_raw(&race.p, 5 * S + 1) != 0x4321)
		fail_msg("the other writer's value was lost: pfn %#llx reads %#llx",
			 (unsigned long long)(5 * S + 1),
			 (unsigned long long)p2m_raw(&race.p, 5 * S + 1));
	fx_fini(&race);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_value_class),
		cmocka_unit_test(bad_values_name_the_pfn),
		cmocka_unit_test(noop_writes_allocate_nothing),
		cmocka_unit_test(splits_cost_what_they_should),
		cmocka_unit_test(ranges_partial_and_whole),
		cmocka_unit_test(window_becoming_uniform_is_joined),
		cmocka_unit_test(identity_ranges_clamp_at_capacity),
		cmocka_unit_test(prepare_then_set_allocates_nothing),
		cmocka_unit_test(inject_set),
		cmocka_unit_test(inject_range),
		cmocka_unit_test(inject_range_join),
		cmocka_unit_test(uniform_join_rechecks_under_the_lock),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
