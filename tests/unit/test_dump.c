/*
 * The layout dump in Linux's debugfs format (" [0x0->0x9f] pfn", end
 * exclusive, lower-case hex), identity served by the shared page shown as
 * identity, foreign grouped with RAM as "pfn"; p2m_for_each_run over
 * sub-ranges and its early stop.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helper_p2m.h"

/* A small dom0-like layout in two windows. */
static void layout(struct fx *f)
{
	for (uint64_t pfn = 0; pfn < 0x9f; pfn++)
		assert_int_equal(p2m_set(&f->p, pfn, ram_of(pfn)), 0);
	assert_int_equal(p2m_set_range_identity(&f->p, 0x9f, 0x100 - 0x9f), 0);
	for (uint64_t pfn = 0x100; pfn < 0x3000; pfn++)
		assert_int_equal(p2m_set(&f->p, pfn, ram_of(pfn)), 0);
	assert_int_equal(p2m_set(&f->p, 0x3000, p2m_foreign_entry(5)), 0);
	/* A whole-slot identity run (shared page) up to the next window. */
	assert_int_equal(p2m_set_range_identity(&f->p, 0x3200, W - 0x3200 + 0x10), 0);
}

static void exact_text(void **state)
{
	struct fx f;
	char *d;

	(void)state;
	fx_init(&f, 2 * W, true);
	layout(&f);
	d = fx_dump(&f, 0);
	assert_string_equal(d,
			    " [0x0->0x9f] pfn\n"
			    " [0x9f->0x100] identity\n"
			    " [0x100->0x3001] pfn\n"
			    " [0x3001->0x3200] missing\n"
			    " [0x3200->0x40010] identity\n"
			    " [0x40010->0x80000] missing\n");
	free(d);
	d = fx_dump(&f, 0x100);
	assert_string_equal(d, " [0x0->0x9f] pfn\n [0x9f->0x100] identity\n");
	free(d);
	/* end beyond the capacity stops at the capacity. */
	d = fx_dump(&f, 100 * W);
	assert_non_null(d);
	assert_string_equal(d + strlen(d) - strlen(" [0x40010->0x80000] missing\n"),
			    " [0x40010->0x80000] missing\n");
	free(d);
	fx_fini(&f);
}

static void fresh_and_all_identity(void **state)
{
	struct fx f;
	char *d;

	(void)state;
	fx_init(&f, 3 * W, false);
	d = fx_dump(&f, 0);
	assert_string_equal(d, " [0x0->0xc0000] missing\n");
	free(d);
	assert_int_equal(p2m_set_range_identity(&f.p, 0, 3 * W), 0);
	d = fx_dump(&f, 0);
	assert_string_equal(d, " [0x0->0xc0000] identity\n");
	free(d);
	fx_fini(&f);
}

struct collect {
	uint64_t start[16], end[16];
	enum p2m_run_kind kind[16];
	int n, stop_after;
};

static int collect(void *arg, uint64_t start, uint64_t end, enum p2m_run_kind kind)
{
	struct collect *c = arg;

	assert_true(c->n < 16);
	c->start[c->n] = start;
	c->end[c->n] = end;
	c->kind[c->n] = kind;
	c->n++;
	return c->n == c->stop_after ? 42 : 0;
}

static void runs_over_sub_ranges(void **state)
{
	struct fx f;
	struct collect c = { .n = 0 };

	(void)state;
	fx_init(&f, 2 * W, true);
	layout(&f);
	assert_int_equal(p2m_for_each_run(&f.p, 0x50, 0x3100, collect, &c), 0);
	assert_int_equal(c.n, 4);
	assert_int_equal(c.start[0], 0x50);
	assert_int_equal(c.end[0], 0x9f);
	assert_int_equal(c.kind[0], P2M_RUN_PFN);
	assert_int_equal(c.kind[1], P2M_RUN_IDENTITY);
	assert_int_equal(c.start[2], 0x100);
	assert_int_equal(c.end[2], 0x3001);
	assert_int_equal(c.kind[3], P2M_RUN_MISSING);
	assert_int_equal(c.end[3], 0x3100);
	/* Early stop returns the callback's value. */
	c = (struct collect){ .n = 0, .stop_after = 2 };
	assert_int_equal(p2m_for_each_run(&f.p, 0, 2 * W, collect, &c), 42);
	assert_int_equal(c.n, 2);
	/* Empty range: no run. */
	c = (struct collect){ .n = 0 };
	assert_int_equal(p2m_for_each_run(&f.p, 7, 7, collect, &c), 0);
	assert_int_equal(c.n, 0);
	assert_string_equal(p2m_run_name(P2M_RUN_PFN), "pfn");
	assert_string_equal(p2m_run_name(P2M_RUN_IDENTITY), "identity");
	assert_string_equal(p2m_run_name(P2M_RUN_MISSING), "missing");
	fx_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(exact_text),
		cmocka_unit_test(fresh_and_all_identity),
		cmocka_unit_test(runs_over_sub_ranges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
