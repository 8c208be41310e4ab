/*
 * The initial P2M list Xen's builder hands over, in either placement:
 *
 *  - in the initial mapping (no INIT_P2M note): the list's pages are pfns
 *    of the boot image region, mapped at VIRT_BASE + pfn * 4096 through
 *    the bootstrap L1s, which it may share with the kernel and start_info;
 *  - at the INIT_P2M address (an L4 slot of its own): Xen built an L3,
 *    possibly L2s and L1s for it, mapping it with 1 GiB and 2 MiB pages
 *    where it could (machine-aligned, so misaligned in pfn space); the list and
 *    those tables are pfns [first_p2m_pfn, first_p2m_pfn + nr_p2m_frames)
 *    and none of them is reachable through the initial mapping.
 *
 * Freeing removes every mapping of the list (and the tables that mapped
 * only the list) from the guest's page tables and gives the frames to the
 * pool, so that the checks can count them back. After an adopting build
 * (p2m_build_adopt) the list's pages are the P2M's leaves, or went to the
 * pool through the build; only the tables are left to free, and it must
 * happen before the next allocation (a frame still mapped here could not
 * become a page table).
 */
#include "arch/x86_64/hypercall.h"
#include "arch/x86_64/pt.h"
#include "common/boot.h"
#include "common/frames.h"
#include "common/init_p2m_walk.h"
#include "common/platform.h"

static uint64_t va_of_pfn(uint64_t pfn)
{
	return VIRT_BASE + (pfn << PAGE_SHIFT);
}

static bool va_mapped(uint64_t va)
{
	struct pt_walk w;

	return pt_walk(va, &w) == 0;
}

/* First pfn past the initial mapping: 2 MiB steps, then 4 KiB steps in
 * the last mapped 2 MiB. */
static uint64_t find_boot_end(void)
{
	uint64_t pfn = 0;

	while (va_mapped(va_of_pfn(pfn + 512)))
		pfn += 512;
	while (va_mapped(va_of_pfn(pfn)))
		pfn++;
	return pfn;
}

static const uint64_t *ipw_map(void *ctx, uint64_t mfn)
{
	(void)ctx;
	return pt_map(mfn, false);
}

static void ipw_unmap(void *ctx, const uint64_t *t)
{
	(void)ctx;
	pt_unmap((void *)t);
}

static bool ipw_m2p(void *ctx, uint64_t mfn, uint64_t *pfn)
{
	(void)ctx;
	return m2p_lookup(mfn, pfn);
}

/*
 * The frame of each list page, for p2m_build_adopt. In the initial
 * mapping page k is pfn list_pfn + k, so the list itself holds the
 * table: its entries from list_pfn on. With INIT_P2M the walk names
 * them, into a table of pool frames mapped read-write in a reservation
 * of our own (platform.c: one L1 per 2 MiB, 2^18 pages each), made
 * after the pool exists and freed once the build is done. A list of
 * more than ADOPT_WINDOWS * 2^18 pages (2 TiB of nr_pages) is copied.
 */
#define ADOPT_WINDOWS 4u
static struct p2m_platform aplat;
static xen_pfn_t *adopt_frames;
static uint64_t list_pages, list_page_off; /* page of list_va in its L3 */
static xen_pfn_t adopt_tables[ADOPT_WINDOWS], adopt_pages[ADOPT_WINDOWS * PT_ENTRIES];
static unsigned adopt_nwin, adopt_npages;

/* The other INIT_P2M frames (Xen's tables, pages past the list), which
 * an adopting build leaves to initial_free(). */
static uint64_t init_p2m_tables[2 * MAX_LIST_TABLES];
static unsigned nr_init_p2m_tables;

static void ipw_table(void *ctx, uint64_t mfn)
{
	(void)ctx;
	if (nr_init_p2m_tables < sizeof(init_p2m_tables) / sizeof(init_p2m_tables[0]))
		init_p2m_tables[nr_init_p2m_tables] = mfn;
	nr_init_p2m_tables++;
}

static void ipw_leaf(void *ctx, uint64_t page, uint64_t mfn, uint64_t count)
{
	for (uint64_t i = 0; i < count; i++)
		if (page + i >= list_page_off && page + i - list_page_off < list_pages)
			adopt_frames[page + i - list_page_off] = mfn + i;
		else
			ipw_table(ctx, mfn + i);
}

