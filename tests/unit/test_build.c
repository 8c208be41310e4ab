/*
 * p2m_build: RAM, holes and identity runs from a flat list, n not a
 * multiple of 512, uniform slots and windows becoming shared, invalid
 * values rejected naming the pfn, a non-fresh P2M refused, and failures
 * injected at every allocation and mapping leaving the P2M as it was.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helper_p2m.h"

/* A guest layout: RAM with a legacy hole, an identity run from the end of
 * window 0 to the middle of window 2 (a whole identity window inside),
 * RAM after it, ballooned holes, a foreign entry, and a tail that ends
 * mid-slot. */
static uint64_t *layout(uint64_t n)
{
	uint64_t *v = malloc(n * sizeof(uint64_t));

	assert_non_null(v);
	for (uint64_t pfn = 0; pfn < n; pfn++) {
		if (pfn >= 0xa0 && pfn < 0x100)
			v[pfn] = p2m_identity_entry(pfn);
		else if (pfn >= W - 3 * S && pfn < 2 * W + 5 * S + 3)
			v[pfn] = p2m_identity_entry(pfn);
		else if (pfn >= 20 * S && pfn < 40 * S + 7)
			v[pfn] = P2M_INVALID;
		else if (pfn == 2 * W + 6 * S)
			v[pfn] = p2m_foreign_entry(0x4242);
		else
			v[pfn] = ram_of(pfn);
	}
	return v;
}

static void builds_a_layout(void **state)
{
	uint64_t n = 2 * W + 7 * S + 100;
	uint64_t *v = layout(n);
	struct p2m_stats st;
	struct fx f;

	(void)state;
	fx_init(&f, 4 * W, true);
	assert_int_equal(p2m_build(&f.p, v, n), 0);
	for (uint64_t pfn = 0; pfn < n; pfn++)
		if (p2m_raw(&f.p, pfn) != v[pfn])
			fail_msg("pfn %#llx reads %#llx, built from %#llx", (unsigned long long)pfn,
				 (unsigned long long)p2m_raw(&f.p, pfn), (unsigned long long)v[pfn]);
	for (uint64_t pfn = n; pfn < 4 * W; pfn += 31)
		assert_int_equal(p2m_raw(&f.p, pfn), P2M_INVALID);
	assert_int_equal(p2m_max_pfn(&f.p), (n + S - 1) / S * S);
	assert_int_equal(p2m_generation(&f.p) & 1, 0);
	p2m_get_stats(&f.p, &st);
	/* Window 1 is all identity: shared. Windows 0 and 2 are split. */
	assert_int_equal(st.private_tables, 2);
	assert_true(!f.p.windows[1].table);
	assert_int_equal(f.p.kinds[W / S + 3], P2M_SLOT_IDENTITY);
	/* Missing slots 20..39 and identity slots are shared, not leaves. */
	assert_int_equal(f.p.kinds[25], P2M_SLOT_MISSING);
	assert_int_equal(f.p.kinds[40], P2M_SLOT_PRIVATE);
	assert_int_equal(f.p.kinds[W / S - 1], P2M_SLOT_IDENTITY);
	assert_int_equal(f.p.kinds[2 * W / S + 5], P2M_SLOT_PRIVATE);
	assert_int_equal(st.private_leaves, (W / S - 3) - 20 + 1 /* slot 40..508 + 0..19 */ - 0 +
					       (7 - 5) + 1 /* window 2: slots 5, 6, 7 */ - 1);
	fx_check_accounting(&f);
	free(v);
	fx_fini(&f);
}

static void tails_and_uniform_runs(void **state)
{
	struct fx f;
	uint64_t v[S + 10];

	(void)state;
	/* An identity tail shorter than a slot stays private and exact. */
	for (uint64_t i = 0; i < S + 10; i++)
		v[i] = i < S ? P2M_INVALID : p2m_identity_entry(i);
	fx_init(&f, W, true);
	assert_int_equal(p2m_build(&f.p, v, S + 10), 0);
	assert_int_equal(p2m_raw(&f.p, S + 9), p2m_identity_entry(S + 9));
	assert_int_equal(p2m_raw(&f.p, S + 10), P2M_INVALID);
	assert_int_equal(p2m_raw(&f.p, 5), P2M_INVALID);
	assert_int_equal(f.p.kinds[0], P2M_SLOT_MISSING);
	assert_int_equal(p2m_max_pfn(&f.p), 0);
	fx_check_accounting(&f);
	fx_fini(&f);

	/* All missing: nothing is allocated at all. */
	for (uint64_t i = 0; i < S + 10; i++)
		v[i] = P2M_INVALID;
	fx_init(&f, W, true);
	{
		uint64_t live = fx_live(&f);

		assert_int_equal(p2m_build(&f.p, v, S + 10), 0);
		assert_int_equal(fx_live(&f), live);
	}
	fx_fini(&f);
}

