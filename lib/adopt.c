/*
 * The adopting build (p2m_build_adopt, include/p2m/p2m.h): page k of the
 * initial list already holds exactly the 512 entries of slot k, so its
 * frame becomes slot k's private leaf, mapped into the list window as it
 * is. Nothing is copied; the P2M allocates only a table and a frame list
 * per window with private slots. The frames of uniform slots (all
 * missing, or the identity value of each pfn) are given back to the
 * platform once every window is in.
 *
 * Window by window, as p2m_build (lib/build.c), whose classification is
 * shared: classify every slot from the caller's mapping (a RAM slot is
 * recognised from its first entry and validated with one OR over the
 * slot), allocate and fill the window's table and frame list outside the
 * lock, then hang the window and map its leaves in runs under the lock.
 * The only write into a caller's frame is the tail of a partial last page
 * (entries past n become ~0, before it is mapped).
 *
 * Failure. The caller's frames must come back untouched and unowned. A
 * window whose leaves failed to map goes back to the shared missing table;
 * if that mapping change fails, its slots are remapped to the shared
 * missing leaf in one call (the window stays private with a table and
 * frame list of the P2M's own, every slot missing); only if that fails
 * too are the caller's leaves cleared in place and kept by the P2M
 * (documented in p2m.h). Windows already hung are taken back the same way,
 * from the state the P2M records, so no plan per window is kept.
 */
#include "internal.h"

/* What one window needs and holds while it is adopted. */
struct aplan {
	uint8_t kinds[SLOTS_PER_WINDOW];
	xen_pfn_t leaves[SLOTS_PER_WINDOW]; /* caller's frame, or a shared leaf */
	unsigned nprivate, nidentity;
	xen_pfn_t table, mid;
	bool table_used, mid_taken;
	xen_pfn_t old_mid; /* a parked frame list the undo released */
};

static uint64_t slot_count(uint64_t n, uint64_t base)
{
	return n - base < P2M_PER_PAGE ? n - base : P2M_PER_PAGE;
}

/* Classify window w's slots into ap. */
static int adopt_classify(struct p2m *p, uint64_t w, const uint64_t *initial,
			  const xen_pfn_t *frames, uint64_t n, struct aplan *ap)
{
	uint64_t first = p2m_window_slot(w);
	int rc;

	ap->nprivate = ap->nidentity = 0;
	for (unsigned i = 0; i < SLOTS_PER_WINDOW; i++) {
		uint64_t base = p2m_slot_pfn(first + i);

		ap->kinds[i] = P2M_SLOT_MISSING;
		if (base < n) {
			rc = p2m_build_classify(p, initial + base, base, slot_count(n, base),
						&ap->kinds[i]);
			if (rc)
				return rc;
		}
		if (ap->kinds[i] == P2M_SLOT_PRIVATE) {
			ap->leaves[i] = frames[first + i];
			ap->nprivate++;
		} else {
			ap->leaves[i] = p->shared_leaf[ap->kinds[i]];
			ap->nidentity += ap->kinds[i] == P2M_SLOT_IDENTITY;
		}
	}
	return 0;
}

/* Outside the lock: the table and the frame list; a partial last page
 * gets ~0 past n. On failure nothing is left allocated. */
