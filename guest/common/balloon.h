/*
 * The balloon driver of a domU (balloon.c): follows `memory/target` (KiB)
 * in xenstore, gives frames back with XENMEM_decrease_reservation and
 * takes them with XENMEM_populate_physmap, up to the static maximum (the
 * top of the RAM in the domain's memory map: maxmem plus libxl's slack).
 * When the P2M's structure may change is the rule of docs/runtime.md.
 *
 * The model is one populated prefix: pfns [0, top) hold frames, pfns
 * [top, ceiling) are missing. Down takes the highest free frames of the
 * frame pool (the pool hands out the lowest first, so the top is free);
 * up populates from top. It runs on vCPU 0 only, with the other vCPUs
 * down (smp.h), so the frame pool needs no lock here.
 */
#ifndef GUEST_BALLOON_H
#define GUEST_BALLOON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "p2m/e820.h"

/* Take over the populated prefix and cover [0, ceiling) with max_pfn.
 * False (the balloon stays off) for dom0 or a map with holes below
 * nr_pages. */
bool balloon_init(void);
bool balloon_active(void);
/* (Re-)register the watch on memory/target: after xs_init, and again
 * after a restore into a new domain. */
void balloon_watch(void);
/* After a watch fired: follow memory/target. True if the reservation
 * changed (the caller runs the checks). */
bool balloon_poll(void);

/* The P2M compaction the rule allows: every whole slot above top goes
 * back to the shared missing page (generation moves, leaves freed). Its
 * report into line; true when it worked. */
bool balloon_compact(char *line, size_t cap);
/* The first pfn above the populated prefix (0 when inactive): missing
 * pfns of ours, e.g. for grant mappings. */
uint64_t balloon_top(void);
/* The static maximum in pfns (0 when inactive). */
uint64_t balloon_ceiling(void);
/* After a restore into a new domain: frames the restorer placed above
 * top (pfns given back during the live rounds) go back to Xen. */
void balloon_resume(void);

/* For the checks: the plan's layout with the balloon's state applied
 * (RAM below top, missing from top), or the plan's own when inactive. */
void balloon_layout(const struct p2m_e820_range **layout, size_t *n);
/* The `balloon` check's verdict and detail line. */
bool balloon_check(char *out, size_t cap);

#endif
