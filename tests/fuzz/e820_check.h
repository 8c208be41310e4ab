/*
 * Invariants of an E820 plan, checked against the input by an independent
 * per-page model. Used by the fuzzers on every input and by the unit
 * tests. A violation prints what broke and aborts (the fuzzer's finding).
 */
#ifndef TESTS_E820_CHECK_H
#define TESTS_E820_CHECK_H

#include "p2m/e820.h"

/* Lists with room for any plan of an input of up to max_entries. */
struct plan_check_store {
	struct p2m_e820_range *map, *layout, *identity, *release, *extra;
	struct p2m_e820_remap *remap;
	struct p2m_e820_conflict *conflicts;
	size_t cap;
};

void plan_check_store_init(struct plan_check_store *s, size_t max_entries);
void plan_check_store_free(struct plan_check_store *s);
void plan_check_plan_init(struct plan_check_store *s, struct p2m_e820_plan *plan);

/* Plan in and check every invariant; returns p2m_e820_plan's result. */
int plan_check_run(const struct p2m_e820_input *in,
			struct plan_check_store *s, struct p2m_e820_plan *plan);

/* Check a finished plan (rc 0 or -P2M_ECONFLICT) against its input. */
void plan_check(const struct p2m_e820_input *in, const struct p2m_e820_plan *plan);

#endif