static int adopt_prepare(struct p2m *p, uint64_t w, struct aplan *ap, uint64_t n)
{
	uint64_t last = p2m_pfn_slot(n - 1);
	uint64_t *v;
	int rc = p2m_alloc_window_frames(p, w, &ap->table, &ap->mid);

	if (rc)
		return rc;
	v = p->plat.frame_map(p->plat.ctx, ap->mid);
	if (!v) {
		rc = p2m_fail(p, P2M_EMAP, "cannot map frame list %#lx to fill it", ap->mid);
	} else {
		__builtin_memcpy(v, ap->leaves, sizeof(ap->leaves));
		p->plat.frame_unmap(p->plat.ctx, v);
	}
	if (!rc && (n & (P2M_PER_PAGE - 1)) && p2m_slot_window(last) == w &&
	    ap->kinds[p2m_slot_index(last)] == P2M_SLOT_PRIVATE) {
		xen_pfn_t leaf = ap->leaves[p2m_slot_index(last)];

		v = p->plat.frame_map(p->plat.ctx, leaf);
		if (!v) {
			rc = p2m_fail(p, P2M_EMAP, "cannot map page %#llx of the list (frame %#lx) to end it",
				      (unsigned long long)last, leaf);
		} else {
			for (uint64_t j = n & (P2M_PER_PAGE - 1); j < P2M_PER_PAGE; j++)
				v[j] = P2M_INVALID;
			p->plat.frame_unmap(p->plat.ctx, v);
		}
	}
	if (rc) {
		p2m_free_table(p, ap->table);
		p2m_free_frames(p, 1, &ap->mid);
	}
	return rc;
}


/*
 * Under the lock: private window w, whose slots [0, upto) may map frames
 * of the caller and whose kind bytes all say missing, gives them up. The
 * window goes back to the shared missing table (*old names its table and
 * frame list to free, *shared is set); else its slots are remapped to the
 * shared missing leaf in one call and its frame list says so; else the
 * private slots among them (privs[i]) are cleared in place and stay the
 * P2M's leaves. Keeps the caller's error message.
 */
static void give_up_window_locked(struct p2m *p, uint64_t w, const bool *privs, unsigned upto,
				  struct p2m_window *old, bool *shared)
{
	uint64_t first = p2m_window_slot(w), *mid = mid_va(p, w);
	xen_pfn_t miss[SLOTS_PER_WINDOW];
	char msg[sizeof(p->error)];

	__builtin_memcpy(msg, p->error, sizeof(msg));
	*shared = false;
	old->table = old->mid = 0;
	p2m_uninstall_window_locked(p, w, P2M_SLOT_MISSING, old);
	if (window_shared(p, w)) {
		*shared = true;
		goto out;
	}
	old->table = old->mid = 0;
	if (upto == 0) /* nothing of the caller's is mapped */
		goto out;
	for (unsigned i = 0; i < upto; i++)
		miss[i] = p->shared_leaf[P2M_SLOT_MISSING];
	if (p->plat.map_frames(p->plat.ctx, slot_va(p, first), upto, miss, P2M_MAP_RO) == 0) {
		for (unsigned i = 0; i < upto; i++)
			__atomic_store_n(&mid[i], (uint64_t)miss[i], __ATOMIC_RELEASE);
		goto out;
	}
	for (unsigned i = 0; i < upto; i++) {
		uint64_t *leaf = slot_va(p, first + i);

		if (!privs[i])
			continue;
		for (unsigned j = 0; j < P2M_PER_PAGE; j++)
			__atomic_store_n(&leaf[j], P2M_INVALID, __ATOMIC_RELEASE);
		set_slot_kind(p, first + i, P2M_SLOT_PRIVATE);
		p->nr_private_leaves++;
	}
	p2m_fail(p, 0, "%s; window %llu kept the list's pages [%#llx, %#llx) it had mapped (cleared)",
		 msg, (unsigned long long)w, (unsigned long long)first,
		 (unsigned long long)(first + upto));
	return;
out:
	__builtin_memcpy(p->error, msg, sizeof(msg));
}

/* After the lock is dropped: free what a given-up window let go. */
static void free_given_up(struct p2m *p, const struct p2m_window *old, xen_pfn_t own_mid,
			  bool *mid_taken)
{
	if (!old->table)
		return;
	p2m_free_table(p, old->table);
	if (old->mid == own_mid && mid_taken)
		*mid_taken = false;
	else if (old->mid)
		p2m_free_frames(p, 1, &old->mid);
}

