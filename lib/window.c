/*
 * The life cycle of windows and slots, in one place: every change of a
 * window or a slot between shared and private, and every count of the
 * private frames that go with it (nr_private_leaves, nr_private_tables,
 * nr_mids), is made by a function of this file. Splitting (structure.c),
 * the range calls (update.c), building (build.c) and destroying
 * (create.c) call these; none of them touches the counters itself.
 *
 * Window records: {0, 0} a shared window; {table, mid} a private one;
 * {0, mid} a shared window whose frame list is "parked": a failure left
 * mid mapped read-write at the window's frame-list address, so it cannot
 * be freed yet. A parked frame list is counted in nr_mids, reused by the
 * next split of the window and freed by p2m_destroy(). Parking is what
 * lets every step end in a consistent state without an undo that could
 * itself fail.
 *
 * Order (the overview at the top of include/p2m/p2m.h): a split maps
 * first and then stores the kind byte (release); a join stores the kind
 * byte first and then remaps. Frames are freed after the lock is
 * dropped.
 */
#include "internal.h"

/* --- windows: shared <-> private --- */

/* Under the lock: hang a prepared table and frame list into shared window
 * w of kind wk. The frame list goes first: a window whose table is hung
 * always has its frame list mapped. *mid_taken says whether the P2M now
 * owns mid (mapped, or parked after a failed set_window); when it is
 * false the caller frees mid. On failure every value reads as before.
 * names: what mid was filled with (NULL: shared_leaf[wk] everywhere),
 * copied into a parked frame list, which is hung instead of mid. */
