/*
 * Building the list from a flat initial list, as the boot does with the
 * list Xen handed over (start_info.mfn_list).
 *
 * Window by window: each 512-entry slot is classified (all missing, all
 * identity values of its own pfns, or anything else = private); a window
 * whose slots are all missing or all identity maps a shared table and
 * costs nothing. Otherwise the window gets a table and a frame list, its
 * private leaves are allocated straight into the frame list, mapped in
 * runs of consecutive slots and filled with one copy each. A RAM slot is
 * recognised from its first entry and validated with one OR over the
 * slot, so the common case is a check and a memcpy.
 */
#include "internal.h"

/* Classify the cnt (<= 512) entries at v, which start at pfn base. */
static int classify(struct p2m *p, const uint64_t *v, uint64_t base, uint64_t cnt,
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

/* Free the leaves already allocated into a frame list view. */
static void free_leaves(struct p2m *p, const uint64_t *mid, const uint8_t *kinds, unsigned upto)
{
	for (unsigned i = 0; i < upto; i++)
		if (kinds[i] == P2M_SLOT_PRIVATE)
			p2m_free_frames(p, 1, (const xen_pfn_t *)&mid[i]);
}

/* Allocate window w's frames; on success the frame list at mid (a view)
 * names every slot's leaf. */
static int alloc_window(struct p2m *p, uint64_t w, const uint8_t *kinds, uint64_t *mid)
{
	for (unsigned i = 0; i < SLOTS_PER_WINDOW;) {
		unsigned run = 0;

		if (kinds[i] != P2M_SLOT_PRIVATE) {
			mid[i] = p->shared_leaf[kinds[i]];
			i++;
			continue;
		}
		while (i + run < SLOTS_PER_WINDOW && kinds[i + run] == P2M_SLOT_PRIVATE)
			run++;
		if (p->plat.alloc_frames(p->plat.ctx, run, (xen_pfn_t *)&mid[i])) {
			free_leaves(p, mid, kinds, i);
			return p2m_fail(p, P2M_ENOMEM, "cannot allocate %u leaves for window %llu",
					run, (unsigned long long)w);
		}
		i += run;
	}
	return 0;
}

/* Under the lock: map window w's leaves (named in its mapped frame list). */
static int map_window_leaves(struct p2m *p, uint64_t w, const uint8_t *kinds)
{
	uint64_t first = w << P2M_SLOT_SHIFT;
	const uint64_t *mid = mid_va(p, w);

	for (unsigned i = 0; i < SLOTS_PER_WINDOW;) {
		unsigned run = 0;
		unsigned flags = kinds[i] == P2M_SLOT_PRIVATE ? P2M_MAP_RW : P2M_MAP_RO;

		if (kinds[i] == P2M_SLOT_MISSING) { /* the table maps it already */
			i++;
			continue;
		}
		while (i + run < SLOTS_PER_WINDOW && kinds[i + run] == kinds[i] &&
		       (kinds[i] == P2M_SLOT_PRIVATE || run == 0))
			run++;
		if (p->plat.map_frames(p->plat.ctx, slot_va(p, first + i), run,
				       (const xen_pfn_t *)&mid[i], flags))
			return p2m_fail(p, P2M_EMAP, "cannot map %u leaves at slot %#llx", run,
					(unsigned long long)(first + i));
		i += run;
	}
	return 0;
}

/* A RAM or foreign value: what max_pfn must cover (identity does not). */
static bool populated(uint64_t v)
{
	return v != P2M_INVALID && (v & P2M_TAG_MASK) != P2M_IDENTITY_BIT;
}

/* *top is raised to one past the window's highest populated pfn. */
static int build_window(struct p2m *p, uint64_t w, const uint64_t *initial, uint64_t n,
			uint64_t *top)
{
	uint8_t kinds[SLOTS_PER_WINDOW];
	uint64_t first = w << P2M_SLOT_SHIFT;
	unsigned nprivate = 0, nidentity = 0;
	xen_pfn_t f[2]; /* table, frame list */
	uint64_t *view;
	int rc;

	for (unsigned i = 0; i < SLOTS_PER_WINDOW; i++) {
		uint64_t base = (first + i) << P2M_SLOT_SHIFT;

		kinds[i] = P2M_SLOT_MISSING;
		if (base < n) {
			rc = classify(p, initial + base, base,
				      n - base < P2M_PER_PAGE ? n - base : P2M_PER_PAGE, &kinds[i]);
			if (rc)
				return rc;
		}
		nprivate += kinds[i] == P2M_SLOT_PRIVATE;
		nidentity += kinds[i] == P2M_SLOT_IDENTITY;
	}
	if (nprivate == 0 && nidentity == 0)
		return 0;
	if (nidentity == SLOTS_PER_WINDOW)
		return p2m_join_window(p, w, P2M_SLOT_IDENTITY);

	if (p->plat.alloc_frames(p->plat.ctx, 2, f))
		return p2m_fail(p, P2M_ENOMEM, "cannot allocate a table for window %llu",
				(unsigned long long)w);
	if (p->plat.make_table(p->plat.ctx, f[0], p->shared_leaf[P2M_SLOT_MISSING])) {
		p2m_free_frames(p, 2, f);
		return p2m_fail(p, P2M_EMAP, "cannot make frame %#lx a table", f[0]);
	}
	view = p->plat.frame_map(p->plat.ctx, f[1]);
	if (!view) {
		rc = p2m_fail(p, P2M_EMAP, "cannot map frame list %#lx", f[1]);
		goto fail_table;
	}
	rc = alloc_window(p, w, kinds, view);
	p->plat.frame_unmap(p->plat.ctx, view);
	if (rc)
		goto fail_table;

	p->plat.lock(p->plat.ctx);
	p2m_gen_begin(p);
	rc = p2m_install_window_locked(p, w, f[0], f[1], P2M_SLOT_MISSING);
	if (!rc) {
		rc = map_window_leaves(p, w, kinds);
		if (!rc) {
			for (unsigned i = 0; i < SLOTS_PER_WINDOW; i++)
				if (kinds[i] == P2M_SLOT_IDENTITY)
					set_slot_kind(p, first + i, P2M_SLOT_IDENTITY);
			p->nr_private_leaves += nprivate;
		}
	}
	p2m_gen_end(p);
	p->plat.unlock(p->plat.ctx);
	if (rc) {
		/* The window was hung: give everything back through a join. The
		 * private slots still read as missing, so it frees their leaves. */
		if (!window_shared(p, w)) {
			for (unsigned i = 0; i < SLOTS_PER_WINDOW; i++)
				if (kinds[i] == P2M_SLOT_PRIVATE)
					set_slot_kind(p, first + i, P2M_SLOT_PRIVATE);
			p->nr_private_leaves += nprivate;
			p2m_join_window(p, w, P2M_SLOT_MISSING);
			return rc;
		}
		view = p->plat.frame_map(p->plat.ctx, f[1]);
		if (view) {
			free_leaves(p, view, kinds, SLOTS_PER_WINDOW);
			p->plat.frame_unmap(p->plat.ctx, view);
		}
		goto fail_table;
	}

	/* Fill the private leaves, then let readers see them as private. */
	for (unsigned i = 0; i < SLOTS_PER_WINDOW; i++) {
		uint64_t base = (first + i) << P2M_SLOT_SHIFT;
		uint64_t cnt, *leaf = slot_va(p, first + i);

		if (kinds[i] != P2M_SLOT_PRIVATE)
			continue;
		cnt = n - base < P2M_PER_PAGE ? n - base : P2M_PER_PAGE;
		__builtin_memcpy(leaf, initial + base, cnt * sizeof(uint64_t));
		for (uint64_t j = cnt; j < P2M_PER_PAGE; j++)
			leaf[j] = P2M_INVALID;
		set_slot_kind(p, first + i, P2M_SLOT_PRIVATE);
		for (uint64_t j = cnt; j > 0; j--)
			if (populated(initial[base + j - 1])) {
				if (base + j > *top)
					*top = base + j;
				break;
			}
	}
	return 0;

fail_table:
	p2m_free_table(p, f[0]);
	p2m_free_frames(p, 1, &f[1]);
	return rc;
}

int p2m_build(struct p2m *p, const uint64_t *initial, uint64_t n)
{
	uint64_t nwin, top = 0;
	int rc;

	if (n == 0)
		return 0;
	if (!initial)
		return p2m_fail(p, P2M_EINVAL, "no initial list given");
	if (n > p->capacity)
		return p2m_fail(p, P2M_ERANGE, "initial list of %#llx entries exceeds the capacity %#llx",
				(unsigned long long)n, (unsigned long long)p->capacity);
	nwin = (n + P2M_PER_WINDOW - 1) >> P2M_WINDOW_SHIFT;
	for (uint64_t w = 0; w < nwin; w++)
		if (!window_shared(p, w) || slot_kind(p, w << P2M_SLOT_SHIFT) != P2M_SLOT_MISSING)
			return p2m_fail(p, P2M_EBUSY,
					"p2m_build needs pfns [0, %#llx) all missing; window %llu is not",
					(unsigned long long)n, (unsigned long long)w);
	for (uint64_t w = 0; w < nwin; w++) {
		rc = build_window(p, w, initial, n, &top);
		if (rc) {
			char msg[sizeof(p->error)];

			__builtin_memcpy(msg, p->error, sizeof(msg));
			p2m_set_range_missing(p, 0, w << P2M_WINDOW_SHIFT);
			__builtin_memcpy(p->error, msg, sizeof(msg));
			return rc;
		}
	}
	/* Published only now: a failed build must not have raised it. */
	if (top)
		p2m_note_pfn(p, top - 1);
	return 0;
}
