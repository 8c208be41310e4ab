/*
 * The proof: one line per check ("PASS name: detail" / "FAIL name:
 * detail"), then "N passed, N failed".
 *
 *  p2m-vs-m2p      every RAM pfn below max_pfn (and every remap target)
 *                  maps an mfn whose M2P entry is that pfn
 *  identity        identity exactly where the plan says
 *  missing         missing exactly where the plan says
 *  max-pfn         max_pfn covers every populated pfn; generation even
 *  list-unmapped   no mapping of the initial list is left in our tables
 *  list-freed      every frame of the initial list (and freed tables) is
 *                  back in the pool or, adopted, still its slot's leaf,
 *                  counted (a relocated list: its old pfns that stay RAM)
 *  list-relocated  (when moved) the copy is unmapped, its frames and
 *                  tables in the pool
 *  initial-mapping past the kernel's end only kept pages are mapped
 *                  (start_info, a domU's rings); the L1/L2/L3s freed are
 *                  those of the chunks that keep nothing (expected from
 *                  the geometry), each writable again
 *  initrd          (with a module) it lies in RAM that stays RAM, and a
 *                  moved one kept its POSIX cksum (printed for the host)
 *  tools-walk      libp2mread (the tools' reader) reads the linear list
 *                  from p2m_cr3/p2m_vaddr and the 3-level tree from
 *                  pfn_to_mfn_frame_list_list by mfn without a refusal,
 *                  and each leaf it reads holds what the P2M says
 *  leaf-m2p        every list leaf's M2P entry maps back through the P2M
 *  released        every RELEASED/TRIMMED pfn went back to Xen (counted),
 *                  no released frame kept its M2P entry, none is in the
 *                  pool, and max_pfn stays at/below the limit when a
 *                  tail was trimmed
 *  platform        no bad frees, balanced lock, tables made/dropped
 *  balloon         (a domU serving memory/target) the reservation is the
 *                  target, no pool frame above the populated top, every
 *                  step kept the rule of docs/runtime.md; p2m-vs-m2p,
 *                  missing and max-pfn then judge the balloon's layout
 *                  (RAM below its top, missing above)
 *  compaction, exchange, grant
 *                  (once, after the request of that name, runtime.h) its
 *                  result: see balloon.c, exchange.c, grant.c
 *  smp             (more than one vCPU; at boot and after a resume) lock-free readers on every vCPU
 *                  while the others split and join slots: no read outside
 *                  the writers' invariant (smp_check.c)
 */
#include "arch/x86_64/hypercall.h"
#include "arch/x86_64/pt.h"
#include "common/balloon.h"
#include "common/boot.h"
#include "common/frames.h"
#include "common/pattern.h"
#include "common/platform.h"
#include "common/runtime.h"
#include "common/smp.h"
#include "p2m/entry.h"
#include "p2m/publish.h"
#include "p2mread/read.h"

static unsigned passed, failed;

