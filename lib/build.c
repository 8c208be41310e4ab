/*
 * Building the list from a flat initial list, as the boot does with the
 * list Xen handed over (start_info.mfn_list).
 *
 * Window by window: each 512-entry slot is classified (all missing, all
 * identity values of its own pfns, or anything else = private); a window
 * whose slots are all missing or all identity maps a shared table and
 * costs nothing. Otherwise the window gets a table and a frame list, and
 * its private leaves are allocated, filled with one copy each through a
 * view, and only then mapped in runs of consecutive slots: a reader never
 * sees a leaf that is not filled. A RAM slot is recognised from its first
 * entry and validated with one OR over the slot, so the common case is a
 * check and a memcpy.
 *
 * Failure. Every frame of a window is named in a local plan, so a failure
 * frees them without reading anything back through the platform. A window
 * whose leaves failed to map goes back to the shared table; if even that
 * mapping change fails, it is cleared in place (private leaves hold ~0
 * again), so every pfn reads missing as before the build.
 *
 * Retry. What a failure could not give back serves the next build: a
 * frame list left mapped ("parked", lib/window.c) is hung again with this
 * build's leaves named in it (p2m_install_window_locked copies them), and
 * a window left private but reading missing is given back to the shared
 * missing table before anything else (p2m_build_need_missing).
 */
#include "internal.h"

/* Classify the cnt (<= 512) entries at v, which start at pfn base
 * (adopt.c shares it: internal.h). */
int p2m_build_classify(struct p2m *p, const uint64_t *v, uint64_t base, uint64_t cnt,
		       uint8_t *kind)
{
	uint64_t or = 0;

	if (v[0] == P2M_INVALID || v[0] == p2m_identity_entry(base)) {
		bool missing = v[0] == P2M_INVALID;
		uint64_t i;

		for (i = 1; i < cnt; i++)
			if (v[i] != (missing ? P2M_INVALID : p2m_identity_entry(base + i)))
				break;
		if (i == cnt && (missing || cnt == P2M_PER_PAGE)) {
			*kind = missing ? P2M_SLOT_MISSING : P2M_SLOT_IDENTITY;
			return 0;
		}
	}
	*kind = P2M_SLOT_PRIVATE;
	for (uint64_t i = 0; i < cnt; i++)
		or |= v[i];
	if ((or & ~(P2M_MFN_LIMIT - 1)) == 0)
		return 0; /* plain mfns only */
	for (uint64_t i = 0; i < cnt; i++)
		if (!p2m_value_ok(base + i, v[i]))
			return p2m_fail(p, P2M_EINVAL,
					"initial list: value %#llx at pfn %#llx is no mfn below %#llx, ~0, its identity or a foreign entry",
					(unsigned long long)v[i], (unsigned long long)(base + i),
					(unsigned long long)P2M_MFN_LIMIT);
	return 0;
}

/* What build_window() decided and allocated for one window. */
struct wplan {
	uint8_t kinds[SLOTS_PER_WINDOW];
	xen_pfn_t leaves[SLOTS_PER_WINDOW]; /* private leaf, or the shared one */
	unsigned nprivate, nidentity;
	xen_pfn_t table, mid;
	bool table_used, mid_taken;
	bool kept[SLOTS_PER_WINDOW];        /* leaf i belongs to the P2M now */
	xen_pfn_t old_mid; /* a parked frame list the undo released */
};

/* Allocate the window's private leaves into wp->leaves, in runs; on
 * failure none is left allocated. */
static int alloc_leaves(struct p2m *p, uint64_t w, struct wplan *wp)
{
	for (unsigned i = 0; i < SLOTS_PER_WINDOW;) {
		unsigned run = 0;

		if (wp->kinds[i] != P2M_SLOT_PRIVATE) {
			wp->leaves[i] = p->shared_leaf[wp->kinds[i]];
			i++;
			continue;
		}
		while (i + run < SLOTS_PER_WINDOW && wp->kinds[i + run] == P2M_SLOT_PRIVATE)
			run++;
		if (p->plat.alloc_frames(p->plat.ctx, run, &wp->leaves[i])) {
			for (unsigned j = 0; j < i; j++)
				if (wp->kinds[j] == P2M_SLOT_PRIVATE)
					p2m_free_frames(p, 1, &wp->leaves[j]);
			return p2m_fail(p, P2M_ENOMEM, "cannot allocate %u leaves for window %llu",
					run, (unsigned long long)w);
		}
		i += run;
	}
	return 0;
}

