/*
 * Presenting an E820 plan (host side): the P2M it will cost, the JSON
 * document and the SVG picture that `p2m e820` writes.
 */
#ifndef HOST_E820_REPORT_H
#define HOST_E820_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "p2m/e820.h"

/* What the final list costs, counted per 512-pfn slot and 1 GiB window
 * from the plan's layout (which must be stored): a slot is shared if all
 * its pfns are identity, or all missing; else it needs a private leaf. A
 * window is shared if its 512 slots share one kind. libp2m keeps balloon
 * space on the shared missing page; Linux gives extra memory private
 * leaves (xen_inv_extra_mem), which is counted for comparison. */
struct plan_cost {
	uint64_t slots, windows;
	uint64_t private_leaves, private_windows;
	uint64_t meta_bytes;          /* kind map and window records */
	uint64_t bytes;               /* leaves, tables, frame lists (tree), meta */
	uint64_t linux_leaves, linux_windows, linux_bytes;
};

/* P2M kind of a category (RAM, identity or missing). */
enum p2m_kind plan_category_kind(enum p2m_e820_category c);

void plan_cost(const struct p2m_e820_plan *plan, bool tree, struct plan_cost *c);

/* The whole report as one JSON object. source: a sentence naming the map
 * used; input: the entries planned from (may be NULL). */
void plan_write_json(FILE *f, const struct p2m_e820_input *in,
		     const struct p2m_e820_plan *plan, const struct plan_cost *cost,
		     const char *source, int rc);

/* The pfn space as two bars (to scale; and with every range at least a
 * few pixels wide), a GiB axis under each, and a legend. */
void plan_write_svg(FILE *f, const struct p2m_e820_plan *plan, const char *title);

#endif
