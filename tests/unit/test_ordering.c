/*
 * What a lock-free reader (the toolstack, another CPU) may see while a
 * call runs, checked at the platform calls the call makes:
 *   - p2m_set raises max_pfn before it stores a RAM value, so no RAM pfn
 *     is ever found at or above max_pfn (internal and published);
 *   - p2m_build fills every leaf before it maps it, so no reader sees a
 *     leaf's stale contents.
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

static uint64_t watched;
static unsigned samples;

/* Sampled at every lock(): note_pfn raises max_pfn under the lock. */
static void sample_max_pfn(struct ff *x)
{
	uint64_t e = p2m_raw(&x->f.p, watched);

	samples++;
	if (e == P2M_INVALID || (e & P2M_IDENTITY_BIT) == P2M_IDENTITY_BIT)
		return;
	if (watched >= p2m_max_pfn(&x->f.p) || watched >= x->arch.max_pfn)
		fail_msg("pfn %#llx already reads %#llx while max_pfn is %#llx (published %#llx)",
			 (unsigned long long)watched, (unsigned long long)e,
			 (unsigned long long)p2m_max_pfn(&x->f.p),
			 (unsigned long long)x->arch.max_pfn);
}

static void max_pfn_raised_before_the_store(void **state)
{
	struct ff x;

	(void)state;
	ff_init(&x, 2 * W, true);
	assert_int_equal(p2m_prepare(&x.f.p, W + 3 * S), 0);
	assert_int_equal(p2m_publish(&x.f.p, &x.arch, false), 0);
	x.on_lock = sample_max_pfn;
	samples = 0;
	/* Into a private slot: the only lock taken is the raise's. */
	watched = W + 3 * S + 5;
	assert_int_equal(p2m_set(&x.f.p, watched, 0x1234), 0);
	assert_true(samples >= 1);
	/* Into a shared slot: a split first, then the raise. */
	watched = W + 9 * S + 1;
	assert_int_equal(p2m_set(&x.f.p, watched, p2m_foreign_entry(0x42)), 0);
	sample_max_pfn(&x);
	assert_int_equal(p2m_max_pfn(&x.f.p), W + 10 * S);
	x.on_lock = NULL;
	ff_fini(&x);
}

static const uint64_t *build_list;
static uint64_t build_n;
static unsigned leaves_checked;

/* Every frame mapped read-write at a list slot during the build already
 * holds the slot's values. */
static void check_filled(struct ff *x, void *va, size_t n, const xen_pfn_t *mfns,
			 unsigned flags)
{
	uint64_t *list = x->f.p.list, buf[P2M_PER_PAGE];

	if (flags != P2M_MAP_RW || !build_list || (uint64_t *)va < list ||
	    (uint64_t *)va >= list + x->f.p.capacity)
		return; /* not a leaf of the list (a frame list, meta pages) */
	for (size_t i = 0; i < n; i++) {
		uint64_t base = (uint64_t)((uint64_t *)va - list) + i * P2M_PER_PAGE;

		assert_int_equal(hosted_read_frame(x->f.h, ff_hosted(x, mfns[i]), buf), 0);
		for (unsigned j = 0; j < P2M_PER_PAGE; j++) {
			uint64_t want = base + j < build_n ? build_list[base + j] : P2M_INVALID;

			if (buf[j] != want)
				fail_msg("leaf for pfn %#llx mapped holding %#llx, not %#llx",
					 (unsigned long long)(base + j), (unsigned long long)buf[j],
					 (unsigned long long)want);
		}
		leaves_checked++;
	}
}

static void build_fills_leaves_before_mapping(void **state)
{
	uint64_t n = W + 5 * S + 100;
	uint64_t *v = malloc(n * sizeof(uint64_t));
	struct ff x;

	(void)state;
	assert_non_null(v);
	for (uint64_t pfn = 0; pfn < n; pfn++)
		v[pfn] = 0x100000000ull + pfn * 3;
	ff_init(&x, 2 * W, true);
	build_list = v;
	build_n = n;
	leaves_checked = 0;
	x.on_map = check_filled;
	assert_int_equal(p2m_build(&x.f.p, v, n), 0);
	x.on_map = NULL;
	build_list = NULL;
	assert_int_equal(leaves_checked, n / S + 1);
	for (uint64_t pfn = 0; pfn < n; pfn++)
		assert_int_equal(p2m_raw(&x.f.p, pfn), v[pfn]);
	ff_fini(&x);
	free(v);
}

/* A published P2M has readers: build refuses it. */
static void build_refuses_a_published_p2m(void **state)
{
	uint64_t v[3] = { 5, 6, 7 };
	struct ff x;

	(void)state;
	ff_init(&x, W, true);
	assert_int_equal(p2m_publish(&x.f.p, &x.arch, false), 0);
	assert_int_equal(p2m_build(&x.f.p, v, 3), -P2M_EBUSY);
	assert_non_null(strstr(p2m_last_error(&x.f.p), "publish"));
	assert_int_equal(p2m_raw(&x.f.p, 0), P2M_INVALID);
	ff_fini(&x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(max_pfn_raised_before_the_store),
		cmocka_unit_test(build_fills_leaves_before_mapping),
		cmocka_unit_test(build_refuses_a_published_p2m),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