/* Map a zeroed table of list_pages frame numbers; false if it does not fit. */
static bool adopt_table_map(void)
{
	const uint64_t win = 2ull << 20;
	void *base;
	unsigned w;

	adopt_npages = (unsigned)((list_pages * 8 + PAGE_SIZE - 1) / PAGE_SIZE);
	adopt_nwin = (adopt_npages + PT_ENTRIES - 1) / PT_ENTRIES;
	if (adopt_nwin > ADOPT_WINDOWS)
		return false;
	platform_init(&aplat);
	if (aplat.reserve(NULL, adopt_nwin * win, &base) ||
	    aplat.alloc_frames(NULL, adopt_nwin, adopt_tables) ||
	    aplat.alloc_frames(NULL, adopt_npages, adopt_pages))
		panic("adopt: no frames or VA for a table of %lu list frames",
		      (unsigned long)list_pages);
	for (w = 0; w < adopt_nwin; w++) {
		unsigned first = w * PT_ENTRIES, n = adopt_npages - first;
		void *va = (char *)base + w * win;

		if (n > PT_ENTRIES)
			n = PT_ENTRIES;
		if (aplat.make_table(NULL, adopt_tables[w], adopt_pages[first]) ||
		    aplat.set_window(NULL, va, adopt_tables[w]) ||
		    aplat.map_frames(NULL, va, n, &adopt_pages[first], P2M_MAP_RW))
			panic("adopt: cannot map the table of list frames");
	}
	adopt_frames = base;
	for (uint64_t k = 0; k < list_pages; k++)
		adopt_frames[k] = 0;
	return true;
}

/* After the build: the table of list frames goes (INIT_P2M only). */
static void adopt_table_free(void)
{
	const uint64_t win = 2ull << 20;
	unsigned w;

	if (!adopt_nwin)
		return;
	for (w = 0; w < adopt_nwin; w++) {
		if (aplat.set_window(NULL, (char *)adopt_frames + w * win, 0))
			panic("adopt: cannot unhook the table of list frames");
		aplat.drop_table(NULL, adopt_tables[w]);
	}
	aplat.free_frames(NULL, adopt_nwin, adopt_tables);
	aplat.free_frames(NULL, adopt_npages, adopt_pages);
	aplat.release(NULL, adopt_frames, adopt_nwin * win);
	adopt_frames = NULL;
	adopt_nwin = 0;
}

/* Walk Xen's INIT_P2M tables (init_p2m_walk.c): 1 GiB, 2 MiB and 4 KiB
 * pages in any mix; every frame must be one of the announced pfns and
 * together they must account for all of them. */
static void walk_init_p2m(start_info_t *si)
{
	static const struct ipw_ops ops = { NULL, ipw_map, ipw_unmap, ipw_m2p, NULL, NULL };
	uint64_t slot = pt_index(boot.list_va, 4);
	uint64_t e4 = pt_read_entry(pt_root_mfn(), (unsigned)slot);
	uint64_t lo = si->first_p2m_pfn, hi = lo + si->nr_p2m_frames;
	struct ipw_result r;
	bool ok;

	if (!(e4 & PTE_P))
		panic("INIT_P2M: L4 slot %lu of the list is empty", (unsigned long)slot);
	list_page_off = (boot.list_va & ((1ull << 39) - 1)) >> PAGE_SHIFT;
	ok = init_p2m_walk(&ops, pte_mfn(e4), lo, hi, &r);
	boot.init_p2m_superpages = r.pages_2m;
	boot.init_p2m_gib_pages = r.pages_1g;
	boot.init_p2m_tables = r.tables;
	printk("INIT_P2M mapping at %#lx: %lu tables, %lu 1 GiB pages, %lu 2 MiB pages, "
	       "%lu 4 KiB pages, %lu frames in all, %lu outside pfns [%#lx, %#lx), %lu bad entries\n",
	       (unsigned long)boot.list_va, (unsigned long)r.tables, (unsigned long)r.pages_1g,
	       (unsigned long)r.pages_2m, (unsigned long)r.pages_4k,
	       (unsigned long)(r.pages + r.tables), (unsigned long)r.outside,
	       (unsigned long)lo, (unsigned long)hi, (unsigned long)r.bad_entries);
	if (!ok)
		panic("INIT_P2M mapping does not match first_p2m_pfn/nr_p2m_frames");
}

