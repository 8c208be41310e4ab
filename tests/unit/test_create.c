/*
 * p2m_create / p2m_destroy: bad capacities and platforms are refused with
 * a message, the capacity is rounded up to a window, a fresh P2M reads
 * missing inside and identity beyond, every frame goes back at destroy,
 * and a failure injected at any allocation or mapping of create leaves
 * the platform exactly as it was.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "helper_p2m.h"

static void bad_capacity(void **state)
{
	struct fx f;

	(void)state;
	fx_platform(&f);
	assert_int_equal(p2m_create(&f.p, &f.plat, 0, true), -P2M_EINVAL);
	assert_non_null(strstr(p2m_last_error(&f.p), "capacity 0"));
	assert_int_equal(p2m_create(&f.p, &f.plat, P2M_CAPACITY_MAX + 1, true), -P2M_ERANGE);
	assert_non_null(strstr(p2m_last_error(&f.p), "capacity 0x800000001 pfns exceeds the maximum 0x800000000"));
	assert_int_equal(fx_live(&f), 0);
	/* Destroying what was never created is harmless. */
	p2m_destroy(&f.p);
	assert_int_equal(p2m_create(NULL, &f.plat, W, true), -P2M_EINVAL);
	fx_fini(&f);
}

static void rounding_and_fresh_contents(void **state)
{
	static const uint64_t asked[] = { 1, 511, W - 1, W, W + 1, 3 * W - 5 };

	(void)state;
	for (unsigned i = 0; i < sizeof(asked) / sizeof(asked[0]); i++) {
		struct fx f;
		uint64_t want = (asked[i] + W - 1) / W * W;
		struct p2m_stats st;

		fx_init(&f, asked[i], true);
		assert_int_equal(f.p.capacity, want);
		assert_string_equal(p2m_last_error(&f.p), "");
		for (uint64_t pfn = 0; pfn < want; pfn += 997)
			assert_int_equal(p2m_raw(&f.p, pfn), P2M_INVALID);
		assert_int_equal(p2m_raw(&f.p, want - 1), P2M_INVALID);
		assert_int_equal(p2m_raw(&f.p, want), p2m_identity_entry(want));
		assert_int_equal(p2m_mfn(&f.p, want + 12345), want + 12345);
		assert_int_equal(p2m_kind_of(&f.p, want), P2M_KIND_IDENTITY);
		assert_int_equal(p2m_max_pfn(&f.p), 0);
		assert_int_equal(p2m_generation(&f.p), 0);
		p2m_get_stats(&f.p, &st);
		assert_int_equal(st.private_leaves, 0);
		assert_int_equal(st.private_tables, 0);
		assert_int_equal(st.shared_windows, want / W);
		assert_int_equal(st.shared_slots, want / S);
		/* The top pfn is usable, the next one is not. */
		assert_int_equal(p2m_set(&f.p, want - 1, 0x11), 0);
		assert_int_equal(p2m_raw(&f.p, want - 1), 0x11);
		assert_int_equal(p2m_set(&f.p, want, 0x11), -P2M_ERANGE);
		fx_fini(&f);
	}
}

static void large_capacity(void **state)
{
	struct fx f;
	uint64_t cap = (uint64_t)1 << 32, live;

	(void)state;
	/* 16 TiB of guest for the price of its meta area. */
	fx_init(&f, cap, false);
	live = fx_live(&f);
	assert_true(live * 4096 < ((uint64_t)32 << 20));
	assert_int_equal(p2m_raw(&f.p, cap - 1), P2M_INVALID);
	assert_int_equal(p2m_set(&f.p, cap - 1, 0x1234), 0);
	assert_int_equal(p2m_set(&f.p, cap / 2 + 3, 0x1235), 0);
	assert_int_equal(p2m_raw(&f.p, cap - 1), 0x1234);
	assert_int_equal(p2m_raw(&f.p, cap / 2 + 3), 0x1235);
	assert_int_equal(p2m_max_pfn(&f.p), cap);
	assert_int_equal(fx_live(&f), live + 6);
	assert_int_equal(p2m_set_range_missing(&f.p, 0, cap), 0);
	assert_int_equal(fx_live(&f), live);
	fx_fini(&f);
}

#define OPS(X) X(alloc_frames) X(free_frames) X(frame_map) X(frame_unmap) X(reserve) \
	X(release) X(make_table) X(drop_table) X(set_window) X(map_frames) X(m2p) \
	X(root_table) X(lock) X(unlock)

