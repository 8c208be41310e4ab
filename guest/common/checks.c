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
 *                  back in the pool, counted
 *  tools-walk      the linear list walked from p2m_cr3/p2m_vaddr by mfn
 *                  (4 KiB pages only) and the 3-level tree from
 *                  pfn_to_mfn_frame_list_list name the same leaf frames,
 *                  and each leaf read by mfn holds what the P2M says
 *  leaf-m2p        every list leaf's M2P entry maps back through the P2M
 *  released        every RELEASED/TRIMMED pfn went back to Xen (counted),
 *                  no released frame kept its M2P entry, none is in the
 *                  pool, and max_pfn stays at/below the limit when a
 *                  tail was trimmed
 *  platform        no bad frees, balanced lock, tables made/dropped
 */
#include "arch/x86_64/hypercall.h"
#include "arch/x86_64/pt.h"
#include "common/boot.h"
#include "common/frames.h"
#include "common/platform.h"
#include "p2m/entry.h"
#include "p2m/publish.h"

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
	struct p2m *p = &boot.p2m;
	uint64_t end = p2m_max_pfn(p);
	uint64_t ram = 0, ram_bad = 0, id = 0, id_bad = 0, miss = 0, miss_bad = 0;
	uint64_t first_bad = P2M_INVALID, highest = 0;
	size_t i;

	if (end < pl->end)
		end = pl->end;
	if (end > p->capacity)
		end = p->capacity;
	for (i = 0; i < pl->nr_layout; i++) {
		uint64_t s = pl->layout[i].start, e = pl->layout[i].end, pfn;
		uint32_t c = pl->layout[i].kind;

		if (e > end)
			e = end;
		for (pfn = s; pfn < e; pfn++) {
			uint64_t v, m2p;
			bool bad;

			/* A whole slot served by the shared page of the
			 * expected kind holds nothing else: count it at once
			 * (a 1 TB dom0 has 2^28 identity pfns in a hole). */
			if (!(pfn & (P2M_PER_PAGE - 1)) && pfn + P2M_PER_PAGE <= e) {
				uint8_t k = p->kinds[pfn >> P2M_SLOT_SHIFT];

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

static void check_list_gone(void)
{
	uint64_t mapped = 0, va, end, notfree = 0, i;
	struct pt_walk w;

	if (boot.init_p2m) {
		unsigned slot = pt_index(boot.list_va, 4);

		mapped = (pt_read_entry(pt_root_mfn(), slot) & PTE_P) != 0;
		result(!mapped, "list-unmapped", "INIT_P2M L4 slot %u is %s", slot,
		       mapped ? "still present" : "empty");
	} else {
		end = boot.list_va + (boot.list_frames << PAGE_SHIFT);
		for (va = boot.list_va; va < end;) {
			uint64_t step = PAGE_SIZE;

			if (pt_walk(va, &w) == 0)
				mapped++;
			else if (w.level > 1) /* a whole table's reach is absent */
				step = (uint64_t)1 << (12 + 9 * (w.level - 1));
			va = (va & ~(step - 1)) + step;
		}
		result(!mapped, "list-unmapped",
		       "%lu pages of the old list VA [%#lx, %#lx) still mapped",
		       (unsigned long)mapped, (unsigned long)boot.list_va, (unsigned long)end);
	}
	for (i = 0; i < boot.list_frames; i++)
		notfree += !frames_is_free(boot.list_pfn + i);
	for (i = 0; i < boot.list_tables_freed; i++)
		notfree += !frames_is_free(boot.list_table_pfns[i]);
	result(!notfree, "list-freed",
	       "%lu of %lu list frames and %lu of %lu freed table frames are in the pool",
	       (unsigned long)(boot.list_frames - (notfree > boot.list_frames ? boot.list_frames : notfree)),
	       (unsigned long)boot.list_frames,
	       (unsigned long)boot.list_tables_freed, (unsigned long)boot.list_tables_freed);
}

/* A cached read-only view per level for walks by mfn. */
struct view {
	xen_pfn_t mfn;
	const uint64_t *va;
};

static const uint64_t *view_of(struct view *v, xen_pfn_t mfn)
{
	if (v->va && v->mfn == mfn)
		return v->va;
	if (v->va)
		pt_unmap((void *)v->va);
	v->va = pt_map(mfn, false);
	v->mfn = mfn;
	if (!v->va)
		panic("cannot map frame %#lx read-only", (unsigned long)mfn);
	return v->va;
}

static void view_drop(struct view *v)
{
	if (v->va)
		pt_unmap((void *)v->va);
	v->va = NULL;
}

static void check_tools_walk(void)
{
	struct arch_shared_info *a = &boot.shared_info->arch;
	struct p2m *p = &boot.p2m;
	struct view lv[5] = { { 0, NULL } }, top = { 0, NULL }, mid = { 0, NULL };
	struct view leaf = { 0, NULL }, tleaf = { 0, NULL };
	uint64_t slots = (a->max_pfn + P2M_PER_PAGE - 1) / P2M_PER_PAGE;
	uint64_t s, walk_bad = 0, tree_bad = 0, shared_diff = 0, data_bad = 0, m2p_bad = 0, big = 0;
	bool tree = a->pfn_to_mfn_frame_list_list != 0 &&
		    a->pfn_to_mfn_frame_list_list != ~0ul;

	for (s = 0; s < slots; s++) {
		uint64_t va = a->p2m_vaddr + s * PAGE_SIZE, e = 0;
		xen_pfn_t t = a->p2m_cr3 >> 12, leaf_mfn;
		int level;
		bool ok = true;

		for (level = 4; level >= 1; level--) {
			e = view_of(&lv[level], t)[pt_index(va, level)];
			if (!(e & PTE_P)) {
				ok = false;
				break;
			}
			if (level > 1 && (e & PTE_PSE)) {
				big++;
				ok = false;
				break;
			}
			t = pte_mfn(e);
		}
		if (!ok) {
			if (!walk_bad++)
				printk("  slot %#lx: list VA %#lx not mapped by 4 KiB pages\n",
				       (unsigned long)s, (unsigned long)va);
			continue;
		}
		leaf_mfn = t;
		/* The tree reaches the first 512 GiB (512 x 512 slots). */
		if (tree && s < (uint64_t)P2M_PER_PAGE * P2M_PER_PAGE) {
			const uint64_t *tp = view_of(&top, a->pfn_to_mfn_frame_list_list);
			const uint64_t *mp = view_of(&mid, tp[s / P2M_PER_PAGE]);

			xen_pfn_t tl = mp[s % P2M_PER_PAGE];

			/* The tree may name another frame with the same
			 * entries (a shared missing page for an identity
			 * window, as Linux's tree does): compare what the
			 * tools would read. */
			if (tl != leaf_mfn) {
				const uint64_t *a1 = view_of(&leaf, leaf_mfn);
				const uint64_t *a2 = view_of(&tleaf, tl);
				unsigned i;

				shared_diff++;
				for (i = 0; i < P2M_PER_PAGE && a1[i] == a2[i]; i++)
					;
				if (i < P2M_PER_PAGE && !tree_bad++)
					printk("  slot %#lx: tree leaf %#lx and list leaf %#lx differ at %u\n",
					       (unsigned long)s, (unsigned long)tl,
					       (unsigned long)leaf_mfn, i);
			}
		}
		if (p2m_mfn_to_pfn(p, leaf_mfn) == P2M_INVALID && !m2p_bad++)
			printk("  slot %#lx: leaf mfn %#lx has no pfn mapping back\n",
			       (unsigned long)s, (unsigned long)leaf_mfn);
		if (p->kinds[s] == P2M_SLOT_PRIVATE) {
			const uint64_t *lp = view_of(&leaf, leaf_mfn);
			unsigned i;

			for (i = 0; i < P2M_PER_PAGE; i++)
				if (lp[i] != p->list[s * P2M_PER_PAGE + i]) {
					data_bad++;
					break;
				}
		}
	}
	for (s = 1; s < 5; s++)
		view_drop(&lv[s]);
	view_drop(&top);
	view_drop(&mid);
	view_drop(&leaf);
	view_drop(&tleaf);
	result(!walk_bad && !big, "tools-walk-list",
	       "%lu slots from p2m_cr3 %#lx / p2m_vaddr %#lx, %lu unmapped, %lu superpages",
	       (unsigned long)slots, (unsigned long)a->p2m_cr3, (unsigned long)a->p2m_vaddr,
	       (unsigned long)walk_bad, (unsigned long)big);
	if (tree)
		result(!tree_bad, "tools-walk-tree",
		       "frame_list_list %#lx: %lu slots differ from the list (%lu name another frame with equal entries)",
		       (unsigned long)a->pfn_to_mfn_frame_list_list, (unsigned long)tree_bad,
		       (unsigned long)shared_diff);
	else
		result(p2m_tree_root(p) == P2M_INVALID, "tools-walk-tree",
		       "no tree published (frame_list_list %#lx)",
		       (unsigned long)a->pfn_to_mfn_frame_list_list);
	result(!data_bad, "tools-walk-data", "%lu private leaves read by mfn differ from the list",
	       (unsigned long)data_bad);
	result(!m2p_bad, "leaf-m2p", "%lu list leaves whose M2P entry does not map back",
	       (unsigned long)m2p_bad);
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
	check_tools_walk();
	check_released();
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