static void result(bool ok, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#include <stdarg.h>
#include "p2m/fmt.h"

static void result(bool ok, const char *name, const char *fmt, ...)
{
	char buf[300];
	va_list ap;

	va_start(ap, fmt);
	p2m_vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	printk("%s %s: %s\n", ok ? "PASS" : "FAIL", name, buf);
	if (ok)
		passed++;
	else
		failed++;
}

static void check_entries(void)
{
	const struct p2m_e820_plan *pl = &boot.plan;
	const struct p2m_e820_range *layout;
	size_t nr_layout;
	struct p2m *p = &boot.p2m;
	uint64_t end = p2m_max_pfn(p);
	uint64_t ram = 0, ram_bad = 0, id = 0, id_bad = 0, miss = 0, miss_bad = 0;
	uint64_t first_bad = P2M_INVALID, highest = 0;
	size_t i;

	if (end < pl->end)
		end = pl->end;
	if (end > p->capacity)
		end = p->capacity;
	balloon_layout(&layout, &nr_layout);
	for (i = 0; i < nr_layout; i++) {
		uint64_t s = layout[i].start, e = layout[i].end, pfn;
		uint32_t c = layout[i].kind;

		if (e > end)
			e = end;
		for (pfn = s; pfn < e; pfn++) {
			uint64_t v, m2p;
			bool bad;

			/* A whole slot served by the shared page of the
			 * expected kind holds nothing else: count it at once
			 * (a 1 TB dom0 has 2^28 identity pfns in a hole). */
			if (!(pfn & (P2M_PER_PAGE - 1)) && pfn + P2M_PER_PAGE <= e) {
				uint8_t k = p->kinds[p2m_pfn_slot(pfn)];

				if (k == P2M_SLOT_IDENTITY &&
				    (c == P2M_E820_C_IDENTITY || c == P2M_E820_C_REMAP_SRC ||
				     c == P2M_E820_C_RELEASED)) {
					id += P2M_PER_PAGE;
					pfn += P2M_PER_PAGE - 1;
					continue;
				}
				if (k == P2M_SLOT_MISSING &&
				    (c == P2M_E820_C_TRIMMED || c == P2M_E820_C_EXTRA ||
				     c == P2M_E820_C_UNUSED)) {
					miss += P2M_PER_PAGE;
					pfn += P2M_PER_PAGE - 1;
					continue;
				}
			}
			v = p2m_raw(p, pfn);

			/* One tight loop per category: at 1 TB this runs
			 * over 2^28 pfns under TCG. */
			if (c == P2M_E820_C_RAM || c == P2M_E820_C_REMAP_DST) {
				bad = v >= P2M_MFN_LIMIT || !m2p_lookup(v, &m2p) || m2p != pfn;
				ram++;
				ram_bad += bad;
				highest = bad ? highest : pfn;
			} else if (c == P2M_E820_C_IDENTITY || c == P2M_E820_C_REMAP_SRC ||
				   c == P2M_E820_C_RELEASED) {
				bad = v != p2m_identity_entry(pfn);
				id++;
				id_bad += bad;
			} else { /* TRIMMED, EXTRA, UNUSED */
				bad = v != P2M_INVALID;
				miss++;
				miss_bad += bad;
			}
			if (__builtin_expect(bad, 0) && first_bad == P2M_INVALID) {
				first_bad = pfn;
				printk("  first mismatch: pfn %#lx (%s) entry %#lx\n",
				       (unsigned long)pfn, p2m_e820_category_name(c),
				       (unsigned long)v);
			}
		}
	}
	result(!ram_bad, "p2m-vs-m2p", "%lu RAM pfns, %lu disagree with the M2P",
	       (unsigned long)ram, (unsigned long)ram_bad);
	result(!id_bad, "identity", "%lu identity pfns as planned, %lu wrong",
	       (unsigned long)id, (unsigned long)id_bad);
	result(!miss_bad, "missing", "%lu missing pfns as planned, %lu wrong",
	       (unsigned long)miss, (unsigned long)miss_bad);
	result(p2m_max_pfn(p) > highest && boot.shared_info->arch.max_pfn == p2m_max_pfn(p) &&
		       (p2m_generation(p) & 1) == 0,
	       "max-pfn", "max_pfn %#lx (shared_info %#lx), highest RAM pfn %#lx, generation %lu",
	       (unsigned long)p2m_max_pfn(p), (unsigned long)boot.shared_info->arch.max_pfn,
	       (unsigned long)highest, (unsigned long)p2m_generation(p));
}

/* Frames allocated at the first run of the checks (the end of the boot):
 * what libp2m allocated since (the balloon's leaves) may reuse frames of
 * the old list. */
static uint64_t boot_allocs = ~0ull;

/* Pages mapped in [va, end), skipping whole absent tables; with kept,
 * those recycle_kept() keeps are counted there instead. */
static uint64_t mapped_pages(uint64_t va, uint64_t end, uint64_t *kept)
{
	uint64_t mapped = 0;
	struct pt_walk w;

	while (va < end) {
		uint64_t step = PAGE_SIZE;

		if (pt_walk(va, &w) == 0) {
			if (kept && recycle_kept((va - VIRT_BASE) >> PAGE_SHIFT))
				(*kept)++;
			else
				mapped++;
		} else if (w.level > 1) /* a whole table's reach is absent */
			step = (uint64_t)1 << (12 + 9 * (w.level - 1));
		va = (va & ~(step - 1)) + step;
	}
	return mapped;
}

static bool stays_ram(uint64_t pfn)
{
	return p2m_e820_category_of(&boot.plan, pfn) == P2M_E820_C_RAM;
}

/* Is frame mfn one of the initial list's (or its tables')? */
static bool in_list(xen_pfn_t mfn)
{
	uint64_t pfn;

	return m2p_read(mfn, &pfn) && pfn - boot.list_pfn < boot.list_frames;
}

static void check_list_gone(void)
{
	uint64_t mapped = 0, end, notfree = 0, owed = 0, i, since, adopted = 0, reused = 0;

	if (boot.init_p2m) {
		unsigned slot = pt_index(boot.list_va, 4);

		mapped = (pt_read_entry(pt_root_mfn(), slot) & PTE_P) != 0;
		result(!mapped, "list-unmapped", "INIT_P2M L4 slot %u is %s", slot,
		       mapped ? "still present" : "empty");
	} else {
		end = boot.list_va + (boot.list_frames << PAGE_SHIFT);
		mapped = mapped_pages(boot.list_va, end, NULL);
		result(!mapped, "list-unmapped",
		       "%lu pages of the old list VA [%#lx, %#lx) still mapped",
		       (unsigned long)mapped, (unsigned long)boot.list_va, (unsigned long)end);
	}
	/* A relocated list's old pfns that stay RAM joined the pool when it
	 * moved (and may be in use by now); the others went with the plan
	 * (remapped or released). The count given must be the plan's. */
	if (boot.list_moved) {
		for (i = 0; i < boot.list_frames; i++)
			owed += stays_ram(boot.list_pfn + i);
		result(owed == boot.moved_old_kept, "list-freed",
		       "%lu old list frames joined the pool when the list moved; "
		       "%lu of its pfns stay RAM in the plan",
		       (unsigned long)boot.moved_old_kept, (unsigned long)owed);
		return;
	}
	for (i = 0; i < boot.list_frames; i++) {
		owed++;
		notfree += !frames_is_free(boot.list_pfn + i);
	}
	/* After an adopting build the list's pages that became leaves are
	 * the P2M's (their own slot's, or, given back by a remap's source
	 * and taken again, a target's): not owed to the pool. */
	if (boot.adopt) {
		uint64_t k, slots = boot.p2m.capacity / 512;

		for (k = 0; k < slots; k++)
			if (boot.p2m.kinds[k] == P2M_SLOT_PRIVATE)
				adopted += in_list(boot.p2m.mids[k]);
		/* Freed before the plan was applied, they may also hold the
		 * tables and frame lists of windows split since. */
		for (k = 0; k < boot.p2m.nr_windows; k++)
			if (boot.p2m.windows[k].table)
				reused += in_list(boot.p2m.windows[k].table) +
					  in_list(boot.p2m.windows[k].mid);
		owed -= adopted + reused;
		notfree -= adopted + reused;
	}
	for (i = 0; i < boot.list_tables_freed; i++)
		notfree += !frames_is_free(boot.list_table_pfns[i]);
	/* An adopted list is freed before the plan is applied, whose
	 * allocations then come first from its frames. */
	if (boot_allocs == ~0ull)
		boot_allocs = boot.adopt ? boot.allocs_at_list_free : platform_stats.allocs;
	since = platform_stats.allocs - boot_allocs;
	result(notfree <= since, "list-freed",
	       "%lu of %lu list frames and %lu of %lu freed table frames are in the pool "
	       "(%lu not, %lu frames allocated since it was freed may reuse them); %lu are leaves of "
	       "the P2M (adopted), %lu its tables or frame lists",
	       (unsigned long)(owed - (notfree > owed ? owed : notfree)), (unsigned long)owed,
	       (unsigned long)boot.list_tables_freed, (unsigned long)boot.list_tables_freed,
	       (unsigned long)notfree, (unsigned long)since, (unsigned long)adopted,
	       (unsigned long)reused);
}

/* The relocated copy of the list (relocate.c): unmapped, its frames and
 * tables back in the pool; the old list's pfns that stay RAM joined the
 * pool when it moved (counted by list-freed). */
static void check_list_moved(void)
{
	uint64_t mapped, notfree = 0, i, pfn;

	mapped = mapped_pages(boot.moved_va, boot.moved_va + (boot.moved_frames << PAGE_SHIFT),
			      NULL);
	for (i = 0; i < boot.moved_frames; i++)
		notfree += !frames_is_free(boot.moved_pfn + i);
	for (i = 0; i < boot.moved_tables; i++)
		notfree += !m2p_read(boot.moved_table_mfns[i], &pfn) || !frames_is_free(pfn);
	result(!mapped && !notfree, "list-relocated",
	       "copy at VA %#lx, pfns [%#lx, %#lx) + %u tables: %lu pages still mapped, "
	       "%lu frames not in the pool; %lu old frames stayed RAM",
	       (unsigned long)boot.moved_va, (unsigned long)boot.moved_pfn,
	       (unsigned long)(boot.moved_pfn + boot.moved_frames), boot.moved_tables,
	       (unsigned long)mapped, (unsigned long)notfree,
	       (unsigned long)boot.moved_old_kept);
}

/* The initrd lies in RAM that stays RAM; a moved one has the cksum it
 * had before the move. The cksum is POSIX cksum's, for the host. */
static void check_initrd(void)
{
	uint64_t frames = (boot.initrd_len + PAGE_SIZE - 1) >> PAGE_SHIFT, bad = 0, i;
	uint32_t sum = relocate_initrd_cksum(boot.initrd_pfn, boot.initrd_len);

	for (i = 0; i < frames; i++)
		bad += !stays_ram(boot.initrd_pfn + i);
	result(!bad && (!boot.initrd_moved || sum == boot.initrd_cksum_before), "initrd",
	       "%lu bytes at pfns [%#lx, %#lx)%s, %lu pfns not RAM, cksum %u (before the move %u)",
	       (unsigned long)boot.initrd_len, (unsigned long)boot.initrd_pfn,
	       (unsigned long)(boot.initrd_pfn + frames),
	       boot.initrd_moved ? " (moved)" : "", (unsigned long)bad, sum,
	       boot.initrd_moved ? boot.initrd_cksum_before : sum);
}

/* The initial mapping past the kernel's end (recycle.c): exactly the
 * kept pages are mapped, and the tables freed (with the list and by the
 * recycling) are those of the chunks and regions that keep nothing. */
static void check_initial_mapping(void)
{
	uint64_t va = VIRT_BASE + (boot.recycle_first << PAGE_SHIFT);
	uint64_t end = VIRT_BASE + (boot.boot_end_pfn << PAGE_SHIFT);
	uint64_t kept = 0, kept_mapped = 0, stray, p, tables;

	for (p = boot.recycle_first; p < boot.boot_end_pfn; p++)
		kept += recycle_kept(p);
	stray = mapped_pages(va, end, &kept_mapped);
	tables = boot.recycle_l1 + boot.recycle_l2 + boot.recycle_l3;
	result(!stray && kept_mapped == kept &&
		       boot.recycle_l1 + boot.list_tables_freed == boot.recycle_expect_l1 &&
		       boot.recycle_l2 == boot.recycle_expect_l2 &&
		       boot.recycle_l3 == boot.recycle_expect_l3 && boot.recycle_writable == tables,
	       "initial-mapping",
	       "past pfn %#lx: %lu of %lu kept pages mapped, %lu stray; %lu pages unmapped "
	       "(%lu pooled); L1s freed %lu + %lu with the list (expected %lu), L2s %lu (%lu), "
	       "L3s %lu (%lu), %lu of %lu writable",
	       (unsigned long)boot.recycle_first, (unsigned long)kept_mapped, (unsigned long)kept,
	       (unsigned long)stray, (unsigned long)boot.recycle_unmapped,
	       (unsigned long)boot.recycle_pooled, (unsigned long)boot.recycle_l1,
	       (unsigned long)boot.list_tables_freed, (unsigned long)boot.recycle_expect_l1,
	       (unsigned long)boot.recycle_l2, (unsigned long)boot.recycle_expect_l2,
	       (unsigned long)boot.recycle_l3, (unsigned long)boot.recycle_expect_l3,
	       (unsigned long)boot.recycle_writable, (unsigned long)tables);
}

/* The toolstack's view through libp2mread, the reader the host's tools
 * and tests use: frames are mapped by mfn read-only in our scratch slots. */
static const void *rd_map(void *ctx, uint64_t mfn)
{
	(void)ctx;
	return pt_map(mfn, false);
}

static void rd_unmap(void *ctx, uint64_t mfn, const void *page)
{
	(void)ctx;
	(void)mfn;
	pt_unmap((void *)page);
}

struct tools_seen {
	uint64_t data_bad, m2p_bad, tree_bad;
};

/* A list leaf: its M2P entry maps back; a private one holds the list. */
static int list_leaf(void *arg, const struct p2mr_leaf *l)
{
	struct tools_seen *t = arg;
	struct p2m *p = &boot.p2m;
	unsigned i;

	if (p2m_mfn_to_pfn(p, l->mfn) == P2M_INVALID && !t->m2p_bad++)
		printk("  slot %#lx: leaf mfn %#lx has no pfn mapping back\n",
		       (unsigned long)l->index, (unsigned long)l->mfn);
	if (p->kinds[l->index] != P2M_SLOT_PRIVATE)
		return 0;
	for (i = 0; i < l->n && l->entries[i] == p->list[l->first + i]; i++)
		;
	if (i < l->n)
		t->data_bad++;
	return 0;
}

/* A tree leaf holds what the list shows (a shared missing page may stand
 * for an identity window, as in Linux's tree: equal entries suffice). */
static int tree_leaf(void *arg, const struct p2mr_leaf *l)
{
	struct tools_seen *t = arg;
	unsigned i;

	for (i = 0; i < l->n && l->entries[i] == boot.p2m.list[l->first + i]; i++)
		;
	if (i < l->n && !t->tree_bad++)
		printk("  slot %#lx: tree leaf %#lx differs from the list at %u\n",
		       (unsigned long)l->index, (unsigned long)l->mfn, i);
	return 0;
}

static void check_tools_walk(void)
{
	struct arch_shared_info *a = &boot.shared_info->arch;
	struct p2mr_frames fr = { .map = rd_map, .unmap = rd_unmap, .max_mfn = m2p_max_mfn() };
	struct p2mr_options tree_only = { .tree_only = true };
	struct p2mr_result res;
	struct tools_seen t = { 0, 0, 0 };
	bool tree = a->pfn_to_mfn_frame_list_list != 0 &&
		    a->pfn_to_mfn_frame_list_list != ~0ul;
	int rc = p2mr_read(a, &fr, NULL, list_leaf, &t, &res);

	result(rc == 0 && res.mode == P2MR_MODE_LIST, "tools-walk-list",
	       "%lu of %lu pfns from p2m_cr3 %#lx / p2m_vaddr %#lx, %lu frames mapped: %s",
	       (unsigned long)res.count, (unsigned long)res.published, (unsigned long)a->p2m_cr3,
	       (unsigned long)a->p2m_vaddr, (unsigned long)res.maps, rc ? res.error : "ok");
	result(!t.data_bad, "tools-walk-data", "%lu private leaves read by mfn differ from the list",
	       (unsigned long)t.data_bad);
	result(!t.m2p_bad, "leaf-m2p", "%lu list leaves whose M2P entry does not map back",
	       (unsigned long)t.m2p_bad);
	if (!tree) {
		result(p2m_tree_root(&boot.p2m) == P2M_INVALID, "tools-walk-tree",
		       "no tree published (frame_list_list %#lx)",
		       (unsigned long)a->pfn_to_mfn_frame_list_list);
		return;
	}
	/* Above 512 GiB the tree covers the first 512 GiB (docs/tree-rule.md):
	 * read it as a tool that knows only the tree reads that part. */
	struct arch_shared_info ta = *a;

	if (ta.max_pfn > P2M_TREE_PFNS)
		ta.max_pfn = P2M_TREE_PFNS;
	rc = p2mr_read(&ta, &fr, &tree_only, tree_leaf, &t, &res);
	result(rc == 0 && !t.tree_bad, "tools-walk-tree",
	       "frame_list_list %#lx: %lu pfns, %lu slots differ from the list: %s",
	       (unsigned long)a->pfn_to_mfn_frame_list_list, (unsigned long)res.count,
	       (unsigned long)t.tree_bad, rc ? res.error : "ok");
}

static void check_released(void)
{
	const struct p2m_e820_plan *pl = &boot.plan;
	uint64_t want = pl->pfns[P2M_E820_C_RELEASED] + pl->pfns[P2M_E820_C_TRIMMED];
	uint64_t in_pool = 0, top = P2M_INVALID;
	size_t i;

	for (i = 0; i < pl->nr_release; i++)
		in_pool += frames_count_in(pl->release[i].start,
					   pl->release[i].end - pl->release[i].start);
	/* The trimmed tail lies above every frame we keep: max_pfn, rounded
	 * to a leaf, must not reach into it. */
	if (pl->pfns[P2M_E820_C_TRIMMED] && pl->limit)
		top = (pl->limit + P2M_PER_PAGE - 1) & ~(uint64_t)(P2M_PER_PAGE - 1);
	result(boot.released == want && !boot.release_m2p_stale && !in_pool &&
		       p2m_max_pfn(&boot.p2m) <= top,
	       "released",
	       "%lu of %lu planned pfns given back (%lu trimmed), %lu kept their M2P entry, "
	       "%lu in the pool, max_pfn %#lx (limit %#lx)",
	       (unsigned long)boot.released, (unsigned long)want, (unsigned long)boot.trimmed,
	       (unsigned long)boot.release_m2p_stale, (unsigned long)in_pool,
	       (unsigned long)p2m_max_pfn(&boot.p2m), (unsigned long)pl->limit);
}

unsigned checks_run(void)
{
	struct p2m_stats st;

	passed = failed = 0;
	printk("checks:\n");
	check_entries();
	check_list_gone();
	if (boot.list_moved)
		check_list_moved();
	check_initial_mapping();
	if (boot.initrd_len)
		check_initrd();
	check_tools_walk();
	check_released();
	if (balloon_active()) {
		char d[300];
		bool ok = balloon_check(d, sizeof(d));

		result(ok, "balloon", "%s", d);
	}
	{
		const char *name;
		char d[300];
		int v = runtime_report(&name, d, sizeof(d));

		if (v >= 0)
			result(v, name, "%s", d);
	}
	if (pattern_due) {
		struct pattern_result r;
		char first[64] = "";

		pattern_due = false;
		pattern_check(&r);
		if (r.bad)
			p2m_snprintf(first, sizeof(first), " (first pfn %#lx, %lu not mapped)",
				     (unsigned long)r.first, (unsigned long)r.unmapped);
		result(!r.bad && r.pages, "pattern",
		       "%lu bad pages%s of %lu pool pages holding their pfn's pattern, %lu pool "
		       "frames unpatterned; %lu ms",
		       (unsigned long)r.bad, first, (unsigned long)r.pages,
		       (unsigned long)(frames_free_count() - r.pages), (unsigned long)r.ms);
	}
	smp_init();
	if (smp_cpus() > 1 && smp_check_due) {
		char d[300];
		bool ok = smp_check(d, sizeof(d));

		result(ok, "smp", "%s", d);
	}
	p2m_get_stats(&boot.p2m, &st);
	result(!platform_stats.bad_frees && !platform_stats.lock_errors, "platform",
	       "%lu frames allocated, %lu freed, %lu bad frees, %lu tables made, %lu dropped, lock errors %lu",
	       (unsigned long)platform_stats.allocs, (unsigned long)platform_stats.frees,
	       (unsigned long)platform_stats.bad_frees,
	       (unsigned long)platform_stats.tables_made,
	       (unsigned long)platform_stats.tables_dropped,
	       (unsigned long)platform_stats.lock_errors);
	printk("P2M cost: %lu private leaves, %lu private tables, %lu mids, %lu meta, %lu shared; %lu KiB\n",
	       (unsigned long)st.private_leaves, (unsigned long)st.private_tables,
	       (unsigned long)st.mid_pages, (unsigned long)st.meta_pages,
	       (unsigned long)st.shared_pages, (unsigned long)(st.bytes >> 10));
	printk("%u passed, %u failed\n", passed, failed);
	return failed;
}