static void all_identity_window_costs_nothing(void **state)
{
	uint64_t *v = malloc(2 * W * sizeof(uint64_t));
	struct fx f;
	uint64_t live;

	(void)state;
	for (uint64_t pfn = 0; pfn < 2 * W; pfn++)
		v[pfn] = p2m_identity_entry(pfn);
	fx_init(&f, 2 * W, true);
	live = fx_live(&f);
	assert_int_equal(p2m_build(&f.p, v, 2 * W), 0);
	assert_int_equal(fx_live(&f), live);
	assert_int_equal(p2m_raw(&f.p, W + 3), p2m_identity_entry(W + 3));
	free(v);
	fx_fini(&f);
}

static void expect_rejected(uint64_t bad_pfn, uint64_t bad_value)
{
	uint64_t n = W + 2 * S;
	uint64_t *v = layout(n);
	char want[40];
	struct fx f;

	v[bad_pfn] = bad_value;
	fx_init(&f, 2 * W, true);
	assert_int_equal(p2m_build(&f.p, v, n), -P2M_EINVAL);
	snprintf(want, sizeof(want), "at pfn %#llx", (unsigned long long)bad_pfn);
	if (!strstr(p2m_last_error(&f.p), want))
		fail_msg("\"%s\" does not name %s", p2m_last_error(&f.p), want);
	for (uint64_t pfn = 0; pfn < 2 * W; pfn += 101)
		assert_int_equal(p2m_raw(&f.p, pfn), P2M_INVALID);
	assert_int_equal(p2m_max_pfn(&f.p), 0);
	fx_check_accounting(&f);
	free(v);
	fx_fini(&f);
}

static void invalid_values_rejected(void **state)
{
	(void)state;
	expect_rejected(7, P2M_MFN_LIMIT);
	expect_rejected(0xa5, p2m_identity_entry(0xa4));          /* in an identity run */
	expect_rejected(W + S + 3, P2M_TAG_MASK | 1);            /* in window 1 */
	expect_rejected(W + 2 * S - 1, p2m_foreign_entry(P2M_MFN_LIMIT));
	expect_rejected(300, p2m_identity_entry(300) | 1);
}

static void refusals(void **state)
{
	uint64_t v[4] = { 1, 2, 3, 4 };
	struct fx f;

	(void)state;
	fx_init(&f, W, true);
	assert_int_equal(p2m_build(&f.p, NULL, 4), -P2M_EINVAL);
	assert_int_equal(p2m_build(&f.p, v, 0), 0);
	assert_int_equal(p2m_build(&f.p, v, W + 1), -P2M_ERANGE);
	assert_non_null(strstr(p2m_last_error(&f.p), "exceeds the capacity 0x40000"));
	/* Not fresh: refused, with the window named. */
	assert_int_equal(p2m_set(&f.p, W - 1, 9), 0);
	assert_int_equal(p2m_build(&f.p, v, 4), -P2M_EBUSY);
	assert_non_null(strstr(p2m_last_error(&f.p), "window 0"));
	assert_int_equal(p2m_raw(&f.p, 0), P2M_INVALID);
	assert_int_equal(p2m_set_range_missing(&f.p, 0, W), 0);
	assert_int_equal(p2m_set_range_identity(&f.p, 0, W), 0);
	assert_int_equal(p2m_build(&f.p, v, 4), -P2M_EBUSY);
	assert_int_equal(p2m_set_range_missing(&f.p, 0, W), 0);
	/* Private but reading missing (prepared, or a window a failed build
	 * could not give back): given back first, then built. */
	assert_int_equal(p2m_prepare(&f.p, 700), 0);
	assert_int_equal(p2m_build(&f.p, v, 4), 0);
	assert_int_equal(p2m_raw(&f.p, 3), 4);
	assert_int_equal(p2m_raw(&f.p, 700), P2M_INVALID);
	fx_fini(&f);
}

static uint64_t *g_layout;
static uint64_t g_n;

static int op_build(struct fx *f, void *arg)
{
	(void)arg;
	return p2m_build(&f->p, g_layout, g_n);
}

static void check_build(struct fx *f, void *arg)
{
	(void)arg;
	for (uint64_t pfn = 0; pfn < g_n; pfn++)
		assert_int_equal(p2m_raw(&f->p, pfn), g_layout[pfn]);
}

static void inject_build(void **state)
{
	(void)state;
	g_n = 2 * W + 7 * S + 100;
	g_layout = layout(g_n);
	assert_true(fx_inject_each(FX_INJECT_ALLOC, 3 * W, true, NULL, op_build, check_build,
				   NULL) >= 4);
	assert_true(fx_inject_each(FX_INJECT_MAP, 3 * W, true, NULL, op_build, check_build,
				   NULL) >= 4);
	free(g_layout);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(builds_a_layout),
		cmocka_unit_test(tails_and_uniform_runs),
		cmocka_unit_test(all_identity_window_costs_nothing),
		cmocka_unit_test(invalid_values_rejected),
		cmocka_unit_test(refusals),
		cmocka_unit_test(inject_build),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