/* Adopt window w (private slots). On failure it is as before, its
 * table and frame list freed (or, see above, kept by the P2M). */
static int adopt_window(struct p2m *p, uint64_t w, struct aplan *ap, uint64_t n)
{
	uint64_t first = p2m_window_slot(w);
	struct p2m_window old = { 0, 0 };
	bool privs[SLOTS_PER_WINDOW], shared = false;
	unsigned upto = 0;
	int rc;

	rc = adopt_prepare(p, w, ap, n);
	if (rc)
		return rc;
	ap->table_used = ap->mid_taken = false;
	p->plat.lock(p->plat.ctx);
	p2m_gen_begin(p);
	rc = p2m_install_window_locked(p, w, ap->table, ap->mid, P2M_SLOT_MISSING, ap->leaves,
				       &ap->mid_taken);
	if (rc == 0) {
		ap->table_used = true;
		rc = p2m_map_window_leaves(p, w, ap->kinds, ap->leaves, &upto);
		if (rc) {
			for (unsigned i = 0; i < SLOTS_PER_WINDOW; i++)
				privs[i] = ap->kinds[i] == P2M_SLOT_PRIVATE;
			give_up_window_locked(p, w, privs, upto, &old, &shared);
			if (!shared)
				ap->table_used = true;
		} else {
			for (unsigned i = 0; i < SLOTS_PER_WINDOW; i++)
				if (ap->kinds[i] != P2M_SLOT_MISSING)
					set_slot_kind(p, first + i, ap->kinds[i]);
			p->nr_private_leaves += ap->nprivate;
		}
	}
	p2m_gen_end(p);
	p->plat.unlock(p->plat.ctx);
	if (shared) {
		free_given_up(p, &old, ap->mid, &ap->mid_taken);
		ap->table_used = false;
		ap->table = 0;
	}
	if (!ap->table_used && ap->table)
		p2m_free_table(p, ap->table);
	if (!ap->mid_taken)
		p2m_free_frames(p, 1, &ap->mid);
	return rc;
}

/* Undo a window hung by this call: its adopted leaves go back to the
 * caller, identity slots to missing. */
static void unadopt_window(struct p2m *p, uint64_t w)
{
	uint64_t first = p2m_window_slot(w);
	struct p2m_window old = { 0, 0 };
	bool privs[SLOTS_PER_WINDOW], shared = false;
	unsigned nprivate = 0;

	if (window_shared(p, w)) {
		char msg[sizeof(p->error)];
		int rc;

		if (slot_kind(p, first) == P2M_SLOT_MISSING)
			return;
		__builtin_memcpy(msg, p->error, sizeof(msg));
		rc = p2m_join_window(p, w, P2M_SLOT_MISSING);
		__builtin_memcpy(p->error, msg, sizeof(msg));
		if (rc == 0)
			return;
		/* The shared identity leaf reads ~0 like the missing one. */
		p->plat.lock(p->plat.ctx);
		for (unsigned i = 0; i < SLOTS_PER_WINDOW; i++)
			set_slot_kind(p, first + i, P2M_SLOT_MISSING);
		p->plat.unlock(p->plat.ctx);
		return;
	}
	p->plat.lock(p->plat.ctx);
	p2m_gen_begin(p);
	/* Kind bytes first, as a join: a reader that then finds ~0 reads
	 * missing. */
	for (unsigned i = 0; i < SLOTS_PER_WINDOW; i++) {
		privs[i] = slot_kind(p, first + i) == P2M_SLOT_PRIVATE;
		nprivate += privs[i];
		set_slot_kind(p, first + i, P2M_SLOT_MISSING);
	}
	p->nr_private_leaves -= nprivate;
	give_up_window_locked(p, w, privs, SLOTS_PER_WINDOW, &old, &shared);
	p2m_gen_end(p);
	p->plat.unlock(p->plat.ctx);
	if (shared)
		free_given_up(p, &old, 0, NULL);
}