/* Fill the frame list and every private leaf through views, before any
 * of them is mapped: a reader never sees a leaf that is not filled. */
static int fill_frames(struct p2m *p, uint64_t w, const struct wplan *wp,
		       const uint64_t *initial, uint64_t n)
{
	uint64_t *v = p->plat.frame_map(p->plat.ctx, wp->mid);

	if (!v)
		return p2m_fail(p, P2M_EMAP, "cannot map frame list %#lx to fill it", wp->mid);
	__builtin_memcpy(v, wp->leaves, sizeof(wp->leaves));
	p->plat.frame_unmap(p->plat.ctx, v);
	for (unsigned i = 0; i < SLOTS_PER_WINDOW; i++) {
		uint64_t base = p2m_slot_pfn(p2m_window_slot(w) + i);
		uint64_t cnt = n - base < P2M_PER_PAGE ? n - base : P2M_PER_PAGE;

		if (wp->kinds[i] != P2M_SLOT_PRIVATE)
			continue;
		v = p->plat.frame_map(p->plat.ctx, wp->leaves[i]);
		if (!v)
			return p2m_fail(p, P2M_EMAP, "cannot map leaf %#lx to fill it", wp->leaves[i]);
		__builtin_memcpy(v, initial + base, cnt * sizeof(uint64_t));
		for (uint64_t j = cnt; j < P2M_PER_PAGE; j++)
			v[j] = P2M_INVALID;
		p->plat.frame_unmap(p->plat.ctx, v);
	}
	return 0;
}

/* Under the lock: map window w's leaves. *upto: the slots below it are
 * mapped (all of them on success). */
int p2m_map_window_leaves(struct p2m *p, uint64_t w, const uint8_t *kinds, const xen_pfn_t *leaves,
			  unsigned *upto)
{
	uint64_t first = p2m_window_slot(w);

	for (unsigned i = 0; i < SLOTS_PER_WINDOW;) {
		unsigned run = 0;
		uint8_t k = kinds[i];

		*upto = i;
		if (k == P2M_SLOT_MISSING) { /* the table maps it already */
			i++;
			continue;
		}
		while (i + run < SLOTS_PER_WINDOW && kinds[i + run] == k &&
		       (k == P2M_SLOT_PRIVATE || run == 0))
			run++;
		if (p->plat.map_frames(p->plat.ctx, slot_va(p, first + i), run, &leaves[i],
				       k == P2M_SLOT_PRIVATE ? P2M_MAP_RW : P2M_MAP_RO))
			return p2m_fail(p, P2M_EMAP, "cannot map %u leaves at slot %#llx", run,
					(unsigned long long)(first + i));
		i += run;
	}
	*upto = SLOTS_PER_WINDOW;
	return 0;
}

/*
 * Under the lock, after a leaf mapping failed in the hung window w: take
 * it back to the shared missing table. If even that fails the window
 * stays private and is made to read missing again without a mapping
 * change: the leaves mapped so far are cleared and stay as private slots,
 * the frame list forgets the slots not mapped yet (they show the missing
 * leaf of the table), whose leaves are freed.
 */
static void unbuild_window(struct p2m *p, uint64_t w, struct wplan *wp, unsigned upto)
{
	uint64_t first = p2m_window_slot(w);
	struct p2m_window old;

	char msg[sizeof(p->error)];

	/* The leaf's failure is what the caller reports. */
	__builtin_memcpy(msg, p->error, sizeof(msg));
	p2m_uninstall_window_locked(p, w, P2M_SLOT_MISSING, &old);
	__builtin_memcpy(p->error, msg, sizeof(msg));
	if (window_shared(p, w)) {
		wp->table_used = false;
		if (old.mid == wp->mid)
			wp->mid_taken = false;
		else if (old.mid)
			wp->old_mid = old.mid;
		return;
	}
	for (unsigned i = 0; i < SLOTS_PER_WINDOW; i++) {
		if (i < upto && wp->kinds[i] == P2M_SLOT_PRIVATE) {
			p2m_slot_keep_cleared_locked(p, first + i);
			wp->kept[i] = true;
		} else if (i >= upto && wp->kinds[i] != P2M_SLOT_MISSING) {
			p2m_slot_forget_leaf_locked(p, first + i);
		}
	}
}

