/*
 * The guest's implementation of libp2m's platform (include/p2m/platform.h)
 * and the reservations of virtual space it hands out.
 *
 * A reservation is one free L4 slot (512 GiB of VA) of the guest's root
 * table, with its own L3 and as many L2s as the reserved bytes need (one
 * per GiB). libp2m's windows are L2 entries; its tables are L1s pinned
 * by make_table(). Reservations are never in the initial mapping's slot,
 * in Xen's slots (L4_SLOT_XEN_FIRST-LAST, 256-271, arch/x86_64/pt.h) or
 * in the INIT_P2M slot (1) while that exists.
 */
#ifndef GUEST_PLATFORM_H
#define GUEST_PLATFORM_H

#include "p2m/platform.h"

/* Frames: pfn -> mfn as the boot currently knows it (the initial list,
 * then the P2M). Set before the first allocation. */
extern uint64_t (*platform_pfn_to_mfn)(uint64_t pfn);

void platform_init(struct p2m_platform *plat);

/* Around SHUTDOWN_suspend: the reservations' table frames become pfns,
 * and back to (new) mfns afterwards. */
void platform_suspend(void);
void platform_resume(void);

/* Lowest L4 slot reservations may use. */
#define RESV_FIRST_SLOT 2u

/* Counters the checks read. */
struct platform_stats {
	uint64_t allocs, frees;          /* frames */
	uint64_t bad_frees;              /* frees of an mfn not ours or already free */
	uint64_t tables_made, tables_dropped;
	uint64_t lock_errors;
};
extern struct platform_stats platform_stats;

#endif
