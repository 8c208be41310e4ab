/*
 * Structure changes: splitting shared slots and windows into private
 * frames, and joining them back (the rules: the overview at the top of
 * include/p2m/p2m.h).
 *
 * A split never changes a value that a reader can see: the new leaf starts
 * with exactly what the shared page stood for (~0, or the identity value
 * of each pfn counted from the slot's 512-aligned base), and the new table
 * maps the shared leaf at every slot, as the shared table did. The order
 * under the lock is: mapping first, then the kind byte (release), so a
 * reader that still finds ~0 through the old mapping and then reads
 * "private" knows to load the entry again (see p2m_raw()).
 *
 * A join goes the other way: kind byte first (a reader finding ~0 in the
 * old leaf now reads the new kind), then the mapping. Frames are freed only
 * after the lock is dropped.
 */
#include "internal.h"

void p2m_gen_begin(struct p2m *p)
{
	uint64_t g = p->generation + 1;

	__atomic_store_n(&p->generation, g, __ATOMIC_RELAXED);
	if (p->arch)
		__atomic_store_n(&p->arch->p2m_generation, g, __ATOMIC_RELAXED);
	/* The odd value is visible before any mapping changes. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

void p2m_gen_end(struct p2m *p)
{
	uint64_t g = p->generation + 1;

	/* Every mapping change is visible before the even value. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	__atomic_store_n(&p->generation, g, __ATOMIC_RELEASE);
	if (p->arch)
		__atomic_store_n(&p->arch->p2m_generation, g, __ATOMIC_RELEASE);
}

void p2m_fill_leaf(uint64_t *leaf, uint64_t slot, uint8_t k)
{
	uint64_t base = slot << P2M_SLOT_SHIFT;

	for (unsigned i = 0; i < P2M_PER_PAGE; i++)
		leaf[i] = k == P2M_SLOT_IDENTITY ? p2m_identity_entry(base + i) : P2M_INVALID;
}

void p2m_free_frames(struct p2m *p, size_t n, const xen_pfn_t *mfns)
{
	if (n)
		p->plat.free_frames(p->plat.ctx, n, mfns);
}

void p2m_free_table(struct p2m *p, xen_pfn_t table)
{
	p->plat.drop_table(p->plat.ctx, table);
	p->plat.free_frames(p->plat.ctx, 1, &table);
}

/* Fill a fresh frame through a view: a leaf of kind k for slot, or a
 * frame list whose entries are all `all`. */
static int prepare_frame(struct p2m *p, xen_pfn_t mfn, bool leaf, uint64_t slot,
			 uint8_t k, uint64_t all)
{
	uint64_t *f = p->plat.frame_map(p->plat.ctx, mfn);

	if (!f)
		return p2m_fail(p, P2M_EMAP, "cannot map new frame %#lx to fill it", mfn);
	if (leaf) {
		p2m_fill_leaf(f, slot, k);
	} else {
		for (unsigned i = 0; i < P2M_PER_PAGE; i++)
			f[i] = all;
	}
	p->plat.frame_unmap(p->plat.ctx, f);
	return 0;
}

/* Under the lock: hang a prepared table and frame list into window w. */
int p2m_install_window_locked(struct p2m *p, uint64_t w, xen_pfn_t table,
			       xen_pfn_t mid, uint8_t wk)
{
	if (p->plat.set_window(p->plat.ctx, window_va(p, w), table))
		return p2m_fail(p, P2M_EMAP, "cannot point window %llu at its new table %#lx",
				(unsigned long long)w, table);
	if (p->plat.map_frames(p->plat.ctx, mid_va(p, w), 1, &mid, P2M_MAP_RW)) {
		p->plat.set_window(p->plat.ctx, window_va(p, w), p->shared_table[wk]);
		return p2m_fail(p, P2M_EMAP, "cannot map the frame list %#lx of window %llu",
				mid, (unsigned long long)w);
	}
	set_window_record(p, w, table, mid);
	if (w < P2M_PER_PAGE)
		__atomic_store_n(&p->top[w], (uint64_t)mid, __ATOMIC_RELEASE);
	p->nr_private_tables++;
	p->nr_mids++;
	return 0;
}

/* Under the lock: take window w back to the shared table of kind k. The
 * caller has set every slot's kind to k; the old table and frame list are
 * returned for freeing after the lock is dropped. */
static int uninstall_window_locked(struct p2m *p, uint64_t w, uint8_t k,
				   struct p2m_window *old)
{
	*old = p->windows[w];
	/* The frame list is freed after the join: its writable mapping must
	 * go first, or a freed frame stays mapped (a guest could then never
	 * reuse it as a page table). */
	if (p->plat.map_frames(p->plat.ctx, mid_va(p, w), 1,
			       &p->shared_leaf[P2M_SLOT_MISSING], P2M_MAP_RO))
		return p2m_fail(p, P2M_EMAP, "cannot unmap the frame list of window %llu",
				(unsigned long long)w);
	if (p->plat.set_window(p->plat.ctx, window_va(p, w), p->shared_table[k])) {
		p->plat.map_frames(p->plat.ctx, mid_va(p, w), 1, &old->mid, P2M_MAP_RW);
		return p2m_fail(p, P2M_EMAP, "cannot point window %llu at the shared table",
				(unsigned long long)w);
	}
	if (w < P2M_PER_PAGE)
		__atomic_store_n(&p->top[w], (uint64_t)p->shared_mid, __ATOMIC_RELEASE);
	set_window_record(p, w, 0, 0);
	p->nr_private_tables--;
	p->nr_mids--;
	return 0;
}

int p2m_make_private(struct p2m *p, uint64_t slot, bool want_leaf)
{
	uint64_t w = slot >> P2M_SLOT_SHIFT;

	if (p->suspended)
		return p2m_fail(p, P2M_EBUSY,
				"slot %#llx cannot change while the P2M is suspended",
				(unsigned long long)slot);
	for (;;) {
		uint8_t k = slot_kind(p, slot);
		bool wshared = window_shared(p, w);
		uint8_t wk = slot_kind(p, w << P2M_SLOT_SHIFT);
		bool need_leaf = want_leaf && k != P2M_SLOT_PRIVATE;
		xen_pfn_t f[3]; /* table, mid, leaf */
		unsigned nf = 0, used = 0;
		int rc = 0;

		if (!need_leaf && !wshared)
			return 0;
		/* Read without the lock: a writer may have split the window
		 * between the two loads. Its first slot then reads private,
		 * which no shared window has: look again. */
		if (wshared && wk == P2M_SLOT_PRIVATE)
			continue;
		if (wshared)
			nf += 2;
		if (need_leaf)
			nf += 1;
		if (p->plat.alloc_frames(p->plat.ctx, nf, f))
			return p2m_fail(p, P2M_ENOMEM,
					"cannot allocate %u frame(s) to make slot %#llx private",
					nf, (unsigned long long)slot);
		if (wshared) {
			rc = prepare_frame(p, f[1], false, 0, 0, p->shared_leaf[wk]);
			if (!rc && p->plat.make_table(p->plat.ctx, f[0], p->shared_leaf[wk]))
				rc = p2m_fail(p, P2M_EMAP, "cannot make frame %#lx a table", f[0]);
		}
		if (!rc && need_leaf)
			rc = prepare_frame(p, f[nf - 1], true, slot, k, 0);
		if (rc) {
			if (wshared)
				p->plat.drop_table(p->plat.ctx, f[0]);
			p2m_free_frames(p, nf, f);
			return rc;
		}

		p->plat.lock(p->plat.ctx);
		if (slot_kind(p, slot) != k || window_shared(p, w) != wshared ||
		    (wshared && slot_kind(p, w << P2M_SLOT_SHIFT) != wk)) {
			/* Another writer changed it: start again. */
			p->plat.unlock(p->plat.ctx);
			if (wshared)
				p->plat.drop_table(p->plat.ctx, f[0]);
			p2m_free_frames(p, nf, f);
			continue;
		}
		p2m_gen_begin(p);
		if (wshared) {
			rc = p2m_install_window_locked(p, w, f[0], f[1], wk);
			if (!rc)
				used = 2;
		}
		if (!rc && need_leaf) {
			xen_pfn_t leaf = f[nf - 1];

			if (p->plat.map_frames(p->plat.ctx, slot_va(p, slot), 1, &leaf, P2M_MAP_RW)) {
				rc = p2m_fail(p, P2M_EMAP, "cannot map leaf %#lx at slot %#llx",
					      leaf, (unsigned long long)slot);
			} else {
				__atomic_store_n(&mid_va(p, w)[slot & (SLOTS_PER_WINDOW - 1)],
						 (uint64_t)leaf, __ATOMIC_RELEASE);
				set_slot_kind(p, slot, P2M_SLOT_PRIVATE);
				p->nr_private_leaves++;
				used = nf;
			}
		}
		if (rc && used) {
			/* The leaf failed after the window was split: undo that. */
			struct p2m_window old;

			uninstall_window_locked(p, w, wk, &old);
			used = 0;
		}
		p2m_gen_end(p);
		p->plat.unlock(p->plat.ctx);
		if (used < nf) {
			if (wshared && used == 0)
				p->plat.drop_table(p->plat.ctx, f[0]);
			p2m_free_frames(p, nf - used, f + used);
		}
		return rc;
	}
}

int p2m_join_slot_locked(struct p2m *p, uint64_t slot, uint8_t k, xen_pfn_t *freed)
{
	uint64_t w = slot >> P2M_SLOT_SHIFT;
	uint64_t *mid = mid_va(p, w);
	unsigned i = slot & (SLOTS_PER_WINDOW - 1);
	uint8_t old = slot_kind(p, slot);
	xen_pfn_t leaf = (xen_pfn_t)mid[i];

	*freed = 0;
	if (old == k)
		return 0;
	set_slot_kind(p, slot, k);
	if (p->plat.map_frames(p->plat.ctx, slot_va(p, slot), 1, &p->shared_leaf[k], P2M_MAP_RO)) {
		set_slot_kind(p, slot, old);
		return p2m_fail(p, P2M_EMAP, "cannot map the shared page at slot %#llx",
				(unsigned long long)slot);
	}
	__atomic_store_n(&mid[i], (uint64_t)p->shared_leaf[k], __ATOMIC_RELEASE);
	if (old == P2M_SLOT_PRIVATE) {
		*freed = leaf;
		p->nr_private_leaves--;
	}
	return 0;
}

static int join_window(struct p2m *p, uint64_t w, uint8_t k, bool only_if_uniform)
{
	uint64_t first = w << P2M_SLOT_SHIFT;
	uint8_t before[SLOTS_PER_WINDOW];
	xen_pfn_t leaves[SLOTS_PER_WINDOW];
	struct p2m_window old = { 0, 0 };
	unsigned nleaves = 0;
	bool was_private;
	int rc = 0;

	p->plat.lock(p->plat.ctx);
	was_private = !window_shared(p, w);
	if (!was_private && slot_kind(p, first) == k) {
		p->plat.unlock(p->plat.ctx);
		return 0;
	}
	/* The caller saw the window uniform without the lock; a writer of
	 * another pfn may have made a slot private since. */
	if (only_if_uniform)
		for (unsigned i = 0; i < SLOTS_PER_WINDOW; i++)
			if (slot_kind(p, first + i) != k) {
				p->plat.unlock(p->plat.ctx);
				return 0;
			}
	for (unsigned i = 0; i < SLOTS_PER_WINDOW; i++) {
		before[i] = slot_kind(p, first + i);
		set_slot_kind(p, first + i, k);
	}
	p2m_gen_begin(p);
	if (was_private) {
		/* Remember the leaves while the frame list is still mapped. */
		for (unsigned i = 0; i < SLOTS_PER_WINDOW; i++)
			if (before[i] == P2M_SLOT_PRIVATE)
				leaves[nleaves++] = (xen_pfn_t)mid_va(p, w)[i];
		rc = uninstall_window_locked(p, w, k, &old);
	} else if (p->plat.set_window(p->plat.ctx, window_va(p, w), p->shared_table[k])) {
		rc = p2m_fail(p, P2M_EMAP, "cannot point window %llu at the shared table",
			      (unsigned long long)w);
	}
	if (rc) {
		for (unsigned i = 0; i < SLOTS_PER_WINDOW; i++)
			set_slot_kind(p, first + i, before[i]);
		nleaves = 0;
		was_private = false;
	}
	p->nr_private_leaves -= nleaves;
	p2m_gen_end(p);
	p->plat.unlock(p->plat.ctx);

	p2m_free_frames(p, nleaves, leaves);
	if (was_private) {
		p2m_free_frames(p, 1, &old.mid);
		p2m_free_table(p, old.table);
	}
	return rc;
}

int p2m_join_window(struct p2m *p, uint64_t w, uint8_t k)
{
	return join_window(p, w, k, false);
}

int p2m_join_window_if_uniform(struct p2m *p, uint64_t w, uint8_t k)
{
	return join_window(p, w, k, true);
}

void p2m_note_pfn(struct p2m *p, uint64_t pfn)
{
	uint64_t want = (pfn + P2M_PER_PAGE) & ~(P2M_PER_PAGE - 1);
	struct arch_shared_info *arch;

	/* Covered already: max_pfn only grows. */
	if (__atomic_load_n(&p->max_pfn, __ATOMIC_ACQUIRE) >= want)
		return;
	/* Raising is rare (at most once per 512 pfns of growth) and done
	 * under the lock, so that p2m_publish() copies a value no raise can
	 * overtake, and after p2m_unpublish() nothing writes into the
	 * published structure any more (it may be unmapped). */
	p->plat.lock(p->plat.ctx);
	if (p->max_pfn < want)
		__atomic_store_n(&p->max_pfn, want, __ATOMIC_RELEASE);
	arch = __atomic_load_n(&p->arch, __ATOMIC_RELAXED);
	if (arch && __atomic_load_n(&arch->max_pfn, __ATOMIC_RELAXED) < want)
		__atomic_store_n(&arch->max_pfn, want, __ATOMIC_RELEASE);
	p->plat.unlock(p->plat.ctx);
}
