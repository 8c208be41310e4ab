/*
 * The platform boundary: everything libp2m needs from its host.
 *
 * libp2m never issues a hypercall, never calls mmap and never allocates
 * memory by itself. Its host (the PV guest, or the hosted platform in
 * host/) fills this table. The model is a PV guest's: page frames named by
 * mfn, and a virtual window in which the list is mapped 4 KiB at a time,
 * 512 slots per page-table page.
 *
 * Vocabulary
 *   frame   a 4 KiB machine frame, named by its mfn
 *   slot    one 4 KiB page of the list window (512 entries, 2 MiB of guest)
 *   window  512 consecutive slots, 2 MiB of list VA, 1 GiB of guest; the
 *           guest maps a window through one L1 page-table page
 *   table   the frame that maps a window. A "shared" table maps one shared
 *           leaf at all 512 slots; a "private" table starts as a copy of a
 *           shared one, and single slots are then remapped in it.
 *
 * Invariants the platform must keep
 *   - map_frames() and set_window() change mappings atomically per 8-byte
 *     page-table entry, and a reader on another CPU sees either the old or
 *     the new mapping (the guest: mmu_update + TLB flush; the hosted
 *     platform: mmap(MAP_FIXED)).
 *   - A shared leaf is one frame, seen read-only at many addresses.
 *   - A failing call changes nothing and returns a negative P2M_E* code.
 *   - alloc_frames() never returns frame 0: libp2m's window records use 0
 *     for "no frame" (see the overview in p2m/p2m.h).
 *   - lock()/unlock() form one mutex; libp2m never calls into the platform
 *     while holding it except map_frames, set_window and root_table, and
 *     never allocates or frees under it.
 *
 * docs/porting.md takes the operations one by one (what each must
 * guarantee, what may fail) with the guest's and the hosted platform as
 * worked examples.
 */
#ifndef P2M_PLATFORM_H
#define P2M_PLATFORM_H

#include <stddef.h>
#include <stdint.h>

#include "p2m/xen.h"

#define P2M_MAP_RO 0u
#define P2M_MAP_RW 1u

struct p2m_platform {
	void *ctx;

	/* Allocate n frames (all or none). Contents undefined. */
	int (*alloc_frames)(void *ctx, size_t n, xen_pfn_t *mfns);
	/* Return frames that libp2m no longer maps anywhere. */
	void (*free_frames)(void *ctx, size_t n, const xen_pfn_t *mfns);

	/* A temporary writable view of a frame that is not a page table;
	 * NULL on failure. libp2m holds at most one view at a time and
	 * unmaps it before it returns. */
	void *(*frame_map)(void *ctx, xen_pfn_t mfn);
	void (*frame_unmap)(void *ctx, void *va);

	/* Reserve bytes of virtual space, aligned to 1 GiB (so the list
	 * starts at L2 index 0: Xen 4.17's saver trims the list by comparing
	 * L2 indices as if it did), nothing mapped yet; release() gives it
	 * back (and drops every mapping in it and every table under it).
	 * p2m_create() holds a second reservation, of one window, while it
	 * runs (the meta chain is built there): allow two at a time. */
	int (*reserve)(void *ctx, size_t bytes, void **base);
	void (*release)(void *ctx, void *base, size_t bytes);

	/* Make frame `table` a page table whose 512 entries map frame `leaf`
	 * read-only (the guest pins it as an L1). */
	int (*make_table)(void *ctx, xen_pfn_t table, xen_pfn_t leaf);
	/* The table is no longer referenced by any window (guest: unpin it).
	 * The frame is freed by libp2m afterwards. A no-op for a frame that
	 * make_table() never turned into a table. */
	void (*drop_table)(void *ctx, xen_pfn_t table);
	/* Point the window at va (2 MiB aligned) at `table`. */
	int (*set_window)(void *ctx, void *va, xen_pfn_t table);
	/* Map n frames at n consecutive slots from va. The window(s) holding
	 * them are backed by private tables. */
	int (*map_frames)(void *ctx, void *va, size_t n, const xen_pfn_t *mfns,
			  unsigned flags);

	/* The M2P: the pfn Xen records for mfn. -P2M_ERANGE for an mfn
	 * outside the table or in one of its holes. */
	int (*m2p)(void *ctx, xen_pfn_t mfn, xen_pfn_t *pfn);

	/* The frame of the top-level page table under which the list window
	 * is valid (published as p2m_cr3). */
	xen_pfn_t (*root_table)(void *ctx);

	void (*lock)(void *ctx);
	void (*unlock)(void *ctx);
};

#endif