int p2m_install_window_locked(struct p2m *p, uint64_t w, xen_pfn_t table, xen_pfn_t mid,
			      uint8_t wk, const xen_pfn_t *names, bool *mid_taken)
{
	xen_pfn_t parked = p->windows[w].mid;
	uint64_t *m = mid_va(p, w);

	*mid_taken = false;
	if (parked) {
		/* Mapped already, and seen by no reader (the tree's top names
		 * the shared frame list): it takes the content of mid. */
		for (unsigned i = 0; i < SLOTS_PER_WINDOW; i++)
			m[i] = names ? names[i] : p->shared_leaf[wk];
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

/* p2m_destroy(), with nothing else running: give back window w's private
 * frames (a parked frame list too); the window becomes shared missing.
 * Mapping failures are ignored: the reservation goes next. */
void p2m_window_teardown(struct p2m *p, uint64_t w)
{
	struct p2m_window win = p->windows[w];
	uint64_t *mid = mid_va(p, w);

	if (window_parked(p, w)) {
		p->plat.map_frames(p->plat.ctx, mid, 1, &p->shared_leaf[P2M_SLOT_MISSING],
				   P2M_MAP_RO);
		p2m_free_frames(p, 1, &win.mid);
		p->windows[w] = (struct p2m_window){ 0, 0 };
		p->nr_mids--;
		return;
	}
	if (window_shared(p, w))
		return;
	p->plat.set_window(p->plat.ctx, window_va(p, w), p->shared_table[P2M_SLOT_MISSING]);
	for (unsigned i = 0; i < SLOTS_PER_WINDOW; i++) {
		xen_pfn_t leaf = (xen_pfn_t)mid[i];

		if (leaf != p->shared_leaf[P2M_SLOT_MISSING] &&
		    leaf != p->shared_leaf[P2M_SLOT_IDENTITY]) {
			p->plat.free_frames(p->plat.ctx, 1, &leaf);
			p->nr_private_leaves--;
		}
	}
	p->plat.map_frames(p->plat.ctx, mid, 1, &p->shared_leaf[P2M_SLOT_MISSING], P2M_MAP_RO);
	p2m_free_frames(p, 1, &win.mid);
	p2m_free_table(p, win.table);
	p->windows[w] = (struct p2m_window){ 0, 0 };
	p->nr_private_tables--;
	p->nr_mids--;
}

/* --- slots of a private window: shared <-> private --- */

/* Under the lock: map a filled leaf at slot (its window is private), name
 * it in the frame list, then make the slot private (release). Fails
 * changing nothing. */
int p2m_slot_install_leaf_locked(struct p2m *p, uint64_t slot, xen_pfn_t leaf)
{
	uint64_t w = p2m_slot_window(slot);

	if (p->plat.map_frames(p->plat.ctx, slot_va(p, slot), 1, &leaf, P2M_MAP_RW))
		return p2m_fail(p, P2M_EMAP, "cannot map leaf %#lx at slot %#llx", leaf,
				(unsigned long long)slot);
	__atomic_store_n(&mid_va(p, w)[p2m_slot_index(slot)], (uint64_t)leaf, __ATOMIC_RELEASE);
	set_slot_kind(p, slot, P2M_SLOT_PRIVATE);
	p->nr_private_leaves++;
	return 0;
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

/* --- whole windows back to a shared table --- */

/* A window's slot kinds before a join, and its leaves to free after it. */
struct join {
	uint8_t before[SLOTS_PER_WINDOW];
	xen_pfn_t leaves[SLOTS_PER_WINDOW];
	unsigned nleaves;
};

/* Under the lock: whether window w must be joined to kind k (not when it
 * is shared of kind k already; with only_if_uniform, only when every
 * slot is shared of kind k: a writer of another pfn may have made a slot
 * private since the caller looked). */
static bool join_wanted_locked(struct p2m *p, uint64_t w, uint8_t k, bool only_if_uniform)
{
	uint64_t first = p2m_window_slot(w);

	if (window_shared(p, w) && slot_kind(p, first) == k)
		return false;
	if (only_if_uniform)
		for (unsigned i = 0; i < SLOTS_PER_WINDOW; i++)
			if (slot_kind(p, first + i) != k)
				return false;
	return true;
}

/* Under the lock: every slot of w says k (kind first, see the top), the
 * old kinds and the private leaves are noted in j. */
static void join_set_kinds_locked(struct p2m *p, uint64_t w, uint8_t k, struct join *j)
{
	uint64_t first = p2m_window_slot(w);
	bool was_private = !window_shared(p, w);

	j->nleaves = 0;
	for (unsigned i = 0; i < SLOTS_PER_WINDOW; i++) {
		j->before[i] = slot_kind(p, first + i);
		set_slot_kind(p, first + i, k);
		/* Remember the leaves while the frame list is still mapped. */
		if (was_private && j->before[i] == P2M_SLOT_PRIVATE)
			j->leaves[j->nleaves++] = (xen_pfn_t)mid_va(p, w)[i];
	}
}

static void join_restore_kinds_locked(struct p2m *p, uint64_t w, const struct join *j)
{
	uint64_t first = p2m_window_slot(w);

	for (unsigned i = 0; i < SLOTS_PER_WINDOW; i++)
		set_slot_kind(p, first + i, j->before[i]);
}

static int join_window(struct p2m *p, uint64_t w, uint8_t k, bool only_if_uniform)
{
	struct p2m_window old = { 0, 0 };
	struct join j;
	bool was_private;
	int rc = 0;

	p->plat.lock(p->plat.ctx);
	if (!join_wanted_locked(p, w, k, only_if_uniform)) {
		p->plat.unlock(p->plat.ctx);
		return 0;
	}
	was_private = !window_shared(p, w);
	join_set_kinds_locked(p, w, k, &j);
	p2m_gen_begin(p);
	if (was_private)
		rc = p2m_uninstall_window_locked(p, w, k, &old);
	else if (p->plat.set_window(p->plat.ctx, window_va(p, w), p->shared_table[k]))
		rc = p2m_fail(p, P2M_EMAP, "cannot point window %llu at the shared table",
			      (unsigned long long)w);
	if (rc && !(was_private && window_shared(p, w))) {
		/* Not joined (a join whose frame list stayed parked is). */
		join_restore_kinds_locked(p, w, &j);
		j.nleaves = 0;
		was_private = false;
	}
	p->nr_private_leaves -= j.nleaves;
	p2m_gen_end(p);
	p->plat.unlock(p->plat.ctx);

	p2m_free_frames(p, j.nleaves, j.leaves);
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

/* --- a window that p2m_build() hung --- */

/* Under the lock, once its leaves are mapped: every slot of w that is
 * not missing takes its kind from kinds[], its private leaves counted. */
void p2m_window_settle_locked(struct p2m *p, uint64_t w, const uint8_t *kinds)
{
	uint64_t first = p2m_window_slot(w);

	for (unsigned i = 0; i < SLOTS_PER_WINDOW; i++) {
		if (kinds[i] == P2M_SLOT_MISSING)
			continue;
		set_slot_kind(p, first + i, kinds[i]);
		p->nr_private_leaves += kinds[i] == P2M_SLOT_PRIVATE;
	}
}

/* Under the lock, in a private window that cannot go back to the shared
 * table: a leaf mapped at slot whose kind was never set is cleared to ~0
 * and kept as a private slot (counted). */
void p2m_slot_keep_cleared_locked(struct p2m *p, uint64_t slot)
{
	uint64_t *leaf = slot_va(p, slot);

	for (unsigned j = 0; j < P2M_PER_PAGE; j++)
		__atomic_store_n(&leaf[j], P2M_INVALID, __ATOMIC_RELAXED);
	set_slot_kind(p, slot, P2M_SLOT_PRIVATE);
	p->nr_private_leaves++;
}

/* Under the lock: the frame list of slot's (private) window names the
 * shared missing leaf for it again, which the table still maps there. */
void p2m_slot_forget_leaf_locked(struct p2m *p, uint64_t slot)
{
	__atomic_store_n(&mid_va(p, p2m_slot_window(slot))[p2m_slot_index(slot)],
			 (uint64_t)p->shared_leaf[P2M_SLOT_MISSING], __ATOMIC_RELEASE);
}

/* Under the lock, when window w cannot go back to the shared missing
 * table: make it read missing without a mapping change. Private leaves
 * are cleared; identity slots become missing (their shared page reads ~0
 * like the missing one). */
void p2m_window_clear_locked(struct p2m *p, uint64_t w)
{
	uint64_t first = p2m_window_slot(w);

	for (unsigned i = 0; i < SLOTS_PER_WINDOW; i++) {
		uint8_t k = slot_kind(p, first + i);

		if (k == P2M_SLOT_IDENTITY) {
			set_slot_kind(p, first + i, P2M_SLOT_MISSING);
		} else if (k == P2M_SLOT_PRIVATE) {
			uint64_t *leaf = slot_va(p, first + i);

			for (unsigned j = 0; j < P2M_PER_PAGE; j++)
				__atomic_store_n(&leaf[j], P2M_INVALID, __ATOMIC_RELEASE);
		}
	}
}