static void unadopt(struct p2m *p, uint64_t nwin)
{
	for (uint64_t w = 0; w < nwin; w++)
		unadopt_window(p, w);
}

/* Window w: classify, then share or adopt it; *top as in build.c. */
static int adopt_one(struct p2m *p, uint64_t w, const uint64_t *initial,
		     const xen_pfn_t *frames, uint64_t n, uint64_t *top)
{
	struct aplan ap;
	uint64_t first = p2m_window_slot(w);
	int rc;

	rc = adopt_classify(p, w, initial, frames, n, &ap);
	if (rc)
		return rc;
	if (ap.nprivate == 0 && ap.nidentity == 0)
		return 0;
	if (ap.nidentity == SLOTS_PER_WINDOW)
		return p2m_join_window(p, w, P2M_SLOT_IDENTITY);
	rc = adopt_window(p, w, &ap, n);
	if (rc)
		return rc;
	for (unsigned i = 0; i < SLOTS_PER_WINDOW; i++) {
		uint64_t base = p2m_slot_pfn(first + i), t;

		if (ap.kinds[i] != P2M_SLOT_PRIVATE)
			continue;
		t = p2m_build_populated_top(initial, base, slot_count(n, base));
		if (t > *top)
			*top = t;
	}
	return 0;
}

/* After success: the frames of pages that did not become leaves go back
 * to the platform, in batches. */
static void free_uniform(struct p2m *p, const xen_pfn_t *frames, uint64_t npages)
{
	xen_pfn_t batch[64];
	size_t nb = 0;

	for (uint64_t k = 0; k < npages; k++) {
		if (slot_kind(p, k) == P2M_SLOT_PRIVATE)
			continue;
		batch[nb++] = frames[k];
		if (nb == sizeof(batch) / sizeof(batch[0])) {
			p2m_free_frames(p, nb, batch);
			nb = 0;
		}
	}
	p2m_free_frames(p, nb, batch);
}

static int adopt_check(struct p2m *p, const uint64_t *initial, const xen_pfn_t *frames,
		       uint64_t n)
{
	uint64_t npages = p2m_slots_for(n);
	int rc = p2m_refuse_suspended(p, "p2m_build_adopt");

	if (rc)
		return rc;
	if (!initial || !frames)
		return p2m_fail(p, P2M_EINVAL, "no initial list or no frames given");
	if (n > p->capacity)
		return p2m_fail(p, P2M_ERANGE, "initial list of %#llx entries exceeds the capacity %#llx",
				(unsigned long long)n, (unsigned long long)p->capacity);
	if (__atomic_load_n(&p->arch, __ATOMIC_ACQUIRE))
		return p2m_fail(p, P2M_EBUSY,
				"p2m_build_adopt needs an unpublished P2M (call it before p2m_publish)");
	for (uint64_t k = 0; k < npages; k++)
		if (frames[k] == 0)
			return p2m_fail(p, P2M_EINVAL, "frame of page %#llx of the list is 0",
					(unsigned long long)k);
	return p2m_build_need_missing(p, n, "p2m_build_adopt");
}

int p2m_build_adopt(struct p2m *p, const uint64_t *initial, const xen_pfn_t *frames, uint64_t n)
{
	uint64_t nwin, top = 0;
	int rc;

	if (n == 0)
		return 0;
	rc = adopt_check(p, initial, frames, n);
	if (rc)
		return rc;
	nwin = (n + P2M_PER_WINDOW - 1) >> P2M_WINDOW_SHIFT;
	for (uint64_t w = 0; w < nwin; w++) {
		rc = adopt_one(p, w, initial, frames, n, &top);
		if (rc) {
			unadopt(p, w + 1);
			return rc;
		}
	}
	/* Published only now: a failed build must not have raised it. */
	if (top)
		p2m_note_pfn(p, top - 1);
	free_uniform(p, frames, p2m_slots_for(n));
	return 0;
}
