/*
 * The memory map and its plan (libp2m's E820 planner, include/p2m/e820.h):
 * fetch the map, plan, seed the frame pool with the RAM that stays RAM,
 * and apply the plan to the P2M: move the frames under holes (one
 * MMU_MACHPHYS_UPDATE each) or give them back to Xen
 * (XENMEM_decrease_reservation, before the build), then let the planner
 * mark identity and missing ranges.
 */
#include "arch/x86_64/hypercall.h"
#include "arch/x86_64/pt.h"
#include "common/boot.h"
#include "common/frames.h"
#include "common/hcstats.h"
#include "p2m/entry.h"

extern char __image_start[], __image_end[];

static uint64_t pfn_of_va(uint64_t va)
{
	return (va - VIRT_BASE) >> PAGE_SHIFT;
}

/* memmap=SIZE$START (Linux's reserved form) joins the map as a reserved
 * entry; the planner's sanitiser lets it win over the RAM below it. */
static void add_memmap_reserved(void)
{
	uint64_t addr[8], size[8];
	unsigned n = cmdline_memmap(addr, size, 8), i;

	for (i = 0; i < n; i++) {
		if (boot.nr_map_in == MAX_MAP)
			panic("memmap=: the map is full (%u entries)", MAX_MAP);
		boot.map_in[boot.nr_map_in++] = (struct p2m_e820_entry){
			.addr = addr[i], .size = size[i], .type = P2M_E820_RESERVED };
		printk("memmap=: reserved [%#lx, %#lx) added to the map\n",
		       (unsigned long)addr[i], (unsigned long)(addr[i] + size[i]));
	}
}

void memmap_get(void)
{
	struct xen_memory_map mm;
	domid_t self = DOMID_SELF;
	unsigned i;
	long rc;

	mm.nr_entries = MAX_MAP;
	set_xen_guest_handle(mm.buffer, boot.map_in);
	rc = hyp_memory_op(boot.dom0 ? XENMEM_machine_memory_map : XENMEM_memory_map, &mm);
	boot.map_rc = (int)rc;
	if (rc == -38 /* ENOSYS: no map was set, a plain domU */) {
		boot.map_in[0] = (struct p2m_e820_entry){
			.addr = 0, .size = boot.nr_pages << PAGE_SHIFT, .type = P2M_E820_RAM };
		boot.nr_map_in = 1;
	} else if (rc) {
		panic("%s: %ld", boot.dom0 ? "XENMEM_machine_memory_map" : "XENMEM_memory_map", rc);
	} else {
		boot.nr_map_in = mm.nr_entries;
	}
	add_memmap_reserved();
	rc = hyp_memory_op(XENMEM_maximum_reservation, &self);
	boot.max_pages = rc > 0 ? (uint64_t)rc : 0;
	printk("memory map (%s, rc %d): %u entries; nr_pages %#lx, maximum reservation %#lx\n",
	       boot.dom0 ? "XENMEM_machine_memory_map" : "XENMEM_memory_map",
	       boot.map_rc, boot.nr_map_in, (unsigned long)boot.nr_pages,
	       (unsigned long)boot.max_pages);
	for (i = 0; i < boot.nr_map_in; i++) {
		char tn[32];

		printk("  [%#014llx, %#014llx) %s\n",
		       (unsigned long long)boot.map_in[i].addr,
		       (unsigned long long)(boot.map_in[i].addr + boot.map_in[i].size),
		       p2m_e820_type_name(boot.map_in[i].type, tn, sizeof(tn)));
	}
}

/* The P2M covers RAM, not the whole map: reserved ranges far above RAM
 * (QEMU's HyperTransport hole at 1 TiB) read as identity beyond the
 * capacity anyway. So plan up to the top of RAM (or nr_pages), rounded
 * up to a P2M window. */
static uint64_t plan_end(void)
{
	uint64_t top = boot.nr_pages;
	unsigned i;

	for (i = 0; i < boot.nr_map_in; i++) {
		const struct p2m_e820_entry *e = &boot.map_in[i];
		uint64_t end = (e->addr + e->size) >> PAGE_SHIFT;

		if ((e->type == P2M_E820_RAM || (boot.dom0 && e->type == P2M_E820_UNUSABLE)) &&
		    end > top)
			top = end;
	}
	return (top + P2M_PER_WINDOW - 1) & ~(P2M_PER_WINDOW - 1);
}

