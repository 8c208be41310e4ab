/*
 * Page tables under the PV rules.
 *
 * Every page-table frame is read-only wherever the guest maps it; Xen
 * validates and writes entries for us (mmu_update on the entry's machine
 * address, update_va_mapping for one VA, mmuext_op to pin, unpin and
 * flush). A frame becomes a table by being pinned (or referenced from a
 * live table) and stops being one when unpinned and unreferenced.
 *
 * The guest reads a table it did not map itself (Xen's INIT_P2M tables,
 * or any table by mfn) through a scratch slot: a page of our own .bss
 * whose PTE is pointed at another frame for a moment, then restored.
 */
#ifndef GUEST_PT_H
#define GUEST_PT_H

#include <stdbool.h>
#include <stdint.h>

#include "p2m/xen.h"

#define PTE_P   0x001ull
#define PTE_RW  0x002ull
#define PTE_US  0x004ull
#define PTE_A   0x020ull
#define PTE_D   0x040ull
#define PTE_PSE 0x080ull
#define PTE_NX  (1ull << 63)
#define PTE_ADDR 0x000ffffffffff000ull

/* Upper-level entries, as Xen's and libxc's builders write them. */
#define PTE_TABLE (PTE_P | PTE_RW | PTE_US | PTE_A | PTE_D)
#define PTE_LEAF_RW (PTE_P | PTE_RW | PTE_US | PTE_A | PTE_D)
#define PTE_LEAF_RO (PTE_P | PTE_US | PTE_A)

#define PT_ENTRIES 512u

/*
 * What one entry of each level spans. An L2 entry maps 2 MiB (one L1
 * table, or a 2 MiB superpage: what libp2m calls a window), an L3 entry
 * 1 GiB (one L2, or a 1 GiB superpage), an L4 entry, an "L4 slot",
 * 512 GiB (one L3). In bytes of VA, and in pfns.
 */
#define SUPERPAGE_2M_SHIFT 21
#define SUPERPAGE_2M       (1ull << SUPERPAGE_2M_SHIFT)
#define SUPERPAGE_1G_SHIFT 30
#define SUPERPAGE_1G       (1ull << SUPERPAGE_1G_SHIFT)
#define L4_SLOT_SHIFT      39
#define L4_SLOT_BYTES      (1ull << L4_SLOT_SHIFT)
#define SUPERPAGE_2M_PFN_SHIFT (SUPERPAGE_2M_SHIFT - 12)   /* 9 */
#define SUPERPAGE_1G_PFN_SHIFT (SUPERPAGE_1G_SHIFT - 12)   /* 18 */
#define L4_SLOT_PFN_SHIFT      (L4_SLOT_SHIFT - 12)        /* 27 */

/* L4 slots from 256 up hold the upper half of the address space (their
 * VAs are sign-extended); Xen keeps 256-271 for itself. */
#define L4_SLOT_UPPER_HALF 256u
#define L4_SLOT_XEN_FIRST  256u
#define L4_SLOT_XEN_LAST   271u

static inline uint64_t pte_mfn(uint64_t e)
{
	return (e & PTE_ADDR) >> 12;
}

static inline unsigned pt_index(uint64_t va, int level)
{
	return (unsigned)(va >> (12 + 9 * (level - 1))) & 511u;
}

/* Canonical VA of L4 slot s (sign-extended). */
static inline uint64_t l4_slot_va(unsigned s)
{
	uint64_t va = (uint64_t)s << L4_SLOT_SHIFT;

	return (s & L4_SLOT_UPPER_HALF) ? (va | 0xffff000000000000ull) : va;
}

/* Set up: the root table and the scratch slots. `initial_list` is
 * start_info's mfn_list (pfn -> mfn of the boot image). */
void pt_init(const uint64_t *initial_list);

xen_pfn_t pt_root_mfn(void);

/* Around SHUTDOWN_suspend: the frames pt.c records become pfns, and back
 * to (new) mfns through pfn_to_mfn afterwards. */
void pt_suspend(void);
void pt_resume(uint64_t (*pfn_to_mfn)(uint64_t pfn));

/* A temporary view of a frame: rw for a frame that is not a page table,
 * read-only for anything. NULL when every scratch slot is busy or Xen
 * refuses the mapping. */
void *pt_map(xen_pfn_t mfn, bool rw);
void pt_unmap(void *va);

/* Result of a walk: the entries looked at, level by level (4..1); the
 * deepest is at `level`. */
struct pt_walk {
	int level;           /* 4..1: the level of the deepest entry */
	uint64_t entry;      /* its value (0 if not present) */
	xen_pfn_t table;     /* mfn of the table holding it */
	unsigned index;
	bool leaf;           /* present and maps memory (L1, or PSE at L2/L3) */
	xen_pfn_t tables[5]; /* tables[l]: the level-l table walked */
	uint64_t entries[5]; /* entries[l]: its entry for va */
};
/* Walk the current tables for va (handles 2 MiB and 1 GiB pages). */
int pt_walk(uint64_t va, struct pt_walk *w);

/* Read entry idx of table mfn. */
uint64_t pt_read_entry(xen_pfn_t table, unsigned idx);

/* Batched mmu_update. */
struct mmu_batch {
	mmu_update_t req[128];
	unsigned n;
	long err;            /* first failure, sticky */
};
void mmu_batch_init(struct mmu_batch *b);
void mmu_queue_pte(struct mmu_batch *b, xen_pfn_t table, unsigned idx,
		   uint64_t val);
void mmu_queue_m2p(struct mmu_batch *b, xen_pfn_t mfn, uint64_t pfn);
long mmu_flush(struct mmu_batch *b);

/* One entry of a live table, by machine address. */
long pt_set_entry(xen_pfn_t table, unsigned idx, uint64_t val);
long pt_pin(xen_pfn_t mfn, int level);
long pt_unpin(xen_pfn_t mfn);
long pt_clear_frame(xen_pfn_t mfn);
long pt_flush_tlb(void);

/* The M2P (read-only at MACH2PHYS_VIRT_START), bounded by what Xen maps:
 * XENMEM_machphys_mapping's max_mfn, XENMEM_maximum_ram_page and the
 * 2 MiB chunks XENMEM_machphys_mfn_list reports. */
int m2p_init(void);
bool m2p_read(xen_pfn_t mfn, uint64_t *pfn);
uint64_t m2p_max_mfn(void);

/* Every M2P chunk below this mfn is present: the inline fast path. */
extern uint64_t m2p_dense_limit;

static inline bool m2p_lookup(xen_pfn_t mfn, uint64_t *pfn)
{
	if (mfn < m2p_dense_limit) {
		*pfn = ((const volatile uint64_t *)MACH2PHYS_VIRT_START)[mfn];
		return true;
	}
	return m2p_read(mfn, pfn);
}

#endif
