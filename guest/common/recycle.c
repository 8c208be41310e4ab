/*
 * What is left of Xen's initial mapping once the initial list is gone.
 *
 * Xen's builder maps pfn p at VIRT_BASE + p * 4096 from 0 up to the end of
 * the boot allocation (rounded to 4 MiB): below the kernel, the kernel,
 * the list, start_info (domU: the store and console pages), Xen's page
 * tables themselves (read-only), its boot stack and padding, with one L1
 * per 2 MiB under its L2s, L3s and root L4. Of that the guest keeps the
 * kernel image and the pages it reads through the mapping (start_info,
 * and for a domU the store and console rings); it reaches page tables
 * by mfn through scratch views, never through this mapping. So, as
 * Linux does with its kernel map once the list is copied (trim past the
 * kernel's end, recycle Xen's L4/L3/L2 pages):
 *
 *  - every page past the kernel's end that is not kept is unmapped (up to
 *    the end of the kernel's own 2 MiB and beyond it);
 *  - a 2 MiB chunk with nothing kept loses its L1 at once (its L2 entry
 *    is cleared), a 1 GiB region whose L2 is then empty loses its L2 (the
 *    L3 entry), a 512 GiB region whose L3 is empty loses its L3; those
 *    table frames, proven writable again (Xen accepts a read-write view
 *    of a frame only when it is no page table), go to the pool;
 *  - the unmapped pages that are not Xen's page tables, not the initrd
 *    and stay RAM (padding, Xen's boot stack) go to the pool too.
 *
 * What to expect is computed from the geometry alone (the chunks and
 * regions that hold no kept page); the `initial-mapping` check compares
 * it with what was done and walks the mapping again.
 */
#include "arch/x86_64/hypercall.h"
#include "arch/x86_64/pt.h"
#include "common/boot.h"
#include "common/frames.h"

extern char __image_start[], __image_end[];

#define MAX_POOLED 8192u
#define MAX_RECYCLED 1024u

static uint64_t pooled_pfns[MAX_POOLED];
static xen_pfn_t recycled[MAX_RECYCLED];
static unsigned nr_pooled, nr_recycled;

static uint64_t kernel_end_pfn(void)
{
	return ((uint64_t)(uintptr_t)__image_end - VIRT_BASE + PAGE_SIZE - 1) >> PAGE_SHIFT;
}

static uint64_t pfn_of_mfn(xen_pfn_t mfn)
{
	uint64_t pfn;

	return mfn && m2p_read(mfn, &pfn) ? pfn : ~0ull;
}

/* Kept: the kernel and everything below it (left as Xen made it),
 * start_info, a domU's store and console pages. */
bool recycle_kept(uint64_t pfn)
{
	uint64_t si = ((uint64_t)(uintptr_t)start_info - VIRT_BASE) >> PAGE_SHIFT;

	if (pfn < kernel_end_pfn() || pfn == si)
		return true;
	return !boot.dom0 && (pfn == pfn_of_mfn(start_info->store_mfn) ||
			      pfn == pfn_of_mfn(start_info->console.domU.mfn));
}

/* Regions of 2^shift pages of the initial mapping past the kernel's
 * end that hold no kept page. */
static uint64_t empty_regions(unsigned shift)
{
	uint64_t n = 0, r, p, first = kernel_end_pfn() >> shift;
	uint64_t last = (boot.boot_end_pfn + (1ull << shift) - 1) >> shift;

	for (r = first; r < last; r++) {
		uint64_t s = r << shift, e = (r + 1) << shift;
		bool keep = false;

		for (p = s; p < e && p < boot.boot_end_pfn && !keep; p++)
			keep = recycle_kept(p);
		n += !keep;
	}
	return n;
}

static bool is_pt_pfn(uint64_t pfn)
{
	uint64_t pt = (start_info->pt_base - VIRT_BASE) >> PAGE_SHIFT;

	return pfn >= pt && pfn < pt + start_info->nr_pt_frames;
}

static void note_unmapped(uint64_t pfn)
{
	bool initrd = boot.initrd_len &&
		      pfn - (boot.initrd_moved ? boot.initrd_from : boot.initrd_pfn) <
			      ((boot.initrd_len + PAGE_SIZE - 1) >> PAGE_SHIFT);

	boot.recycle_unmapped++;
	if (!is_pt_pfn(pfn) && !initrd && nr_pooled < MAX_POOLED &&
	    p2m_e820_category_of(&boot.plan, pfn) == P2M_E820_C_RAM)
		pooled_pfns[nr_pooled++] = pfn;
}

static void drop_table(struct mmu_batch *b, xen_pfn_t parent, unsigned idx, xen_pfn_t t)
{
	if (nr_recycled == MAX_RECYCLED)
		panic("recycle: more than %u tables", MAX_RECYCLED);
	mmu_queue_pte(b, parent, idx, 0);
	recycled[nr_recycled++] = t;
}

/* One 2 MiB chunk: drop its L1 when nothing in it is kept, else clear
 * the PTEs past the kernel's end that are not kept. */