/*
 * The planner's limit (pfns; 0: none). The 512 GiB domU default exists
 * because Linux's 3-level frame-list tree reaches no further; a builder
 * that set SIF_VIRT_P2M_4TOOLS (libxc's builder does; Xen 4.17's xl then
 * overwrites start_info.flags with 0, see guest/README.md) has the tools read
 * the linear list instead, so the limit would only throw memory away.
 * `limit=` on the command line overrides both (it also reproduces the
 * release path cheaply: a limit below nr_pages trims the frames above
 * it, and leaves no remap targets, so the frames under holes are
 * released too).
 */
static uint64_t plan_limit(uint64_t def)
{
	uint64_t lim = def;
	const char *why;

	if (cmdline_pfns("limit", &lim))
		why = "from the command line (limit=)";
	else if (boot.dom0)
		why = "dom0: the default, dom0 is never limited";
	else if (start_info->flags & SIF_VIRT_P2M_4TOOLS) {
		lim = 0;
		why = "domU with SIF_VIRT_P2M_4TOOLS: the tools read the linear list, "
		      "not the 3-level tree";
	} else
		why = "domU without SIF_VIRT_P2M_4TOOLS: the tools read the 3-level tree "
		      "(512 GiB reach)";
	if (lim)
		printk("limit: %#lx pfns (%lu MiB), %s\n", (unsigned long)lim,
		       (unsigned long)(lim >> 8), why);
	else
		printk("limit: none, %s\n", why);
	return lim;
}

void memmap_plan(void)
{
	struct p2m_e820_input in;
	struct p2m_e820_plan *pl = &boot.plan;
	unsigned c;
	size_t i;
	int rc;

	p2m_e820_input_init(&in, boot.dom0);
	in.limit = plan_limit(in.limit);
	in.map = boot.map_in;
	in.nr_map = boot.nr_map_in;
	in.nr_pages = boot.nr_pages;
	in.max_pages = boot.max_pages;
	in.end = plan_end();
	in.objects[P2M_E820_OBJ_KERNEL] = (struct p2m_e820_object){
		pfn_of_va((uint64_t)(uintptr_t)__image_start),
		pfn_of_va((uint64_t)(uintptr_t)__image_end) -
			pfn_of_va((uint64_t)(uintptr_t)__image_start) };
	in.objects[P2M_E820_OBJ_P2M_LIST] =
		(struct p2m_e820_object){ boot.list_pfn, boot.list_frames };
	in.objects[P2M_E820_OBJ_PAGE_TABLES] = (struct p2m_e820_object){
		pfn_of_va(start_info->pt_base), start_info->nr_pt_frames };
	in.objects[P2M_E820_OBJ_START_INFO] = (struct p2m_e820_object){
		pfn_of_va((uint64_t)(uintptr_t)start_info), 1 };
	/* The initrd: a VA in the initial mapping, or a pfn when Xen says so. */
	if (start_info->mod_len) {
		boot.initrd_pfn = (start_info->flags & SIF_MOD_START_PFN)
					  ? start_info->mod_start
					  : pfn_of_va(start_info->mod_start);
		boot.initrd_len = start_info->mod_len;
		in.objects[P2M_E820_OBJ_INITRD] = (struct p2m_e820_object){
			boot.initrd_pfn, (boot.initrd_len + PAGE_SIZE - 1) >> PAGE_SHIFT };
	}

	p2m_e820_plan_init(pl, boot.map, MAX_RANGES);
	pl->layout = boot.layout;
	pl->layout_cap = sizeof(boot.layout) / sizeof(boot.layout[0]);
	pl->identity = boot.identity;
	pl->identity_cap = MAX_RANGES;
	pl->remap = boot.remap;
	pl->remap_cap = MAX_RANGES;
	pl->release = boot.release;
	pl->release_cap = MAX_RANGES;
	pl->extra = boot.extra;
	pl->extra_cap = MAX_RANGES;
	pl->conflicts = boot.conflicts;
	pl->conflicts_cap = sizeof(boot.conflicts) / sizeof(boot.conflicts[0]);
	rc = p2m_e820_plan(&in, pl);
	for (i = 0; i < pl->nr_conflicts && i < pl->conflicts_cap; i++) {
		char buf[200];

		p2m_e820_describe_conflict(&pl->conflicts[i], buf, sizeof(buf));
		printk("  conflict: %s\n", buf);
	}
	/* A fatal conflict (kernel, page tables, start_info) fails the plan
	 * with a message naming both ranges; the others are relocated
	 * (relocate.c) before the first frame moves. */
	if (rc)
		panic("E820 plan: %s", pl->error);
	printk("plan: end %#lx, max_pages %#lx, extra budget %#lx\n",
	       (unsigned long)pl->end, (unsigned long)pl->max_pages,
	       (unsigned long)pl->extra_budget);
	for (c = 0; c < P2M_E820_NCAT; c++)
		if (pl->pfns[c])
			printk("  %s: %#lx pfns\n", p2m_e820_category_name(c),
			       (unsigned long)pl->pfns[c]);
	for (i = 0; i < pl->nr_layout; i++)
		printk("  layout [%#lx, %#lx) %s\n", (unsigned long)pl->layout[i].start,
		       (unsigned long)pl->layout[i].end,
		       p2m_e820_category_name(pl->layout[i].kind));
}

