/*
 * Grant mappings: p2m_set_foreign maps only into missing pfns and either
 * maps all or changes nothing; p2m_clear_foreign clears every foreign
 * entry, goes on past a pfn that holds none and reports the first such.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "helper_p2m.h"

static void map_and_clear(void **state)
{
	struct fx f;
	uint64_t pfns[3] = { 5, W + 700, 2 * S + 1 }, mfns[3] = { 0x10, 0x20, 0x30 }, bad = 0;

	(void)state;
	fx_init(&f, 2 * W, true);
	assert_int_equal(p2m_set_foreign(&f.p, pfns, mfns, 3), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(p2m_raw(&f.p, pfns[i]), p2m_foreign_entry(mfns[i]));
		assert_int_equal(p2m_kind_of(&f.p, pfns[i]), P2M_KIND_FOREIGN);
		assert_int_equal(p2m_mfn(&f.p, pfns[i]), mfns[i]);
	}
	assert_int_equal(p2m_max_pfn(&f.p), W + 1024);
	assert_int_equal(p2m_clear_foreign(&f.p, pfns, 3, &bad), 0);
	assert_int_equal(bad, P2M_INVALID);
	for (int i = 0; i < 3; i++)
		assert_int_equal(p2m_raw(&f.p, pfns[i]), P2M_INVALID);
	assert_int_equal(p2m_set_foreign(&f.p, pfns, mfns, 0), 0);
	assert_int_equal(p2m_clear_foreign(&f.p, pfns, 0, NULL), 0);
	fx_fini(&f);
}

static void expect_refused(struct fx *f, const uint64_t *pfns, const uint64_t *mfns, size_t n,
			   int err, const char *needle)
{
	struct snap s;
	uint64_t live = fx_live(f);

	snap_take(f, &s);
	assert_int_equal(p2m_set_foreign(&f->p, pfns, mfns, n), -err);
	if (!strstr(p2m_last_error(&f->p), needle))
		fail_msg("\"%s\" lacks \"%s\"", p2m_last_error(&f->p), needle);
	snap_expect_same(f, &s);
	assert_int_equal(fx_live(f), live);
	snap_free(&s);
}

static void only_into_missing_all_or_nothing(void **state)
{
	struct fx f;
	uint64_t mfns[3] = { 0x10, 0x20, 0x30 };

	(void)state;
	fx_init(&f, 2 * W, true);
	assert_int_equal(p2m_set(&f.p, 100, 0x99), 0);
	assert_int_equal(p2m_set_range_identity(&f.p, W, S), 0);
	{
		uint64_t pfns[3] = { 7, W + 600, 100 };   /* the last one is RAM */
		expect_refused(&f, pfns, mfns, 3, P2M_EBUSY, "pfn 0x64 is not missing");
	}
	{
		uint64_t pfns[3] = { 7, W + 5, 8 };       /* identity */
		expect_refused(&f, pfns, mfns, 3, P2M_EBUSY, "pfn 0x40005 is not missing");
	}
	{
		uint64_t pfns[3] = { 7, 2 * W, 8 };       /* beyond */
		expect_refused(&f, pfns, mfns, 3, P2M_ERANGE, "pfn 0x80000 is beyond the capacity");
	}
	{
		uint64_t pfns[3] = { 7, 9, 7 };           /* twice */
		expect_refused(&f, pfns, mfns, 3, P2M_EINVAL, "both target pfn 0x7");
	}
	{
		uint64_t pfns[3] = { 7, 9, 11 }, big[3] = { 1, P2M_MFN_LIMIT, 2 };
		expect_refused(&f, pfns, big, 3, P2M_EINVAL, "mfn 0x10000000000 is not below");
	}
	{
		uint64_t pfns[1] = { 7 }, tagged[1] = { p2m_foreign_entry(3) };
		expect_refused(&f, pfns, tagged, 1, P2M_EINVAL, "grant 0");
	}
	fx_fini(&f);
}

static void clearing_goes_on_past_bad_pfns(void **state)
{
	struct fx f;
	uint64_t map[3] = { 3, 700, W + 1 }, mfns[3] = { 1, 2, 3 };
	uint64_t clear[6] = { 3, 10 /* missing */, 700, 2 * W + 5 /* beyond */, 11 /* RAM */, W + 1 };
	uint64_t bad = 0;

	(void)state;
	fx_init(&f, 2 * W, true);
	assert_int_equal(p2m_set(&f.p, 11, 0x1234), 0);
	assert_int_equal(p2m_set_foreign(&f.p, map, mfns, 3), 0);
	assert_int_equal(p2m_clear_foreign(&f.p, clear, 6, &bad), -P2M_EINVAL);
	assert_int_equal(bad, 10);
	assert_non_null(strstr(p2m_last_error(&f.p), "3 of 6 pfns"));
	assert_non_null(strstr(p2m_last_error(&f.p), "pfn 0xa"));
	assert_int_equal(p2m_raw(&f.p, 3), P2M_INVALID);
	assert_int_equal(p2m_raw(&f.p, 700), P2M_INVALID);
	assert_int_equal(p2m_raw(&f.p, W + 1), P2M_INVALID);
	assert_int_equal(p2m_raw(&f.p, 11), 0x1234);
	assert_int_equal(p2m_raw(&f.p, 10), P2M_INVALID);
	/* The report works without an out-parameter too. */
	assert_int_equal(p2m_clear_foreign(&f.p, clear + 4, 1, NULL), -P2M_EINVAL);
	assert_int_equal(p2m_raw(&f.p, 11), 0x1234);
	fx_fini(&f);
}

static const uint64_t g_pfns[4] = { 5, 3 * S + 1, W + 9, 2 * W + 3 * S };
static const uint64_t g_mfns[4] = { 0x11, 0x12, 0x13, 0x14 };

static void setup_foreign(struct fx *f, void *arg)
{
	(void)arg;
	assert_int_equal(p2m_set_range_identity(&f->p, W, W), 0);
	assert_int_equal(p2m_set_range_missing(&f->p, W, S), 0);
	assert_int_equal(p2m_set(&f->p, 2 * W + 1, 0x77), 0);
}

static int op_foreign(struct fx *f, void *arg)
{
	(void)arg;
	return p2m_set_foreign(&f->p, g_pfns, g_mfns, 4);
}

static void check_foreign(struct fx *f, void *arg)
{
	(void)arg;
	for (int i = 0; i < 4; i++)
		assert_int_equal(p2m_raw(&f->p, g_pfns[i]), p2m_foreign_entry(g_mfns[i]));
}

static void inject_foreign(void **state)
{
	(void)state;
	assert_true(fx_inject_each(FX_INJECT_ALLOC, 3 * W, true, setup_foreign, op_foreign,
				   check_foreign, NULL) >= 3);
	assert_true(fx_inject_each(FX_INJECT_MAP, 3 * W, true, setup_foreign, op_foreign,
				   check_foreign, NULL) >= 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(map_and_clear),
		cmocka_unit_test(only_into_missing_all_or_nothing),
		cmocka_unit_test(clearing_goes_on_past_bad_pfns),
		cmocka_unit_test(inject_foreign),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