/* After the lock is dropped: free what the window did not keep. */
static void build_release(struct p2m *p, struct wplan *wp)
{
	if (!wp->table_used)
		p2m_free_table(p, wp->table);
	if (!wp->mid_taken)
		p2m_free_frames(p, 1, &wp->mid);
	if (wp->old_mid)
		p2m_free_frames(p, 1, &wp->old_mid);
	for (unsigned i = 0; i < SLOTS_PER_WINDOW; i++)
		if (wp->kinds[i] == P2M_SLOT_PRIVATE && !wp->kept[i])
			p2m_free_frames(p, 1, &wp->leaves[i]);
}

/* For both builds, outside the lock: a table for window w whose entries
 * all map the shared missing leaf, and a frame list (not yet filled). On
 * failure nothing is left allocated. */
int p2m_alloc_window_frames(struct p2m *p, uint64_t w, xen_pfn_t *table, xen_pfn_t *mid)
{
	xen_pfn_t f[2];

	if (p->plat.alloc_frames(p->plat.ctx, 2, f))
		return p2m_fail(p, P2M_ENOMEM, "cannot allocate a table for window %llu",
				(unsigned long long)w);
	if (p->plat.make_table(p->plat.ctx, f[0], p->shared_leaf[P2M_SLOT_MISSING])) {
		p2m_free_frames(p, 2, f);
		return p2m_fail(p, P2M_EMAP, "cannot make frame %#lx a table", f[0]);
	}
	*table = f[0];
	*mid = f[1];
	return 0;
}

/* Allocate and fill the table, the frame list and the leaves of a window
 * with private slots, outside the lock. On failure nothing is left. */
static int build_prepare(struct p2m *p, uint64_t w, struct wplan *wp, const uint64_t *initial,
			 uint64_t n)
{
	int rc = p2m_alloc_window_frames(p, w, &wp->table, &wp->mid);

	if (rc)
		return rc;
	rc = alloc_leaves(p, w, wp);
	if (rc) {
		p2m_free_table(p, wp->table);
		p2m_free_frames(p, 1, &wp->mid);
		return rc;
	}
	rc = fill_frames(p, w, wp, initial, n);
	if (rc)
		build_release(p, wp);
	return rc;
}

/* Under the lock: hang window w with its leaves, or leave every value as
 * it was. */
static int build_commit(struct p2m *p, uint64_t w, struct wplan *wp)
{
	unsigned upto = 0;
	int rc;

	rc = p2m_install_window_locked(p, w, wp->table, wp->mid, P2M_SLOT_MISSING, wp->leaves,
				       &wp->mid_taken);
	if (rc)
		return rc;
	wp->table_used = true;
	rc = p2m_map_window_leaves(p, w, wp->kinds, wp->leaves, &upto);
	if (rc) {
		unbuild_window(p, w, wp, upto);
		return rc;
	}
	p2m_window_settle_locked(p, w, wp->kinds);
	for (unsigned i = 0; i < SLOTS_PER_WINDOW; i++)
		wp->kept[i] = wp->kinds[i] != P2M_SLOT_MISSING;
	return 0;
}

/* A RAM or foreign value: what max_pfn must cover (identity does not). */
static bool populated(uint64_t v)
{
	return v != P2M_INVALID && (v & P2M_TAG_MASK) != P2M_IDENTITY_BIT;
}

/* One past the highest populated pfn of [base, base + cnt), or 0. */
uint64_t p2m_build_populated_top(const uint64_t *initial, uint64_t base, uint64_t cnt)
{
	for (uint64_t j = cnt; j > 0; j--)
		if (populated(initial[base + j - 1]))
			return base + j;
	return 0;
}