/* The pool: the frames Xen gave past the initial mapping under RAM that
 * stays RAM, minus the INIT_P2M frames (they join when the initial list
 * is freed). Frames under holes join at their new pfns once remapped. */
void memmap_pool(void)
{
	const struct p2m_e820_plan *pl = &boot.plan;
	size_t i;

	for (i = 0; i < pl->nr_layout; i++) {
		uint64_t s = pl->layout[i].start, e = pl->layout[i].end;

		if (pl->layout[i].kind != P2M_E820_C_RAM)
			continue;
		if (s < boot.boot_end_pfn)
			s = boot.boot_end_pfn;
		if (e > boot.nr_pages)
			e = boot.nr_pages;
		if (s < e && !frames_add(s, e - s))
			panic("pool: cannot add [%#lx, %#lx)", (unsigned long)s, (unsigned long)e);
	}
	if (boot.init_p2m)
		frames_remove(boot.list_pfn, boot.list_frames);
	printk("frame pool: %lu free frames in %u extents\n",
	       (unsigned long)frames_free_count(), frames_extents());
}

/* A frame leaving its pfn must not stay mapped at the pfn's VA. */
static void unmap_if_initial(uint64_t pfn)
{
	if (pfn < boot.boot_end_pfn &&
	    hyp_update_va_mapping(VIRT_BASE + (pfn << PAGE_SHIFT), 0, UVMF_INVLPG | UVMF_LOCAL))
		panic("cannot unmap pfn %#lx of the initial mapping", (unsigned long)pfn);
}

/*
 * Move count frames from pfns src.. to dst..: unmap the source's VA if
 * the initial mapping has one, MMU_MACHPHYS_UPDATE, set the target in
 * the P2M. early: before p2m_build, the source entries of the initial
 * list are turned into identity entries as they go, so that the build
 * gives them shared identity pages instead of private leaves that would
 * be freed again (a 1 TB dom0 moves 2^28 frames: 2 GiB of list). After
 * the build the frames come from the P2M, and each chunk's whole source
 * slots become identity at once: their leaves (after an adopting build,
 * the initial list's own pages, which Xen has touched) go back to the
 * pool, where the next chunk's target leaves come from, so a 1 TB dom0
 * touches no fresh 2 GiB for the targets' list.
 */
