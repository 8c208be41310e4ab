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
	uint64_t base = p2m_slot_pfn(slot);

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

/*
 * Window records: {0, 0} a shared window; {table, mid} a private one;
 * {0, mid} a shared window whose frame list is "parked": a failure left
 * mid mapped read-write at the window's frame-list address, so it cannot
 * be freed yet. A parked frame list is counted in nr_mids, reused by the
 * next split of the window and freed by p2m_destroy(). Parking is what
 * lets every step below end in a consistent state without an undo that
 * could itself fail.
 */

/* Under the lock: hang a prepared table and frame list into shared window
 * w of kind wk. The frame list goes first: a window whose table is hung
 * always has its frame list mapped. *mid_taken says whether the P2M now
 * owns mid (mapped, or parked after a failed set_window); when it is
 * false the caller frees mid. On failure every value reads as before. */
int p2m_install_window_locked(struct p2m *p, uint64_t w, xen_pfn_t table, xen_pfn_t mid,
			      uint8_t wk, bool *mid_taken)
{
	xen_pfn_t parked = p->windows[w].mid;
	uint64_t *m = mid_va(p, w);

	*mid_taken = false;
	if (parked) {
		/* Mapped already: rewrite it for this window's kind. */
		for (unsigned i = 0; i < SLOTS_PER_WINDOW; i++)
			m[i] = p->shared_leaf[wk];
		mid = parked;
	} else {
		if (p->plat.map_frames(p->plat.ctx, m, 1, &mid, P2M_MAP_RW))
			return p2m_fail(p, P2M_EMAP, "cannot map the frame list %#lx of window %llu",
					mid, (unsigned long long)w);
		*mid_taken = true;
		p->nr_mids++;
	}
	if (p->plat.set_window(p->plat.ctx, window_va(p, w), table)) {
		set_window_record(p, w, 0, mid); /* parked */
		return p2m_fail(p, P2M_EMAP, "cannot point window %llu at its new table %#lx",
				(unsigned long long)w, table);
	}
	set_window_record(p, w, table, mid);
	if (w < P2M_PER_PAGE)
		__atomic_store_n(&p->top[w], (uint64_t)mid, __ATOMIC_RELEASE);
	p->nr_private_tables++;
	return 0;
}

/* Under the lock: take window w back to the shared table of kind k (the
 * caller has set every slot's kind to k). When the window cannot be
 * pointed at the shared table it fails changing nothing. Otherwise the
 * window is shared and *old holds the table to free after the lock is
 * dropped, and the frame list to free; when the frame list cannot be
 * unmapped it stays parked (old->mid 0: a frame still mapped writable
 * must not be freed, a guest could never reuse it as a page table) and
 * the call fails, with the window shared all the same. */
int p2m_uninstall_window_locked(struct p2m *p, uint64_t w, uint8_t k, struct p2m_window *old)
{
	*old = p->windows[w];
	if (p->plat.set_window(p->plat.ctx, window_va(p, w), p->shared_table[k]))
		return p2m_fail(p, P2M_EMAP, "cannot point window %llu at the shared table",
				(unsigned long long)w);
	if (w < P2M_PER_PAGE)
		__atomic_store_n(&p->top[w], (uint64_t)p->shared_mid, __ATOMIC_RELEASE);
	p->nr_private_tables--;
	if (p->plat.map_frames(p->plat.ctx, mid_va(p, w), 1, &p->shared_leaf[P2M_SLOT_MISSING],
			       P2M_MAP_RO)) {
		set_window_record(p, w, 0, old->mid);
		old->mid = 0;
		return p2m_fail(p, P2M_EMAP, "cannot unmap the frame list of window %llu",
				(unsigned long long)w);
	}
	set_window_record(p, w, 0, 0);
	p->nr_mids--;
	return 0;
}

int p2m_refuse_suspended(struct p2m *p, const char *call)
{
	if (!p->suspended)
		return 0;
	return p2m_fail(p, P2M_EBUSY,
			"%s cannot change the P2M while it is suspended (between p2m_suspend and p2m_resume)",
			call);
}

/* Frames make_private allocated and what became of them. */
struct split {
	xen_pfn_t f[3]; /* table, mid, leaf */
	unsigned nf;
	bool wshared, need_leaf;
	bool table_used, mid_taken, leaf_used;
	xen_pfn_t old_mid; /* a parked frame list the undo released */
};

/* After the lock is dropped: free what the split did not use. */
static void split_release(struct p2m *p, struct split *s)
{
	if (s->wshared && !s->table_used)
		p2m_free_table(p, s->f[0]);
	if (s->wshared && !s->mid_taken)
		p2m_free_frames(p, 1, &s->f[1]);
	if (s->old_mid)
		p2m_free_frames(p, 1, &s->old_mid);
	if (s->need_leaf && !s->leaf_used)
		p2m_free_frames(p, 1, &s->f[2]);
}

