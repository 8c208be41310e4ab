/*
 * p2m_mfn_to_pfn: accepted only on a round trip through the P2M; an mfn
 * whose own number is an identity pfn answers itself; foreign frames,
 * stale M2P entries and mfns beyond the limit fail. (The mfns used are
 * below the capacity: an mfn beyond it names an identity pfn and so
 * answers itself, as in Linux.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "helper_p2m.h"

static void round_trip(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f, 2 * W, false);
	assert_int_equal(p2m_set(&f.p, 0x1234, 0x7777), 0);
	assert_int_equal(hosted_m2p_set(f.h, 0x7777, 0x1234), 0);
	assert_int_equal(p2m_mfn_to_pfn(&f.p, 0x7777), 0x1234);
	/* Stale: the M2P still names the pfn, the P2M moved on. */
	assert_int_equal(p2m_set(&f.p, 0x1234, 0x7778), 0);
	assert_int_equal(p2m_mfn_to_pfn(&f.p, 0x7777), P2M_INVALID);
	/* An M2P entry pointing beyond the capacity. */
	assert_int_equal(hosted_m2p_set(f.h, 0x7779, 5 * W), 0);
	assert_int_equal(p2m_mfn_to_pfn(&f.p, 0x7779), P2M_INVALID);
	/* Not in the M2P at all. */
	assert_int_equal(p2m_mfn_to_pfn(&f.p, 0x7780), P2M_INVALID);
	/* A stale mfn numbered beyond the capacity is taken for 1:1. */
	assert_int_equal(p2m_mfn_to_pfn(&f.p, 2 * W + 0x10), 2 * W + 0x10);
	assert_int_equal(p2m_mfn_to_pfn(&f.p, P2M_MFN_LIMIT), P2M_INVALID);
	assert_int_equal(p2m_mfn_to_pfn(&f.p, P2M_INVALID), P2M_INVALID);
	fx_fini(&f);
}

static void identity_fallback(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f, 2 * W, false);
	assert_int_equal(p2m_set_range_identity(&f.p, 0xa0, 0x60), 0);
	assert_int_equal(p2m_mfn_to_pfn(&f.p, 0xa5), 0xa5);
	assert_int_equal(p2m_mfn_to_pfn(&f.p, 0x9f), P2M_INVALID);
	/* Beyond the capacity every pfn is identity. */
	assert_int_equal(p2m_mfn_to_pfn(&f.p, 2 * W + 5), 2 * W + 5);
	/* A 1:1 frame whose M2P names a pfn that does not map it back. */
	assert_int_equal(hosted_m2p_set(f.h, 0xa6, 0x3000), 0);
	assert_int_equal(p2m_mfn_to_pfn(&f.p, 0xa6), 0xa6);
	fx_fini(&f);
}

static void foreign_frames_fail(void **state)
{
	struct fx f;
	uint64_t pfn = 77, mfn = 0x8888;

	(void)state;
	fx_init(&f, W, false);
	assert_int_equal(p2m_set_foreign(&f.p, &pfn, &mfn, 1), 0);
	assert_int_equal(hosted_m2p_set(f.h, mfn, pfn), 0);
	assert_int_equal(p2m_mfn_to_pfn(&f.p, mfn), P2M_INVALID);
	fx_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(round_trip),
		cmocka_unit_test(identity_fallback),
		cmocka_unit_test(foreign_frames_fail),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
