/*
 * Shared by the parser fuzz targets: parse, check the error report, then
 * plan the first two maps found (of up to 256 entries; one as dom0, one as
 * domU, nr_pages taken from the input) and check the plans.
 */
#ifndef TESTS_FUZZ_E820_PARSE_COMMON_H
#define TESTS_FUZZ_E820_PARSE_COMMON_H

#include <stdlib.h>
#include <string.h>

#include "e820/e820_parse.h"
#include "e820_check.h"

static inline void fuzz_parse_and_plan(const uint8_t *data, size_t size,
				       enum memmap_format fmt)
{
	static struct plan_check_store store;
	static bool ready;
	struct memmaps maps = { 0 };
	struct memmap_error err;
	int rc;

	if (!ready) {
		plan_check_store_init(&store, 256);
		ready = true;
	}
	rc = memmap_parse((const char *)data, size, fmt, &maps, &err);
	if (rc == 0) {
		if (!maps.n)
			abort();
		/* The planner has its own target: plan the first two maps. */
		for (size_t i = 0; i < maps.n && i < 2; i++) {
			struct p2m_e820_input in;
			struct p2m_e820_plan plan;
			const struct memmap *m = &maps.v[i];

			if (m->n > 256)
				continue;
			p2m_e820_input_init(&in, i & 1);
			in.map = m->entries;
			in.nr_map = m->n;
			in.nr_pages = (size * 4099) & 0xfffff;
			in.max_pages = in.nr_pages * 2;
			plan_check_run(&in, &store, &plan);
		}
	} else if (rc == -P2M_EPARSE) {
		/* Every error names what was wrong. */
		if (!err.msg[0] || strlen(err.text) >= sizeof(err.text))
			abort();
	} else {
		abort();
	}
	memmaps_free(&maps);
}

#endif