static void trim_chunk(struct mmu_batch *b, uint64_t c_pfn)
{
	uint64_t va = VIRT_BASE + (c_pfn << PAGE_SHIFT), p;
	const uint64_t *l1;
	struct pt_walk w;
	bool keep = false;
	unsigned i;

	if (pt_walk(va, &w) && w.level > 1)
		return; /* no L1 here (freed with the list) */
	for (p = c_pfn; p < c_pfn + PT_ENTRIES && !keep; p++)
		keep = p < boot.boot_end_pfn && recycle_kept(p);
	l1 = pt_map(w.tables[1], false);
	if (!l1)
		panic("recycle: cannot map L1 %#lx", (unsigned long)w.tables[1]);
	for (i = 0; i < PT_ENTRIES; i++) {
		p = c_pfn + i;
		if (!(l1[i] & PTE_P) || (keep && recycle_kept(p)))
			continue;
		if (keep)
			mmu_queue_pte(b, w.tables[1], i, 0);
		note_unmapped(p);
	}
	pt_unmap((void *)l1);
	if (!keep) {
		drop_table(b, w.tables[2], pt_index(va, 2), w.tables[1]);
		boot.recycle_l1++;
	}
}

/* After the chunks: a table of `level` (2 or 3) covering va that maps
 * nothing any more goes, with its entry in the parent. */
static void drop_if_empty(struct mmu_batch *b, uint64_t va, int level)
{
	struct pt_walk w;
	const uint64_t *t;
	unsigned i, used = 0;

	if (pt_walk(va, &w) && w.level > level)
		return;
	t = pt_map(w.tables[level], false);
	if (!t)
		panic("recycle: cannot map L%d %#lx", level, (unsigned long)w.tables[level]);
	for (i = 0; i < PT_ENTRIES; i++)
		used += (t[i] & PTE_P) != 0;
	pt_unmap((void *)t);
	if (used)
		return;
	drop_table(b, w.tables[level + 1], pt_index(va, level + 1), w.tables[level]);
	if (level == 2)
		boot.recycle_l2++;
	else
		boot.recycle_l3++;
}

static void flush(struct mmu_batch *b)
{
	if (mmu_flush(b))
		panic("recycle: mmu_update failed (%ld)", b->err);
	pt_flush_tlb();
}

void recycle_initial_mapping(void)
{
	uint64_t first = kernel_end_pfn(), c, r;
	struct mmu_batch b;
	unsigned i;

	boot.recycle_first = first;
	boot.recycle_expect_l1 = empty_regions(SUPERPAGE_2M_PFN_SHIFT);
	boot.recycle_expect_l2 = empty_regions(SUPERPAGE_1G_PFN_SHIFT);
	boot.recycle_expect_l3 = empty_regions(L4_SLOT_PFN_SHIFT);
	mmu_batch_init(&b);
	for (c = first & ~(uint64_t)(PT_ENTRIES - 1); c < boot.boot_end_pfn; c += PT_ENTRIES)
		trim_chunk(&b, c);
	flush(&b);
	for (r = first >> SUPERPAGE_1G_PFN_SHIFT;
	     r < (boot.boot_end_pfn + (1ull << SUPERPAGE_1G_PFN_SHIFT) - 1) >> SUPERPAGE_1G_PFN_SHIFT; r++)
		drop_if_empty(&b, VIRT_BASE + (r << SUPERPAGE_1G_SHIFT), 2);
	flush(&b);
	for (r = first >> L4_SLOT_PFN_SHIFT;
	     r < (boot.boot_end_pfn + (1ull << L4_SLOT_PFN_SHIFT) - 1) >> L4_SLOT_PFN_SHIFT; r++)
		drop_if_empty(&b, VIRT_BASE + (r << L4_SLOT_SHIFT), 3);
	flush(&b);
	for (i = 0; i < nr_recycled; i++) {
		void *v = pt_map(recycled[i], true);
		uint64_t pfn = pfn_of_mfn(recycled[i]);

		if (v) {
			boot.recycle_writable++;
			pt_unmap(v);
		}
		if (!is_pt_pfn(pfn) || !frames_add(pfn, 1))
			panic("recycle: table mfn %#lx (pfn %#lx) is not a free page of Xen's tables",
			      (unsigned long)recycled[i], (unsigned long)pfn);
	}
	for (i = 0; i < nr_pooled; i++)
		if (!frames_add(pooled_pfns[i], 1))
			panic("recycle: pfn %#lx already free", (unsigned long)pooled_pfns[i]);
	boot.recycle_pooled = nr_pooled;
	printk("recycled the initial mapping past pfn %#lx: unmapped %lu pages (%lu to the pool); "
	       "freed %lu L1, %lu L2, %lu L3 tables of Xen's (expected %lu, %lu, %lu), "
	       "%lu writable again\n",
	       (unsigned long)first, (unsigned long)boot.recycle_unmapped,
	       (unsigned long)boot.recycle_pooled, (unsigned long)boot.recycle_l1,
	       (unsigned long)boot.recycle_l2, (unsigned long)boot.recycle_l3,
	       (unsigned long)boot.recycle_expect_l1, (unsigned long)boot.recycle_expect_l2,
	       (unsigned long)boot.recycle_expect_l3, (unsigned long)boot.recycle_writable);
}
