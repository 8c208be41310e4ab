/*
 * The hosted platform's frame store and M2P: allocation failure
 * injection, running out of frames, freeing punches memory back out of
 * the memfd, bad frees are refused, and the M2P answers only what was set.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "p2m/error.h"
#include "platform/hosted.h"

#define PAGE 4096u
#define WIN (512u * PAGE)

static struct hosted *h;
static struct p2m_platform p;

static int setup(void **state)
{
	struct hosted_config cfg = { .max_frames = 1024, .m2p_entries = 1 << 24 };

	(void)state;
	h = hosted_create(&cfg, NULL, 0);
	hosted_platform(h, &p);
	return h ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	hosted_destroy(h);
	return 0;
}

static void injected_allocation_failure(void **state)
{
	xen_pfn_t m[4];
	struct hosted_stats st;

	(void)state;
	hosted_fail_nth_alloc(h, 2);
	assert_true(hosted_alloc_failure_pending(h));
	assert_int_equal(p.alloc_frames(p.ctx, 1, &m[0]), 0);
	assert_int_equal(p.alloc_frames(p.ctx, 2, &m[1]), -P2M_ENOMEM);
	assert_non_null(strstr(hosted_last_error(h), "injected"));
	assert_false(hosted_alloc_failure_pending(h));
	hosted_get_stats(h, &st);
	assert_int_equal(st.live_frames, 1);       /* all or none */
	assert_int_equal(p.alloc_frames(p.ctx, 3, &m[1]), 0);   /* fires once */
	p.free_frames(p.ctx, 4, m);
	hosted_get_stats(h, &st);
	assert_int_equal(st.live_frames, 0);
}

static void injected_mapping_failure_changes_nothing(void **state)
{
	xen_pfn_t leaf, table, m;
	void *base;

	(void)state;
	assert_int_equal(p.alloc_frames(p.ctx, 1, &leaf), 0);
	assert_int_equal(p.alloc_frames(p.ctx, 1, &table), 0);
	assert_int_equal(p.make_table(p.ctx, table, leaf), 0);
	assert_int_equal(p.reserve(p.ctx, WIN, &base), 0);
	hosted_fail_nth_map(h, 1);
	assert_int_equal(p.set_window(p.ctx, base, table), -P2M_EMAP);
	assert_int_equal(hosted_va_to_mfn(h, (uint64_t)base, &m, NULL), -P2M_ERANGE);
	assert_int_equal(p.set_window(p.ctx, base, table), 0);
	assert_int_equal(hosted_va_to_mfn(h, (uint64_t)base, &m, NULL), 0);
	p.release(p.ctx, base, WIN);
	p.drop_table(p.ctx, table);
	p.free_frames(p.ctx, 1, &table);
	p.free_frames(p.ctx, 1, &leaf);
}

static void out_of_frames(void **state)
{
	static xen_pfn_t m[2048];
	struct hosted_stats st;

	(void)state;
	/* 1024 frames, one of them the root L4. */
	assert_int_equal(p.alloc_frames(p.ctx, 1024, m), -P2M_ENOMEM);
	assert_non_null(strstr(hosted_last_error(h), "out of frames"));
	assert_int_equal(p.alloc_frames(p.ctx, 1023, m), 0);
	p.free_frames(p.ctx, 1023, m);
	hosted_get_stats(h, &st);
	assert_int_equal(st.live_frames, 0);
	/* Freed frames are reused. */
	assert_int_equal(p.alloc_frames(p.ctx, 1023, m), 0);
	p.free_frames(p.ctx, 1023, m);
}

static void freeing_punches_memory_back(void **state)
{
	static xen_pfn_t m[256];
	struct hosted_stats st0, st1, st2;

	(void)state;
	hosted_get_stats(h, &st0);
	assert_int_equal(p.alloc_frames(p.ctx, 256, m), 0);
	for (unsigned i = 0; i < 256; i++) {
		uint64_t *v = p.frame_map(p.ctx, m[i]);

		assert_non_null(v);
		v[i] = i + 1;
		p.frame_unmap(p.ctx, v);
	}
	hosted_get_stats(h, &st1);
	assert_int_equal(st1.memfd_bytes - st0.memfd_bytes, 256 * PAGE);
	assert_int_equal(st1.live_frames, 256);
	p.free_frames(p.ctx, 256, m);
	hosted_get_stats(h, &st2);
	assert_int_equal(st2.memfd_bytes, st0.memfd_bytes);
	assert_int_equal(st2.live_frames, 0);
	/* A reused frame comes back zeroed by the hole. */
	assert_int_equal(p.alloc_frames(p.ctx, 1, m), 0);
	{
		uint64_t *v = p.frame_map(p.ctx, m[0]);

		assert_non_null(v);
		for (unsigned i = 0; i < 512; i++)
			assert_int_equal(v[i], 0);
		p.frame_unmap(p.ctx, v);
	}
	p.free_frames(p.ctx, 1, m);
}

static void bad_frees_and_maps_are_refused(void **state)
{
	xen_pfn_t m, root = p.root_table(p.ctx);
	struct hosted_stats st;

	(void)state;
	assert_int_equal(p.alloc_frames(p.ctx, 1, &m), 0);
	p.free_frames(p.ctx, 1, &m);
	p.free_frames(p.ctx, 1, &m);                 /* double free */
	assert_non_null(strstr(hosted_last_error(h), "not allocated"));
	p.free_frames(p.ctx, 1, &root);              /* the platform's own */
	assert_non_null(strstr(hosted_last_error(h), "platform itself"));
	hosted_get_stats(h, &st);
	assert_int_equal(st.live_frames, 0);
	assert_null(p.frame_map(p.ctx, m));
	assert_null(p.frame_map(p.ctx, 5));
	assert_false(hosted_is_frame(h, m));
	assert_true(hosted_is_frame(h, root));
}

static void m2p_answers_only_what_was_set(void **state)
{
	xen_pfn_t pfn;

	(void)state;
	assert_int_equal(p.m2p(p.ctx, 0x1234, &pfn), -P2M_ERANGE);      /* never set */
	assert_int_equal(hosted_m2p_set(h, 0x1234, 0), 0);
	assert_int_equal(p.m2p(p.ctx, 0x1234, &pfn), 0);
	assert_int_equal(pfn, 0);
	assert_int_equal(hosted_m2p_set(h, 0x1235, 0xfffff), 0);
	assert_int_equal(p.m2p(p.ctx, 0x1235, &pfn), 0);
	assert_int_equal(pfn, 0xfffff);
	assert_int_equal(hosted_m2p_clear(h, 0x1234), 0);
	assert_int_equal(p.m2p(p.ctx, 0x1234, &pfn), -P2M_ERANGE);
	assert_int_equal(p.m2p(p.ctx, 1 << 24, &pfn), -P2M_ERANGE);     /* outside */
	assert_int_equal(hosted_m2p_set(h, 1 << 24, 1), -P2M_ERANGE);
	assert_non_null(strstr(hosted_last_error(h), "outside the M2P"));
}

static void bad_configuration_is_explained(void **state)
{
	struct hosted_config cfg = { .max_frames = (uint64_t)1 << 40 };
	char err[256];

	(void)state;
	assert_null(hosted_create(&cfg, err, sizeof(err)));
	assert_non_null(strstr(err, "max_frames"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(injected_allocation_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(injected_mapping_failure_changes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(out_of_frames, setup, teardown),
		cmocka_unit_test_setup_teardown(freeing_punches_memory_back, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_frees_and_maps_are_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(m2p_answers_only_what_was_set, setup, teardown),
		cmocka_unit_test(bad_configuration_is_explained),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