static void platform_missing_an_op(void **state)
{
	struct fx f;
	struct p2m_platform pl;
	char want[64];

	(void)state;
	fx_platform(&f);
	assert_int_equal(p2m_create(&f.p, NULL, W, true), -P2M_EINVAL);
	assert_non_null(strstr(p2m_last_error(&f.p), "no platform"));
#define TRY(op)                                                                   \
	pl = f.plat;                                                              \
	pl.op = NULL;                                                             \
	assert_int_equal(p2m_create(&f.p, &pl, W, true), -P2M_ENOSYS);            \
	snprintf(want, sizeof(want), "lacks the operation %s", #op);              \
	if (!strstr(p2m_last_error(&f.p), want))                                  \
		fail_msg("\"%s\" does not name %s", p2m_last_error(&f.p), #op);   \
	assert_int_equal(fx_live(&f), 0);
	OPS(TRY)
#undef TRY
	fx_fini(&f);
}

static void destroy_returns_every_frame(void **state)
{
	struct fx f;
	struct hosted_stats before, after;
	struct arch_shared_info arch;

	(void)state;
	fx_platform(&f);
	hosted_get_stats(f.h, &before);
	assert_int_equal(p2m_create(&f.p, &f.plat, 4 * W, true), 0);
	f.created = true;
	for (uint64_t pfn = 0; pfn < 4 * W; pfn += 3001)
		assert_int_equal(p2m_set(&f.p, pfn, ram_of(pfn)), 0);
	assert_int_equal(p2m_set_range_identity(&f.p, W + 7, W), 0);
	p2m_publish(&f.p, &arch, false);
	fx_check_accounting(&f);
	p2m_destroy(&f.p);
	f.created = false;
	hosted_get_stats(f.h, &after);
	assert_int_equal(after.live_frames, 0);
	assert_int_equal(after.mappings, before.mappings);
	assert_int_equal(after.table_frames, before.table_frames);
	/* A second destroy does nothing. */
	p2m_destroy(&f.p);
	/* The platform can host a new P2M afterwards. */
	assert_int_equal(p2m_create(&f.p, &f.plat, W, true), 0);
	f.created = true;
	fx_fini(&f);
}

static void inject_create(void **state)
{
	(void)state;
	for (int what = 0; what < 2; what++) {
		unsigned failures = 0;

		for (uint64_t n = 1;; n++) {
			struct fx f;
			struct hosted_stats before, after;
			bool pending;
			int rc;

			assert_true(n < 10000);
			fx_platform(&f);
			hosted_get_stats(f.h, &before);
			if (what == 0)
				hosted_fail_nth_alloc(f.h, n);
			else
				hosted_fail_nth_map(f.h, n);
			rc = p2m_create(&f.p, &f.plat, 3 * W, true);
			pending = what == 0 ? hosted_alloc_failure_pending(f.h)
					    : hosted_map_failure_pending(f.h);
			hosted_fail_nth_alloc(f.h, 0);
			hosted_fail_nth_map(f.h, 0);
			if (pending) {
				assert_int_equal(rc, 0);
				f.created = true;
				assert_int_equal(p2m_set(&f.p, 5, 5), 0);
				fx_fini(&f);
				break;
			}
			failures++;
			if (rc != (what == 0 ? -P2M_ENOMEM : -P2M_EMAP))
				fail_msg("create with failure %llu: %d (%s)", (unsigned long long)n,
					 rc, p2m_last_error(&f.p));
			assert_true(p2m_last_error(&f.p)[0] != '\0');
			hosted_get_stats(f.h, &after);
			if (after.live_frames != 0 || after.mappings != before.mappings ||
			    after.table_frames != before.table_frames)
				fail_msg("failure %llu of %s: %llu frames live, %llu mappings (was %llu), %llu tables (was %llu)",
					 (unsigned long long)n, what ? "map" : "alloc",
					 (unsigned long long)after.live_frames,
					 (unsigned long long)after.mappings,
					 (unsigned long long)before.mappings,
					 (unsigned long long)after.table_frames,
					 (unsigned long long)before.table_frames);
			p2m_destroy(&f.p); /* a failed create leaves nothing to destroy */
			fx_fini(&f);
		}
		assert_true(failures >= 2);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(bad_capacity),
		cmocka_unit_test(rounding_and_fresh_contents),
		cmocka_unit_test(large_capacity),
		cmocka_unit_test(platform_missing_an_op),
		cmocka_unit_test(destroy_returns_every_frame),
		cmocka_unit_test(inject_create),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