static void remap_range(struct mmu_batch *b, uint64_t src, uint64_t dst, uint64_t count,
			bool early)
{
	uint64_t *initial = (uint64_t *)boot.initial;
	uint64_t done = 0, id_from = (src + P2M_PER_PAGE - 1) & ~(P2M_PER_PAGE - 1);
	struct hc_mark from = hc_mark();

	/* In chunks: once a chunk's M2P entries are written, its frames
	 * join the pool at their new pfns, so the leaves of the next
	 * chunks can come from them (at 1 TB the pool below the hole is
	 * smaller than the list of the targets). */
	while (done < count) {
		uint64_t n = count - done < 4096 ? count - done : 4096, i;

		for (i = done; i < done + n; i++) {
			uint64_t mfn = early ? initial[src + i] : p2m_mfn(&boot.p2m, src + i);
			int rc;

			unmap_if_initial(src + i);
			mmu_queue_m2p(b, mfn, dst + i);
			rc = p2m_set(&boot.p2m, dst + i, mfn);
			if (rc)
				panic("remap: p2m_set(%#lx): %s", (unsigned long)(dst + i),
				      p2m_last_error(&boot.p2m));
			if (early)
				initial[src + i] = p2m_identity_entry(src + i);
		}
		if (mmu_flush(b))
			panic("remap: MMU_MACHPHYS_UPDATE failed: %ld", b->err);
		if (!frames_add(dst + done, n))
			panic("remap target [%#lx, +%#lx) already in the pool",
			      (unsigned long)(dst + done), (unsigned long)n);
		done += n;
		if (!early) {
			uint64_t id_to = (src + done) & ~(P2M_PER_PAGE - 1);

			if (id_to > id_from && p2m_set_range_identity(&boot.p2m, id_from, id_to - id_from))
				panic("remap: p2m_set_range_identity(%#lx, %#lx): %s",
				      (unsigned long)id_from, (unsigned long)(id_to - id_from),
				      p2m_last_error(&boot.p2m));
			if (id_to > id_from)
				id_from = id_to;
		}
	}
	hc_add_since(&hc_remap, from);
	boot.remapped += count;
}

/* The first pfn past the windows p2m_build fills. */
static uint64_t build_end(void)
{
	return (boot.nr_pages + P2M_PER_WINDOW - 1) & ~(P2M_PER_WINDOW - 1);
}

/* Each remap's part whose targets lie beyond the build's windows, done
 * before the build (which needs fresh windows); its targets then join
 * the pool, so that a dom0 whose RAM mostly lies above a hole (1 TB:
 * QEMU puts it at 1 TiB) has frames to build with. */
void memmap_remap_early(void)
{
	const struct p2m_e820_plan *pl = &boot.plan;
	uint64_t lim = build_end();
	struct mmu_batch b;
	size_t r;

	mmu_batch_init(&b);
	for (r = 0; r < pl->nr_remap; r++) {
		const struct p2m_e820_remap *m = &pl->remap[r];
		uint64_t skip = m->dst >= lim ? 0 : lim - m->dst;

		if (skip < m->count)
			remap_range(&b, m->src + skip, m->dst + skip, m->count - skip, true);
	}
	if (boot.remapped)
		printk("remapped %lu page(s) before the build; pool %lu frames\n",
		       (unsigned long)boot.remapped, (unsigned long)frames_free_count());
}

/* The rest of each remap (targets inside the build's windows); all of
 * it after an adopting build (no early moves: the build needs no frames
 * for leaves, and the targets' leaves reuse the adopted source pages). */
static void do_remap(void)
{
	const struct p2m_e820_plan *pl = &boot.plan;
	uint64_t lim = boot.adopt ? ~0ull : build_end();
	struct mmu_batch b;
	size_t r;

	mmu_batch_init(&b);
	for (r = 0; r < pl->nr_remap; r++) {
		const struct p2m_e820_remap *m = &pl->remap[r];
		uint64_t n = m->dst >= lim ? 0 : lim - m->dst;

		if (n > m->count)
			n = m->count;
		if (n)
			remap_range(&b, m->src, m->dst, n, false);
	}
}

/*
 * Give back the frames the plan releases (RELEASED: under non-RAM with
 * no remap target left; TRIMMED: RAM at/above the limit), before the
 * build: each source entry of the initial list becomes what the plan
 * says the pfn is (identity, or missing), so p2m_build neither makes
 * private leaves for them nor counts them in max_pfn (a trimmed domU's
 * max_pfn is its limit, as the 3-level tree's reach requires). The pool
 * never held these pfns (memmap_pool seeds RAM only); frames_remove
 * only asserts that. A frame still referenced anywhere (a mapping) would
 * survive the hypercall with its M2P entry intact: the M2P is read back
 * (Xen invalidates it when the frame is freed) and any survivor counted
 * for the `released` check.
 */