void initial_adopt(start_info_t *si)
{
	boot.initial = (const uint64_t *)si->mfn_list;
	boot.nr_pages = si->nr_pages;
	list_pages = (si->nr_pages + 511) / 512;
	boot.list_va = si->mfn_list;
	boot.dom0 = (si->flags & SIF_INITDOMAIN) != 0;
	boot.boot_end_pfn = find_boot_end();
	boot.init_p2m = si->nr_p2m_frames != 0 &&
			/* below VIRT_BASE wraps around: also outside */
			si->mfn_list - VIRT_BASE >= (boot.boot_end_pfn << PAGE_SHIFT);
	if (boot.init_p2m) {
		boot.list_pfn = si->first_p2m_pfn;
		boot.list_frames = si->nr_p2m_frames;
		walk_init_p2m(si);
	} else {
		if (si->mfn_list & (PAGE_SIZE - 1))
			panic("initial list at %#lx is not page aligned", si->mfn_list);
		boot.list_pfn = (si->mfn_list - VIRT_BASE) >> PAGE_SHIFT;
		boot.list_frames = (si->nr_pages * 8 + PAGE_SIZE - 1) >> PAGE_SHIFT;
	}
	printk("initial list: %s, VA %#lx, pfns [%#lx, %#lx), initial mapping ends at pfn %#lx\n",
	       boot.init_p2m ? "INIT_P2M" : "in the initial mapping",
	       (unsigned long)boot.list_va, (unsigned long)boot.list_pfn,
	       (unsigned long)(boot.list_pfn + boot.list_frames),
	       (unsigned long)boot.boot_end_pfn);
}

/*
 * The frames of the list's pages for p2m_build_adopt, or NULL (and why)
 * when the list must be copied: a relocated copy (relocate.c frees it
 * whole), an INIT_P2M list too large for the table of its frames, or a
 * page of it the walk did not see.
 */
const xen_pfn_t *initial_frames(const char **why)
{
	static const struct ipw_ops ops = { NULL, ipw_map, ipw_unmap, ipw_m2p, ipw_leaf,
					    ipw_table };
	struct ipw_result r;
	uint64_t e4;

	if (boot.list_moved) {
		*why = "the list was relocated";
		return NULL;
	}
	if (!boot.init_p2m) {
		*why = "";
		return (const xen_pfn_t *)(boot.initial + boot.list_pfn);
	}
	if (!adopt_table_map()) {
		*why = "more pages than the table of list frames holds";
		return NULL;
	}
	e4 = pt_read_entry(pt_root_mfn(), (unsigned)pt_index(boot.list_va, 4));
	nr_init_p2m_tables = 0;
	init_p2m_walk(&ops, pte_mfn(e4), boot.list_pfn, boot.list_pfn + boot.list_frames, &r);
	for (uint64_t k = 0; k < list_pages; k++)
		if (!adopt_frames[k]) {
			*why = "a page of the INIT_P2M list has no frame in the walk";
			adopt_table_free();
			return NULL;
		}
	*why = "";
	return adopt_frames;
}

/* The adopting build is done (or was not made): drop the table. */
void initial_frames_done(void)
{
	adopt_table_free();
}

/* The list in the initial mapping: clear its PTEs; a bootstrap L1 that
 * maps nothing but list pages goes (its L2 entry cleared, its own
 * read-only mapping removed, its frame to the pool). */