/* *top is raised to one past the window's highest populated pfn. */
static int build_window(struct p2m *p, uint64_t w, const uint64_t *initial, uint64_t n,
			uint64_t *top)
{
	struct wplan wp = { .nprivate = 0 };
	uint64_t first = p2m_window_slot(w);
	int rc;

	for (unsigned i = 0; i < SLOTS_PER_WINDOW; i++) {
		uint64_t base = p2m_slot_pfn(first + i);

		wp.kinds[i] = P2M_SLOT_MISSING;
		if (base < n) {
			rc = p2m_build_classify(p, initial + base, base,
						n - base < P2M_PER_PAGE ? n - base : P2M_PER_PAGE,
						&wp.kinds[i]);
			if (rc)
				return rc;
		}
		wp.nprivate += wp.kinds[i] == P2M_SLOT_PRIVATE;
		wp.nidentity += wp.kinds[i] == P2M_SLOT_IDENTITY;
	}
	if (wp.nprivate == 0 && wp.nidentity == 0)
		return 0;
	if (wp.nidentity == SLOTS_PER_WINDOW)
		return p2m_join_window(p, w, P2M_SLOT_IDENTITY);

	rc = build_prepare(p, w, &wp, initial, n);
	if (rc)
		return rc;
	p->plat.lock(p->plat.ctx);
	p2m_gen_begin(p);
	rc = build_commit(p, w, &wp);
	p2m_gen_end(p);
	p->plat.unlock(p->plat.ctx);
	build_release(p, &wp);
	if (rc)
		return rc;
	for (unsigned i = 0; i < SLOTS_PER_WINDOW; i++) {
		uint64_t base = p2m_slot_pfn(first + i), t;

		if (wp.kinds[i] != P2M_SLOT_PRIVATE)
			continue;
		t = p2m_build_populated_top(initial, base,
					    n - base < P2M_PER_PAGE ? n - base : P2M_PER_PAGE);
		if (t > *top)
			*top = t;
	}
	return 0;
}

/* Whether every pfn of window w reads missing. */
static bool window_reads_missing(struct p2m *p, uint64_t w)
{
	uint64_t first = p2m_window_slot(w);

	if (window_shared(p, w))
		return slot_kind(p, first) == P2M_SLOT_MISSING;
	for (unsigned i = 0; i < SLOTS_PER_WINDOW; i++) {
		uint8_t k = slot_kind(p, first + i);
		const uint64_t *leaf = slot_va(p, first + i);

		if (k == P2M_SLOT_IDENTITY)
			return false;
		for (unsigned j = 0; k == P2M_SLOT_PRIVATE && j < P2M_PER_PAGE; j++)
			if (leaf[j] != P2M_INVALID)
				return false;
	}
	return true;
}

int p2m_build_need_missing(struct p2m *p, uint64_t n, const char *call)
{
	for (uint64_t w = 0; w < p2m_windows_for(n); w++) {
		int rc;

		if (window_shared(p, w) && slot_kind(p, p2m_window_slot(w)) == P2M_SLOT_MISSING)
			continue;
		if (!window_reads_missing(p, w))
			return p2m_fail(p, P2M_EBUSY, "%s needs pfns [0, %#llx) all missing; window %llu is not",
					call, (unsigned long long)n, (unsigned long long)w);
		/* Private but all missing: what a failed build could not give
		 * back (or a prepared window). Give it back now. */
		rc = p2m_join_window(p, w, P2M_SLOT_MISSING);
		if (!window_shared(p, w))
			return rc;
	}
	return 0;
}

/* Give back the windows [0, nwin) a failed build filled. */
static void unbuild(struct p2m *p, uint64_t nwin)
{
	char msg[sizeof(p->error)];

	__builtin_memcpy(msg, p->error, sizeof(msg));
	for (uint64_t w = 0; w < nwin; w++) {
		if (p2m_join_window(p, w, P2M_SLOT_MISSING) == 0)
			continue;
		p->plat.lock(p->plat.ctx);
		p2m_window_clear_locked(p, w);
		p->plat.unlock(p->plat.ctx);
	}
	__builtin_memcpy(p->error, msg, sizeof(msg));
}

int p2m_build(struct p2m *p, const uint64_t *initial, uint64_t n)
{
	uint64_t nwin, top = 0;
	int rc;

	if (n == 0)
		return 0;
	rc = p2m_refuse_suspended(p, "p2m_build");
	if (rc)
		return rc;
	if (!initial)
		return p2m_fail(p, P2M_EINVAL, "no initial list given");
	if (n > p->capacity)
		return p2m_fail(p, P2M_ERANGE, "initial list of %#llx entries exceeds the capacity %#llx",
				(unsigned long long)n, (unsigned long long)p->capacity);
	if (__atomic_load_n(&p->arch, __ATOMIC_ACQUIRE))
		return p2m_fail(p, P2M_EBUSY,
				"p2m_build needs an unpublished P2M (call it before p2m_publish)");
	rc = p2m_build_need_missing(p, n, "p2m_build");
	if (rc)
		return rc;
	nwin = p2m_windows_for(n);
	for (uint64_t w = 0; w < nwin; w++) {
		rc = build_window(p, w, initial, n, &top);
		if (rc) {
			unbuild(p, w + 1);
			return rc;
		}
	}
	/* Published only now: a failed build must not have raised it. */
	if (top)
		p2m_note_pfn(p, top - 1);
	return 0;
}