void memmap_release(void)
{
	const struct p2m_e820_plan *pl = &boot.plan;
	uint64_t *initial = (uint64_t *)boot.initial;
	static xen_pfn_t mfns[512];
	static uint64_t pfns[512];
	size_t r;

	for (r = 0; r < pl->nr_release; r++) {
		uint64_t s = pl->release[r].start, e = pl->release[r].end, pfn = s;
		enum p2m_e820_category c = p2m_e820_category_of(pl, s);
		uint64_t before = frames_free_count();

		if (c != P2M_E820_C_RELEASED && c != P2M_E820_C_TRIMMED)
			panic("release [%#lx, %#lx): the layout says %s, not released/trimmed",
			      (unsigned long)s, (unsigned long)e, p2m_e820_category_name(c));
		if (e > boot.nr_pages)
			panic("release [%#lx, %#lx) reaches past nr_pages %#lx", (unsigned long)s,
			      (unsigned long)e, (unsigned long)boot.nr_pages);
		frames_remove(s, e - s);
		if (frames_free_count() != before)
			panic("release [%#lx, %#lx): %lu of its pfns were in the frame pool",
			      (unsigned long)s, (unsigned long)e,
			      (unsigned long)(before - frames_free_count()));
		while (pfn < e) {
			struct xen_memory_reservation res = { .extent_order = 0,
							      .domid = DOMID_SELF };
			unsigned n = 0, i;
			long rc;

			while (n < 512 && pfn < e) {
				uint64_t mfn = initial[pfn];

				if (mfn >= P2M_MFN_LIMIT)
					panic("release: pfn %#lx has no frame (initial entry %#lx)",
					      (unsigned long)pfn, (unsigned long)mfn);
				unmap_if_initial(pfn);
				pfns[n] = pfn;
				mfns[n++] = mfn;
				pfn++;
			}
			set_xen_guest_handle(res.extent_start, mfns);
			res.nr_extents = n;
			rc = hyp_memory_op(XENMEM_decrease_reservation, &res);
			if (rc != (long)n) {
				/* rc frames went back; the next one failed. */
				if (rc >= 0 && rc < (long)n)
					panic("XENMEM_decrease_reservation: pfn %#lx mfn %#lx refused "
					      "(rc %ld: %ld of %u extents done)",
					      (unsigned long)pfns[rc], (unsigned long)mfns[rc], rc, rc, n);
				panic("XENMEM_decrease_reservation: pfns [%#lx, %#lx] (mfn %#lx..): rc %ld",
				      (unsigned long)pfns[0], (unsigned long)pfns[n - 1],
				      (unsigned long)mfns[0], rc);
			}
			for (i = 0; i < n; i++) {
				uint64_t m2p;

				if (m2p_lookup(mfns[i], &m2p) && m2p == pfns[i]) {
					if (!boot.release_m2p_stale)
						printk("  released pfn %#lx: mfn %#lx still names it in "
						       "the M2P (still referenced?)\n",
						       (unsigned long)pfns[i], (unsigned long)mfns[i]);
					boot.release_m2p_stale++;
				}
				initial[pfns[i]] = c == P2M_E820_C_RELEASED
							   ? p2m_identity_entry(pfns[i])
							   : P2M_INVALID;
			}
			boot.released += n;
			if (c == P2M_E820_C_TRIMMED)
				boot.trimmed += n;
		}
	}
	if (boot.released)
		printk("released %lu page(s) (%lu trimmed above the limit) with "
		       "XENMEM_decrease_reservation; %lu still in the M2P\n",
		       (unsigned long)boot.released, (unsigned long)boot.trimmed,
		       (unsigned long)boot.release_m2p_stale);
}

void memmap_apply(void)
{
	const struct p2m_e820_plan *pl = &boot.plan;
	uint64_t cover = 0;
	size_t i;
	int rc;

	do_remap();
	rc = p2m_e820_apply(&boot.p2m, pl);
	if (rc)
		panic("p2m_e820_apply: %s", p2m_last_error(&boot.p2m));
	/* max_pfn covers what may hold a frame of ours: RAM, remap targets,
	 * the balloon's room; not the pfns given back (a trimmed tail is
	 * past the limit on purpose). */
	for (i = 0; i < pl->nr_layout; i++) {
		uint32_t k = pl->layout[i].kind;

		if ((k == P2M_E820_C_RAM || k == P2M_E820_C_REMAP_DST || k == P2M_E820_C_EXTRA) &&
		    pl->layout[i].end > cover)
			cover = pl->layout[i].end;
	}
	p2m_cover(&boot.p2m, cover);
	printk("applied the plan: remapped %lu page(s), released %lu page(s), max_pfn %#lx\n",
	       (unsigned long)boot.remapped, (unsigned long)boot.released,
	       (unsigned long)p2m_max_pfn(&boot.p2m));
}
