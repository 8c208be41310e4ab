/*
 * A walk of the tables Xen's dom0 builder made for an INIT_P2M list
 * (the L3 of its L4 slot and everything below), kept free of hypercalls
 * so that a hosted unit test can run it against tables laid out as Xen
 * lays them.
 *
 * Xen maps the list with the largest page that fits where it is
 * (xen/arch/x86/pv/dom0_build.c, setup_pv_physmap): a 1 GiB page when
 * the CPU has them, the VA is 1 GiB aligned and at least 1 GiB of list
 * is left; else a 2 MiB page under the same rules; else 4 KiB pages.
 * Any mix can therefore appear, and a superpage is aligned in machine
 * space but not in pfn space. Every frame involved, list page or table,
 * has a pfn in [first_p2m_pfn, first_p2m_pfn + nr_p2m_frames), and
 * together they account for that range exactly.
 *
 * The walk visits each present entry once; the tables it maps are read
 * through ops->map, which may hand out a scratch view.
 */
#ifndef GUEST_INIT_P2M_WALK_H
#define GUEST_INIT_P2M_WALK_H

#include <stdbool.h>
#include <stdint.h>

struct ipw_ops {
	void *ctx;
	/* A read-only view of the table in frame mfn (NULL: cannot map). */
	const uint64_t *(*map)(void *ctx, uint64_t mfn);
	void (*unmap)(void *ctx, const uint64_t *table);
	/* The M2P: false when mfn has no entry. */
	bool (*m2p)(void *ctx, uint64_t mfn, uint64_t *pfn);
	/* Optional (NULL: not called), in VA order: each leaf mapping, as
	 * `count` frames from `mfn` at page `page` counted from the L3's
	 * first address; each table frame. */
	void (*leaf)(void *ctx, uint64_t page, uint64_t mfn, uint64_t count);
	void (*table)(void *ctx, uint64_t mfn);
};

struct ipw_result {
	uint64_t tables;                /* L3, L2s and L1s */
	uint64_t pages;                 /* 4 KiB list frames mapped, in all */
	uint64_t pages_1g, pages_2m, pages_4k; /* leaf mappings by size */
	uint64_t outside;               /* frames whose pfn is outside the range */
	uint64_t bad_entries;           /* misaligned superpage, unmappable table */
};

/* Walk the tables below l3_mfn; the announced range is pfns [lo, hi).
 * Returns true when the mapping accounts for exactly that range: no
 * frame outside it, no bad entry, and pages + tables == hi - lo. */
bool init_p2m_walk(const struct ipw_ops *ops, uint64_t l3_mfn, uint64_t lo,
		   uint64_t hi, struct ipw_result *r);

#endif
