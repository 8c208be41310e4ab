/*
 * p2m_get_stats: counts of private leaves, tables, frame lists, shared
 * slots and windows follow every split and join, and bytes is the sum of
 * every frame libp2m holds (checked against the platform's live frames).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "helper_p2m.h"

static void follows_splits_and_joins(void **state)
{
	struct fx f;
	struct p2m_stats st, st0;

	(void)state;
	fx_init(&f, 4 * W, true);
	p2m_get_stats(&f.p, &st0);
	assert_int_equal(st0.private_leaves, 0);
	assert_int_equal(st0.private_tables, 0);
	assert_int_equal(st0.mid_pages, 0);
	assert_int_equal(st0.shared_pages, 5);
	assert_int_equal(st0.shared_slots, 4 * 512);
	assert_int_equal(st0.shared_windows, 4);
	assert_true(st0.meta_pages > 0);
	assert_int_equal(st0.bytes, (st0.meta_pages + 5) * 4096);

	assert_int_equal(p2m_set(&f.p, 1, 1), 0);
	assert_int_equal(p2m_set(&f.p, S + 1, 1), 0);
	assert_int_equal(p2m_set(&f.p, 3 * W + 1, 1), 0);
	p2m_get_stats(&f.p, &st);
	assert_int_equal(st.private_leaves, 3);
	assert_int_equal(st.private_tables, 2);
	assert_int_equal(st.mid_pages, 2);
	assert_int_equal(st.shared_slots, 4 * 512 - 3);
	assert_int_equal(st.shared_windows, 2);
	assert_int_equal(st.meta_pages, st0.meta_pages);
	assert_int_equal(st.bytes, st0.bytes + 7 * 4096);
	fx_check_accounting(&f);

	assert_int_equal(p2m_set_range_identity(&f.p, 0, S), 0);
	p2m_get_stats(&f.p, &st);
	assert_int_equal(st.private_leaves, 2);
	assert_int_equal(st.shared_slots, 4 * 512 - 2);
	assert_int_equal(p2m_set_range_missing(&f.p, 0, 4 * W), 0);
	p2m_get_stats(&f.p, &st);
	assert_int_equal(st.bytes, st0.bytes);
	assert_int_equal(st.shared_windows, 4);
	fx_check_accounting(&f);
	fx_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(follows_splits_and_joins),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
