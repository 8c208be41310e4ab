/*
 * Moving the initial list and the initrd out of the way of the plan.
 *
 * On a real machine (or with memmap= on the command line) the map can
 * put a reserved range, ACPI NVS or a gap where Xen placed the initial
 * list or the initrd. The plan then makes those pfns identity: their
 * frames are remapped or given back, and whatever lay in them must be
 * elsewhere first. The planner reports such a conflict with action
 * RELOCATE (the kernel, Xen's page tables and start_info are FATAL: the
 * plan fails with a message naming both ranges). Before the first frame
 * moves, as Linux's xen_relocate_p2m and xen_phys_memcpy do:
 *
 *  - the list is copied to frames of the pool (pfns of RAM that stays
 *    RAM, consecutive) mapped read-write in a reservation of our own
 *    (platform.c: an L4 slot, one L1 per 2 MiB); the copy is the
 *    initial list from then on. The old one is dropped at once: with
 *    INIT_P2M its L4 slot is cleared (Xen's tables go with it); in the
 *    initial mapping the PTEs of its pages that stay RAM are cleared
 *    (the others are unmapped by the remap or release of their pfns).
 *    Old pfns that stay RAM join the pool; the others are the plan's.
 *  - the initrd is copied page by page (scratch views by mfn) to pool
 *    frames; its POSIX cksum before and after is compared by the
 *    `initrd` check, which also prints it for the host to compare.
 *
 * initial.c frees the copy of the list like any initial list:
 * relocate_free_list() unmaps it, drops its tables and gives every frame
 * to the pool.
 */
#include "arch/x86_64/hypercall.h"
#include "arch/x86_64/pt.h"
#include "common/boot.h"
#include "common/frames.h"
#include "common/platform.h"
#include "p2m/error.h"

#define WINDOW_BYTES SUPERPAGE_2M   /* one L1 table's span */

extern void *memcpy(void *dst, const void *src, size_t n);

static struct p2m_platform plat;

static bool stays_ram(uint64_t pfn)
{
	return p2m_e820_category_of(&boot.plan, pfn) == P2M_E820_C_RAM;
}

/* Map `frames` consecutive pool pfns from `pfn` read-write in a fresh
 * reservation; returns its VA. */
static uint64_t map_copy(uint64_t pfn, uint64_t frames)
{
	uint64_t bytes = (frames * PAGE_SIZE + WINDOW_BYTES - 1) & ~(WINDOW_BYTES - 1);
	static xen_pfn_t mfns[PT_ENTRIES];
	uint64_t w, nwin = bytes / WINDOW_BYTES;
	void *base;
	int rc;

	if (nwin > MAX_LIST_TABLES)
		panic("relocate: a list of %lu frames needs more than %u tables",
		      (unsigned long)frames, MAX_LIST_TABLES);
	rc = plat.reserve(NULL, bytes, &base);
	if (rc)
		panic("relocate: cannot reserve %#lx bytes of VA (%d)", (unsigned long)bytes, rc);
	for (w = 0; w < nwin; w++) {
		uint64_t first = w * PT_ENTRIES, n = frames - first, i;
		void *va = (char *)base + w * WINDOW_BYTES;
		xen_pfn_t *t = &boot.moved_table_mfns[w];

		if (n > PT_ENTRIES)
			n = PT_ENTRIES;
		for (i = 0; i < n; i++)
			mfns[i] = platform_pfn_to_mfn(pfn + first + i);
		if (plat.alloc_frames(NULL, 1, t) || plat.make_table(NULL, *t, mfns[0]) ||
		    plat.set_window(NULL, va, *t) ||
		    plat.map_frames(NULL, va, n, mfns, P2M_MAP_RW))
			panic("relocate: cannot map the copy's window %lu", (unsigned long)w);
		boot.moved_tables++;
	}
	return (uint64_t)(uintptr_t)base;
}

