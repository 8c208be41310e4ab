/*
 * The hosted platform refuses, with -P2M_EMAP and a message naming the
 * numbers and the sysctl, a mapping change that would take the process
 * past vm.max_map_count (here an override), and changes nothing then.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "p2m/error.h"
#include "platform/hosted.h"

#define PAGE 4096u
#define WIN (512u * PAGE)

static uint64_t process_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	uint64_t n = 0;
	int c;

	assert_non_null(f);
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

static void alias_windows_hit_the_limit(void **state)
{
	struct hosted_config cfg = { .max_frames = 1024, .alias = 1 };
	struct hosted *h = hosted_create(&cfg, NULL, 0);
	struct p2m_platform p;
	struct hosted_stats before, after;
	xen_pfn_t leaf, table, m;
	uint8_t *base;
	void *b;
	unsigned set = 0;
	int rc = 0;

	(void)state;
	assert_non_null(h);
	hosted_platform(h, &p);
	assert_int_equal(p.reserve(p.ctx, 8 * WIN, &b), 0);
	base = b;
	assert_int_equal(p.alloc_frames(p.ctx, 1, &leaf), 0);
	assert_int_equal(p.alloc_frames(p.ctx, 1, &table), 0);
	assert_int_equal(p.make_table(p.ctx, table, leaf), 0);
	/* Room for about two aliased windows (512 mappings each) beyond
	 * what the process holds and the margin the platform keeps. */
	hosted_set_map_limit(h, process_maps() + HOSTED_MAP_MARGIN + 1200);
	while (set < 8 && (rc = p.set_window(p.ctx, base + (uint64_t)set * WIN, table)) == 0)
		set++;
	assert_int_equal(rc, -P2M_EMAP);
	assert_int_equal(set, 2);
	assert_non_null(strstr(hosted_last_error(h), "vm.max_map_count"));
	assert_non_null(strstr(hosted_last_error(h), "sysctl -w vm.max_map_count="));
	/* Nothing changed: the window is still unmapped, counts as before. */
	hosted_get_stats(h, &before);
	assert_int_equal(hosted_va_to_mfn(h, (uint64_t)base + 2 * WIN, &m, NULL), -P2M_ERANGE);
	assert_int_equal(p.set_window(p.ctx, base + 2 * WIN, table), -P2M_EMAP);
	hosted_get_stats(h, &after);
	assert_int_equal(before.mappings, after.mappings);
	/* With room again, it works. */
	hosted_set_map_limit(h, 1000000);
	assert_int_equal(p.set_window(p.ctx, base + 2 * WIN, table), 0);
	assert_int_equal(hosted_va_to_mfn(h, (uint64_t)base + 2 * WIN, &m, NULL), 0);
	assert_int_equal(m, leaf);
	hosted_destroy(h);
}

static void run_windows_cost_one_mapping_each(void **state)
{
	struct hosted *h = hosted_create(NULL, NULL, 0);
	struct p2m_platform p;
	struct hosted_stats st;
	xen_pfn_t leaf, table;
	const unsigned nwin = 1024;    /* 1 TiB of guest */
	uint8_t *base;
	void *b;

	(void)state;
	assert_non_null(h);
	hosted_platform(h, &p);
	assert_int_equal(p.reserve(p.ctx, (size_t)nwin * WIN, &b), 0);
	base = b;
	assert_int_equal(p.alloc_frames(p.ctx, 1, &leaf), 0);
	assert_int_equal(p.alloc_frames(p.ctx, 1, &table), 0);
	assert_int_equal(p.make_table(p.ctx, table, leaf), 0);
	/* A limit that 512 mappings per window would break many times over. */
	hosted_set_map_limit(h, process_maps() + HOSTED_MAP_MARGIN + nwin + 16);
	for (unsigned w = 0; w < nwin; w++)
		assert_int_equal(p.set_window(p.ctx, base + (uint64_t)w * WIN, table), 0);
	hosted_get_stats(h, &st);
	assert_true(st.mappings <= nwin);
	assert_int_equal(st.run_frames, 512);
	assert_true(process_maps() <= st.map_limit);
	hosted_destroy(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(alias_windows_hit_the_limit),
		cmocka_unit_test(run_windows_cost_one_mapping_each),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