/* Allocate and fill the frames of a split outside the lock. */
static int split_prepare(struct p2m *p, struct split *s, uint64_t slot, uint8_t k, uint8_t wk)
{
	int rc = 0;

	s->nf = (s->wshared ? 2 : 0) + (s->need_leaf ? 1 : 0);
	if (p->plat.alloc_frames(p->plat.ctx, s->nf, s->wshared ? s->f : s->f + 2))
		return p2m_fail(p, P2M_ENOMEM,
				"cannot allocate %u frame(s) to make slot %#llx private",
				s->nf, (unsigned long long)slot);
	if (s->wshared) {
		rc = prepare_frame(p, s->f[1], false, 0, 0, p->shared_leaf[wk]);
		if (!rc && p->plat.make_table(p->plat.ctx, s->f[0], p->shared_leaf[wk]))
			rc = p2m_fail(p, P2M_EMAP, "cannot make frame %#lx a table", s->f[0]);
	}
	if (!rc && s->need_leaf)
		rc = prepare_frame(p, s->f[2], true, slot, k, 0);
	if (rc)
		split_release(p, s);
	return rc;
}

/* Under the lock: hang the split's frames. */
static int split_commit(struct p2m *p, struct split *s, uint64_t slot, uint8_t wk)
{
	uint64_t w = p2m_slot_window(slot);
	struct p2m_window old;
	int rc = 0;

	if (s->wshared) {
		rc = p2m_install_window_locked(p, w, s->f[0], s->f[1], wk, &s->mid_taken);
		s->table_used = rc == 0;
	}
	if (rc || !s->need_leaf)
		return rc;
	if (p->plat.map_frames(p->plat.ctx, slot_va(p, slot), 1, &s->f[2], P2M_MAP_RW)) {
		rc = p2m_fail(p, P2M_EMAP, "cannot map leaf %#lx at slot %#llx", s->f[2],
			      (unsigned long long)slot);
		/* Undo the window's split. Should that fail too, the window
		 * stays private: its table shows what the shared one did. */
		if (s->table_used) {
			char msg[sizeof(p->error)];

			__builtin_memcpy(msg, p->error, sizeof(msg));
			p2m_uninstall_window_locked(p, w, wk, &old);
			__builtin_memcpy(p->error, msg, sizeof(msg));
		}
		if (s->table_used && window_shared(p, w)) {
			s->table_used = false;
			/* The frame list it let go: ours, or one parked by
			 * an earlier failure (0: it stays parked). */
			if (old.mid == s->f[1])
				s->mid_taken = false;
			else if (old.mid)
				s->old_mid = old.mid;
		}
		return rc;
	}
	__atomic_store_n(&mid_va(p, w)[p2m_slot_index(slot)], (uint64_t)s->f[2],
			 __ATOMIC_RELEASE);
	set_slot_kind(p, slot, P2M_SLOT_PRIVATE);
	p->nr_private_leaves++;
	s->leaf_used = true;
	return 0;
}

int p2m_make_private(struct p2m *p, uint64_t slot, bool want_leaf)
{
	uint64_t w = p2m_slot_window(slot);
	int rc = p2m_refuse_suspended(p, "a split of a shared slot");

	if (rc)
		return rc;
	for (;;) {
		uint8_t k = slot_kind(p, slot);
		uint8_t wk = slot_kind(p, p2m_window_slot(w));
		struct split s = { .wshared = window_shared(p, w) };

		s.need_leaf = want_leaf && k != P2M_SLOT_PRIVATE;
		if (!s.need_leaf && !s.wshared)
			return 0;
		/* Read without the lock: a writer may have split the window
		 * between the two loads. Its first slot then reads private,
		 * which no shared window has: look again. */
		if (s.wshared && wk == P2M_SLOT_PRIVATE)
			continue;
		rc = split_prepare(p, &s, slot, k, wk);
		if (rc)
			return rc;

		p->plat.lock(p->plat.ctx);
		if (slot_kind(p, slot) != k || window_shared(p, w) != s.wshared ||
		    (s.wshared && slot_kind(p, p2m_window_slot(w)) != wk)) {
			/* Another writer changed it: start again. */
			p->plat.unlock(p->plat.ctx);
			split_release(p, &s);
			continue;
		}
		p2m_gen_begin(p);
		rc = split_commit(p, &s, slot, wk);
		p2m_gen_end(p);
		p->plat.unlock(p->plat.ctx);
		split_release(p, &s);
		return rc;
	}
}

int p2m_join_slot_locked(struct p2m *p, uint64_t slot, uint8_t k, xen_pfn_t *freed)
{
	uint64_t w = p2m_slot_window(slot);
	uint64_t *mid = mid_va(p, w);
	unsigned i = p2m_slot_index(slot);
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
	uint64_t first = p2m_window_slot(w);
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
		rc = p2m_uninstall_window_locked(p, w, k, &old);
	} else if (p->plat.set_window(p->plat.ctx, window_va(p, w), p->shared_table[k])) {
		rc = p2m_fail(p, P2M_EMAP, "cannot point window %llu at the shared table",
			      (unsigned long long)w);
	}
	if (rc && !(was_private && window_shared(p, w))) {
		/* Not joined (a join whose frame list stayed parked is). */
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
		if (old.mid) /* else it stays parked */
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