/* The old list in the initial mapping: clear the PTEs of its pages that
 * stay RAM and give those to the pool. */
static void drop_old_in_initial_mapping(void)
{
	struct mmu_batch b;
	uint64_t i, kept = 0;

	mmu_batch_init(&b);
	for (i = 0; i < boot.list_frames; i++) {
		uint64_t pfn = boot.list_pfn + i;
		struct pt_walk w;

		if (!stays_ram(pfn))
			continue;
		if (pt_walk(boot.list_va + (i << PAGE_SHIFT), &w) || w.level != 1)
			panic("relocate: old list page %#lx is not mapped by an L1",
			      (unsigned long)pfn);
		mmu_queue_pte(&b, w.table, w.index, 0);
		kept++;
	}
	if (mmu_flush(&b))
		panic("relocate: cannot unmap the old list (%ld)", b.err);
	pt_flush_tlb();
	for (i = 0; i < boot.list_frames; i++)
		if (stays_ram(boot.list_pfn + i) && !frames_add(boot.list_pfn + i, 1))
			panic("relocate: old list pfn %#lx already free",
			      (unsigned long)(boot.list_pfn + i));
	boot.moved_old_kept = kept;
}

static void move_list(void)
{
	uint64_t bytes = boot.nr_pages * 8, frames = (bytes + PAGE_SIZE - 1) >> PAGE_SHIFT;
	uint64_t pfn, va, i;

	if (!frames_take_run(frames, &pfn))
		panic("relocate: no run of %lu free frames for the initial list",
		      (unsigned long)frames);
	va = map_copy(pfn, frames);
	memcpy((void *)(uintptr_t)va, boot.initial, bytes);
	boot.initial = (const uint64_t *)(uintptr_t)va;
	boot.list_moved = true;
	boot.moved_va = va;
	boot.moved_pfn = pfn;
	boot.moved_frames = frames;
	if (boot.init_p2m) {
		if (pt_set_entry(pt_root_mfn(), pt_index(boot.list_va, 4), 0))
			panic("relocate: cannot clear the INIT_P2M L4 slot");
		pt_flush_tlb();
		for (i = 0; i < boot.list_frames; i++) {
			if (!stays_ram(boot.list_pfn + i))
				continue;
			if (!frames_add(boot.list_pfn + i, 1))
				panic("relocate: old list pfn %#lx already free",
				      (unsigned long)(boot.list_pfn + i));
			boot.moved_old_kept++;
		}
	} else {
		drop_old_in_initial_mapping();
	}
	printk("relocated the initial list: %lu frames from pfns [%#lx, %#lx) to [%#lx, %#lx) "
	       "at VA %#lx; %lu old frames stay RAM and joined the pool\n",
	       (unsigned long)frames, (unsigned long)boot.list_pfn,
	       (unsigned long)(boot.list_pfn + boot.list_frames), (unsigned long)pfn,
	       (unsigned long)(pfn + frames), (unsigned long)va,
	       (unsigned long)boot.moved_old_kept);
}

/* POSIX cksum (CRC-32, polynomial 0x04c11db7, MSB first, the length
 * appended, complemented), continued over a piece. */
static uint32_t crc_bytes(uint32_t crc, const uint8_t *p, uint64_t n)
{
	static uint32_t table[256];
	uint64_t i;

	if (!table[1]) {
		for (i = 0; i < 256; i++) {
			uint32_t c = (uint32_t)i << 24;
			int k;

			for (k = 0; k < 8; k++)
				c = (c & 0x80000000u) ? (c << 1) ^ 0x04c11db7u : c << 1;
			table[i] = c;
		}
	}
	for (i = 0; i < n; i++)
		crc = (crc << 8) ^ table[(crc >> 24) ^ p[i]];
	return crc;
}

