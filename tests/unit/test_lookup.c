/*
 * Lookups: p2m_raw, p2m_mfn and p2m_kind_of for RAM, missing, identity
 * (in a shared slot, where every pfn still reads its own value, and in a
 * private leaf) and foreign entries; pfns beyond the capacity are
 * identity; a RAM mfn equal to its pfn stays RAM.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "helper_p2m.h"

static void kinds_and_mfns(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f, 2 * W, true);
	assert_int_equal(p2m_set(&f.p, 10, 0xabc), 0);
	assert_int_equal(p2m_set(&f.p, 11, p2m_foreign_entry(0xdef)), 0);
	assert_int_equal(p2m_set(&f.p, 12, p2m_identity_entry(12)), 0);
	assert_int_equal(p2m_set(&f.p, 13, 13), 0); /* RAM whose mfn is its pfn */

	assert_int_equal(p2m_kind_of(&f.p, 10), P2M_KIND_RAM);
	assert_int_equal(p2m_mfn(&f.p, 10), 0xabc);
	assert_int_equal(p2m_kind_of(&f.p, 11), P2M_KIND_FOREIGN);
	assert_int_equal(p2m_mfn(&f.p, 11), 0xdef);
	assert_int_equal(p2m_raw(&f.p, 11), P2M_FOREIGN_BIT | 0xdef);
	assert_int_equal(p2m_kind_of(&f.p, 12), P2M_KIND_IDENTITY);
	assert_int_equal(p2m_mfn(&f.p, 12), 12);
	assert_int_equal(p2m_kind_of(&f.p, 13), P2M_KIND_RAM);
	assert_int_equal(p2m_mfn(&f.p, 13), 13);
	/* Missing in a private leaf and in a shared slot. */
	assert_int_equal(p2m_kind_of(&f.p, 14), P2M_KIND_MISSING);
	assert_int_equal(p2m_mfn(&f.p, 14), P2M_INVALID);
	assert_int_equal(p2m_kind_of(&f.p, W + 14), P2M_KIND_MISSING);
	fx_fini(&f);
}

static void identity_in_shared_slots_is_per_pfn(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f, 2 * W, true);
	assert_int_equal(p2m_set_range_identity(&f.p, S, 3 * S), 0);     /* slots */
	assert_int_equal(p2m_set_range_identity(&f.p, W, W), 0);         /* window */
	for (uint64_t pfn = S; pfn < 4 * S; pfn++)
		assert_int_equal(p2m_raw(&f.p, pfn), p2m_identity_entry(pfn));
	for (uint64_t pfn = W; pfn < 2 * W; pfn += 13)
		assert_int_equal(p2m_raw(&f.p, pfn), p2m_identity_entry(pfn));
	assert_int_equal(p2m_raw(&f.p, S - 1), P2M_INVALID);
	assert_int_equal(p2m_raw(&f.p, 4 * S), P2M_INVALID);
	/* The list itself holds ~0 there: the kind map tells identity. */
	assert_int_equal(f.p.list[S + 5], P2M_INVALID);
	assert_int_equal(f.p.kinds[1], P2M_SLOT_IDENTITY);
	fx_fini(&f);
}

static void beyond_capacity_is_identity(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f, W, false);
	for (uint64_t pfn = W; pfn < W + 5000; pfn += 7) {
		assert_int_equal(p2m_raw(&f.p, pfn), p2m_identity_entry(pfn));
		assert_int_equal(p2m_mfn(&f.p, pfn), pfn);
		assert_int_equal(p2m_kind_of(&f.p, pfn), P2M_KIND_IDENTITY);
	}
	assert_int_equal(p2m_mfn(&f.p, (uint64_t)1 << 40), (uint64_t)1 << 40);
	fx_fini(&f);
}

static void entry_helpers(void **state)
{
	(void)state;
	assert_int_equal(p2m_entry_kind(P2M_INVALID), P2M_KIND_MISSING);
	assert_int_equal(p2m_entry_kind(P2M_FOREIGN_BIT | 5), P2M_KIND_FOREIGN);
	assert_int_equal(p2m_entry_kind(P2M_IDENTITY_BIT | 5), P2M_KIND_IDENTITY);
	assert_int_equal(p2m_entry_kind(5), P2M_KIND_RAM);
	assert_int_equal(p2m_entry_mfn(P2M_INVALID), P2M_INVALID);
	assert_int_equal(p2m_entry_mfn(P2M_FOREIGN_BIT | 5), 5);
	assert_int_equal(p2m_entry_mfn(P2M_IDENTITY_BIT | 5), 5);
	assert_int_equal(p2m_entry_mfn(P2M_MFN_LIMIT - 1), P2M_MFN_LIMIT - 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(kinds_and_mfns),
		cmocka_unit_test(identity_in_shared_slots_is_per_pfn),
		cmocka_unit_test(beyond_capacity_is_identity),
		cmocka_unit_test(entry_helpers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
