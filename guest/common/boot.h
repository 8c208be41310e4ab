/*
 * What the boot sequence learns and builds, shared by its steps
 * (boot.c drives them in the order of docs/design.md "Boot"; checks.c proves
 * the result).
 */
#ifndef GUEST_BOOT_H
#define GUEST_BOOT_H

#include "common/guest.h"
#include "p2m/e820.h"
#include "p2m/p2m.h"

#define MAX_MAP 128
/* The planner's map needs room for its sanitiser's scratch too. */
#define MAX_RANGES P2M_E820_MAP_CAP(MAX_MAP)

struct boot {
	/* start_info and the initial mapping */
	const uint64_t *initial;   /* the initial list (until freed) */
	uint64_t nr_pages;
	uint64_t boot_end_pfn;     /* first pfn past the initial mapping */
	uint64_t max_pages;        /* XENMEM_maximum_reservation */
	bool dom0;
	bool init_p2m;             /* the list was placed by INIT_P2M */
	/* SIF_VIRT_P2M_4TOOLS at boot, latched: a restore clears
	 * start_info.flags, not the tools' way of reading (tree rule,
	 * docs/tree-rule.md). */
	bool tools_read_list;
	/* The frames of the initial list (and, INIT_P2M, its page tables):
	 * pfns [list_pfn, list_pfn + list_frames). */
	uint64_t list_va, list_pfn, list_frames;
	uint64_t list_tables_freed; /* initial-mapping L1s freed with it */
	bool adopt;                /* built by p2m_build_adopt */
	uint64_t list_adopted;     /* pages it made leaves */
	uint64_t allocs_at_list_free; /* platform allocations when it was freed */
#define MAX_LIST_TABLES 1024      /* a 1 GiB list: 512 L1s */
	uint64_t list_table_pfns[MAX_LIST_TABLES]; /* their pfns */
	uint64_t init_p2m_superpages, init_p2m_gib_pages, init_p2m_tables;
	/* relocate.c: the list's copy when the plan moved it (the old list
	 * is then gone; its pfns that stay RAM joined the pool) */
	bool list_moved;
	uint64_t moved_va, moved_pfn, moved_frames, moved_old_kept;
	unsigned moved_tables;
	xen_pfn_t moved_table_mfns[MAX_LIST_TABLES];
	/* recycle.c: the initial mapping past the kernel's end */
	uint64_t recycle_first;     /* first pfn past the kernel */
	uint64_t recycle_unmapped, recycle_pooled, recycle_writable;
	uint64_t recycle_l1, recycle_l2, recycle_l3;
	uint64_t recycle_expect_l1, recycle_expect_l2, recycle_expect_l3;
	/* start_info's module (the initrd), where it is now */
	uint64_t initrd_pfn, initrd_len, initrd_from;
	bool initrd_moved;
	uint32_t initrd_cksum_before;

	/* the memory map and the plan */
	struct p2m_e820_entry map_in[MAX_MAP];
	unsigned nr_map_in;
	int map_rc;                /* of the hypercall (-ENOSYS handled) */
	struct p2m_e820_range map[MAX_RANGES], layout[4 * MAX_RANGES];
	struct p2m_e820_range identity[MAX_RANGES], release[MAX_RANGES];
	struct p2m_e820_range extra[MAX_RANGES];
	struct p2m_e820_remap remap[MAX_RANGES];
	struct p2m_e820_conflict conflicts[16];
	struct p2m_e820_plan plan;
	uint64_t remapped, released, trimmed; /* trimmed: part of released */
	uint64_t release_m2p_stale; /* released frames whose M2P kept the pfn */

	struct p2m p2m;
	struct shared_info *shared_info;
	bool freed;
};

extern struct boot boot;

/* initial.c */
void initial_adopt(start_info_t *si);
void initial_free(void);
const xen_pfn_t *initial_frames(const char **why);
void initial_frames_done(void);
/* memmap.c */
void memmap_get(void);
void memmap_plan(void);
void memmap_pool(void);
void memmap_remap_early(void);
void memmap_release(void);
void memmap_apply(void);
/* relocate.c */
void relocate_objects(void);
void relocate_free_list(void);
uint32_t relocate_initrd_cksum(uint64_t pfn, uint64_t len);
/* recycle.c */
void recycle_initial_mapping(void);
bool recycle_kept(uint64_t pfn);
/* checks.c: returns the number of failed checks */
unsigned checks_run(void);
/* boot.c */
void map_shared_info(void);
void unmap_shared_info(void);
uint64_t boot_pfn_to_mfn(uint64_t pfn);
/* suspend.c: serve control/shutdown (cmdline "loop"); returns the
 * failures of the last checks run */
unsigned suspend_loop(unsigned failed);

#endif