uint32_t relocate_initrd_cksum(uint64_t pfn, uint64_t len)
{
	uint32_t crc = 0;
	uint64_t off, l;

	for (off = 0; off < len; off += PAGE_SIZE) {
		const uint8_t *s = pt_map(platform_pfn_to_mfn(pfn + (off >> PAGE_SHIFT)), false);

		if (!s)
			panic("initrd: cannot map pfn %#lx", (unsigned long)(pfn + (off >> PAGE_SHIFT)));
		crc = crc_bytes(crc, s, len - off < PAGE_SIZE ? len - off : PAGE_SIZE);
		pt_unmap((void *)s);
	}
	for (l = len; l; l >>= 8) {
		uint8_t c = (uint8_t)l;

		crc = crc_bytes(crc, &c, 1);
	}
	return ~crc;
}

static void move_initrd(void)
{
	uint64_t frames = (boot.initrd_len + PAGE_SIZE - 1) >> PAGE_SHIFT, pfn, i;

	boot.initrd_cksum_before = relocate_initrd_cksum(boot.initrd_pfn, boot.initrd_len);
	if (!frames_take_run(frames, &pfn))
		panic("relocate: no run of %lu free frames for the initrd", (unsigned long)frames);
	for (i = 0; i < frames; i++) {
		const void *s = pt_map(platform_pfn_to_mfn(boot.initrd_pfn + i), false);
		void *d = pt_map(platform_pfn_to_mfn(pfn + i), true);

		if (!s || !d)
			panic("relocate: cannot map initrd page %lu", (unsigned long)i);
		memcpy(d, s, PAGE_SIZE);
		pt_unmap(d);
		pt_unmap((void *)s);
	}
	printk("relocated the initrd: %lu bytes from pfns [%#lx, %#lx) to [%#lx, %#lx)\n",
	       (unsigned long)boot.initrd_len, (unsigned long)boot.initrd_pfn,
	       (unsigned long)(boot.initrd_pfn + frames), (unsigned long)pfn,
	       (unsigned long)(pfn + frames));
	boot.initrd_from = boot.initrd_pfn;
	boot.initrd_pfn = pfn;
	boot.initrd_moved = true;
}

void relocate_objects(void)
{
	const struct p2m_e820_plan *pl = &boot.plan;
	size_t i;

	platform_init(&plat);
	for (i = 0; i < pl->nr_conflicts && i < pl->conflicts_cap; i++) {
		const struct p2m_e820_conflict *c = &pl->conflicts[i];

		if (c->action != P2M_E820_RELOCATE)
			panic("relocate: conflict of %s is not relocatable",
			      p2m_e820_object_name((enum p2m_e820_object_id)c->object));
		if (c->object == P2M_E820_OBJ_P2M_LIST)
			move_list();
		else if (c->object == P2M_E820_OBJ_INITRD)
			move_initrd();
	}
	if (pl->nr_conflicts > pl->conflicts_cap)
		panic("relocate: %lu conflicts, only %lu recorded", (unsigned long)pl->nr_conflicts,
		      (unsigned long)pl->conflicts_cap);
}

/* The copy of the list: unhook and unpin its tables, release the
 * reservation, and give its frames and tables to the pool. */
void relocate_free_list(void)
{
	unsigned w;

	for (w = 0; w < boot.moved_tables; w++) {
		void *va = (void *)(uintptr_t)(boot.moved_va + w * WINDOW_BYTES);

		if (plat.set_window(NULL, va, 0))
			panic("relocate: cannot unhook the copy's window %u", w);
		plat.drop_table(NULL, boot.moved_table_mfns[w]);
	}
	plat.free_frames(NULL, boot.moved_tables, boot.moved_table_mfns);
	plat.release(NULL, (void *)(uintptr_t)boot.moved_va, boot.moved_frames * PAGE_SIZE);
	if (!frames_add(boot.moved_pfn, boot.moved_frames))
		panic("relocate: the copy's frames [%#lx, +%#lx) overlap the pool",
		      (unsigned long)boot.moved_pfn, (unsigned long)boot.moved_frames);
}
