/*
 * Presenting a plan (host/e820/e820_report.c): the cost estimated from
 * the layout equals what libp2m really spends on a P2M built from the
 * same plan; the JSON output reads back through the JSON parser to the
 * same map; the SVG draws every range twice and names every category.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "e820/e820_parse.h"
#include "e820/e820_report.h"
#include "helper_p2m.h"
#include "p2m/e820.h"

#define GiB (1ull << 30)

struct planned {
	struct p2m_e820_entry m[16];
	struct p2m_e820_range map[40], layout[40], identity[40], release[40], extra[40];
	struct p2m_e820_remap remap[40];
	struct p2m_e820_input in;
	struct p2m_e820_plan p;
};

/* QEMU -m 6G as Xen hands it to dom0, 5 GiB allocated, 6 GiB maximum. */
static void plan_qemu(struct planned *x, uint64_t end)
{
	static const struct p2m_e820_entry m[] = {
		{ 0, 0x9fc00, 1 }, { 0x9fc00, 0x400, 2 }, { 0xf0000, 0x10000, 2 },
		{ 0x100000, 0xbfee0000, 1 }, { 0xbffe0000, 0x20000, 2 },
		{ 0xfec00000, 0x1000, 2 }, { 0xfee00000, 0x100000, 2 },
		{ 0xfffc0000, 0x40000, 2 }, { 0x100000000, 0xc0000000, 1 },
	};

	memcpy(x->m, m, sizeof(m));
	p2m_e820_input_init(&x->in, true);
	x->in.map = x->m;
	x->in.nr_map = sizeof(m) / sizeof(m[0]);
	x->in.nr_pages = 5 * GiB >> 12;
	x->in.max_pages = 6 * GiB >> 12;
	x->in.end = end;
	p2m_e820_plan_init(&x->p, x->map, 40);
	x->p.layout = x->layout;
	x->p.identity = x->identity;
	x->p.release = x->release;
	x->p.extra = x->extra;
	x->p.remap = x->remap;
	x->p.layout_cap = x->p.identity_cap = x->p.release_cap = x->p.extra_cap = 40;
	x->p.remap_cap = 40;
	assert_int_equal(p2m_e820_plan(&x->in, &x->p), 0);
}

static void cost_matches_libp2m(void **state)
{
	struct planned x;
	struct plan_cost c;
	struct p2m_stats st;
	struct fx f;

	(void)state;
	plan_qemu(&x, 16 * W);
	plan_cost(&x.p, false, &c);
	fx_init(&f, 16 * W, false);
	assert_int_equal(p2m_e820_apply(&f.p, &x.p), 0);
	for (size_t i = 0; i < x.p.nr_layout; i++)
		if (x.layout[i].kind == P2M_E820_C_RAM)
			for (uint64_t q = x.layout[i].start; q < x.layout[i].end; q++)
				assert_int_equal(p2m_set(&f.p, q, 0x1000000 + q), 0);
	for (size_t i = 0; i < x.p.nr_remap; i++)
		for (uint64_t k = 0; k < x.remap[i].count; k++)
			assert_int_equal(p2m_set(&f.p, x.remap[i].dst + k, 0x1000000 + x.remap[i].src + k), 0);
	p2m_get_stats(&f.p, &st);
	assert_int_equal(c.private_leaves, st.private_leaves);
	assert_int_equal(c.private_windows, st.private_tables);
	assert_int_equal(c.slots, 16 * W / S);
	/* Linux also gives the balloon space private leaves. */
	assert_true(x.p.pfns[P2M_E820_C_EXTRA] > 0);
	assert_true(c.linux_leaves >= c.private_leaves + x.p.pfns[P2M_E820_C_EXTRA] / S);
	fx_fini(&f);
}

static void json_round_trip(void **state)
{
	struct planned x;
	struct plan_cost c;
	struct memmaps maps = { 0 };
	struct memmap_error err;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	plan_qemu(&x, 0);
	plan_cost(&x.p, true, &c);
	f = open_memstream(&buf, &len);
	assert_non_null(f);
	plan_write_json(f, &x.in, &x.p, &c, "a \"quoted\" source", 0);
	fclose(f);
	assert_non_null(strstr(buf, "\"remap-source\": 262273"));
	assert_non_null(strstr(buf, "a \\\"quoted\\\" source"));
	assert_int_equal(memmap_parse(buf, len, MEMMAP_FMT_AUTO, &maps, &err), 0);
	assert_int_equal(maps.n, 1);
	assert_int_equal(maps.v[0].n, x.in.nr_map);
	assert_memory_equal(maps.v[0].entries, x.m, x.in.nr_map * sizeof(x.m[0]));
	memmaps_free(&maps);
	free(buf);
}

static size_t count(const char *s, const char *needle)
{
	size_t n = 0;

	for (; (s = strstr(s, needle)); s++)
		n++;
	return n;
}

static void svg_draws_everything(void **state)
{
	struct planned x;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	plan_qemu(&x, 0);
	f = open_memstream(&buf, &len);
	assert_non_null(f);
	plan_write_svg(f, &x.p, "title <&>");
	fclose(f);
	assert_non_null(strstr(buf, "<svg"));
	assert_non_null(strstr(buf, "</svg>"));
	assert_non_null(strstr(buf, "title &lt;&amp;&gt;"));
	/* Two bars of nr_layout ranges, each with its tooltip. */
	assert_int_equal(count(buf, "<title>"), 2 * x.p.nr_layout);
	assert_non_null(strstr(buf, "remapped RAM (moved frames): 262273 pfns"));
	assert_non_null(strstr(buf, "extra (balloon, missing)"));
	assert_non_null(strstr(buf, ">GiB<"));
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(cost_matches_libp2m),
		cmocka_unit_test(json_round_trip),
		cmocka_unit_test(svg_draws_everything),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