static void free_in_initial_mapping(void)
{
	uint64_t start = boot.list_va;
	uint64_t end = start + (boot.list_frames << PAGE_SHIFT);
	uint64_t c, *l1_pfns = boot.list_table_pfns;
	unsigned nl1 = 0, i;
	struct mmu_batch b;

	mmu_batch_init(&b);
	for (c = start & ~(SUPERPAGE_2M - 1); c < end; c += SUPERPAGE_2M) {
		uint64_t s = c > start ? c : start;
		uint64_t e = c + SUPERPAGE_2M < end ? c + SUPERPAGE_2M : end;
		struct pt_walk w;

		pt_walk(s, &w);
		if (w.level != 1 || !w.leaf)
			panic("list page %#lx is not mapped by an L1", (unsigned long)s);
		if (s == c && e == c + SUPERPAGE_2M && nl1 < MAX_LIST_TABLES) {
			uint64_t pfn;

			if (!m2p_read(w.tables[1], &pfn))
				panic("bootstrap L1 %#lx has no pfn", (unsigned long)w.tables[1]);
			mmu_queue_pte(&b, w.tables[2], pt_index(c, 2), 0);
			l1_pfns[nl1++] = pfn;
			continue;
		}
		for (; s < e; s += PAGE_SIZE)
			mmu_queue_pte(&b, w.tables[1], pt_index(s, 1), 0);
	}
	if (mmu_flush(&b))
		panic("cannot unmap the initial list (%ld)", b.err);
	pt_flush_tlb();
	for (i = 0; i < nl1; i++) {
		if (hyp_update_va_mapping(va_of_pfn(l1_pfns[i]), 0, UVMF_INVLPG | UVMF_LOCAL))
			panic("cannot unmap freed bootstrap L1 at pfn %#lx",
			      (unsigned long)l1_pfns[i]);
		if (!frames_add(l1_pfns[i], 1))
			panic("bootstrap L1 pfn %#lx already free", (unsigned long)l1_pfns[i]);
	}
	boot.list_tables_freed = nl1;
}

/* After an adopting build: the list's pages are the P2M's leaves or
 * were freed by it; of the INIT_P2M frames only Xen's tables are left. */
static void free_init_p2m_tables(void)
{
	unsigned i;

	if (nr_init_p2m_tables > sizeof(init_p2m_tables) / sizeof(init_p2m_tables[0]))
		panic("INIT_P2M: %u tables and spare pages, more than the %lu recorded",
		      nr_init_p2m_tables,
		      (unsigned long)(sizeof(init_p2m_tables) / sizeof(init_p2m_tables[0])));
	for (i = 0; i < nr_init_p2m_tables; i++) {
		uint64_t pfn;

		if (!m2p_read(init_p2m_tables[i], &pfn) || !frames_add(pfn, 1))
			panic("INIT_P2M table mfn %#lx: no pfn, or already free",
			      (unsigned long)init_p2m_tables[i]);
	}
}

void initial_free(void)
{
	if (boot.list_moved) {
		relocate_free_list();
	} else if (boot.init_p2m) {
		unsigned slot = pt_index(boot.list_va, 4);

		/* One entry drops Xen's whole INIT_P2M tree: the L3, the L2s,
		 * any L1s, and the superpage mappings. */
		if (pt_set_entry(pt_root_mfn(), slot, 0))
			panic("cannot clear the INIT_P2M L4 slot %u", slot);
		pt_flush_tlb();
	} else {
		free_in_initial_mapping();
	}
	if (boot.adopt && boot.init_p2m)
		free_init_p2m_tables();
	else if (!boot.list_moved && !boot.adopt &&
		 !frames_add(boot.list_pfn, boot.list_frames))
		panic("initial list frames [%#lx, +%#lx) overlap the pool",
		      (unsigned long)boot.list_pfn, (unsigned long)boot.list_frames);
	boot.initial = NULL;
	boot.freed = true;
	boot.allocs_at_list_free = platform_stats.allocs;
	/* Revector: the list is now libp2m's. */
	start_info->mfn_list = (unsigned long)boot.p2m.list;
	if (boot.adopt)
		printk("freed the initial list: %lu of its %lu pages adopted as leaves, the others "
		       "freed by the build; %u INIT_P2M tables, %lu bootstrap L1s freed\n",
		       (unsigned long)boot.list_adopted, (unsigned long)list_pages,
		       boot.init_p2m ? nr_init_p2m_tables : 0,
		       (unsigned long)boot.list_tables_freed);
	else
		printk("freed the initial list: %lu frames%s, %lu bootstrap L1s\n",
		       (unsigned long)(boot.list_moved ? boot.moved_frames : boot.list_frames),
		       boot.list_moved ? " (its relocated copy)" :
		       boot.init_p2m ? " (list and INIT_P2M tables)" : "",
		       (unsigned long)boot.list_tables_freed);
}
